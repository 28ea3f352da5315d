/*-------------------------------------------------------------------------
 *
 * push_subscribe.c
 *		The SQL side of push subscriptions: subscribe_sns, subscribe_http,
 *		unsubscribe_push and push_secret.
 *
 * A push subscription is built from what pgmsg already has, so a publish
 * to it is exactly as transactional as to any queue: a queue
 * pgmsg_push_<n> subscribed to the topic (with the filter policy and raw
 * delivery setting given, so publish does the filtering and wraps SNS's
 * envelope), a queue pgmsg_push_<n>_dlq for what cannot be delivered, and
 * a row of pgmsg.push_subscription saying where messages go.  Both queues
 * are created by and owned by the caller, through create_queue and
 * subscribe, so their privilege checks apply unchanged; the push worker
 * (push_worker.c) then moves messages out of the database.  Everything is
 * checked before anything is created, and it all happens in the caller's
 * transaction: an error leaves nothing behind.
 *
 * Removing one (unsubscribe_push, or drop_topic) drops its internal queue,
 * and its dead-letter queue unless that holds messages.
 *
 * Locking: none beyond what create_queue, subscribe and drop_queue take,
 * but for the dead-letter queue's table on removal (see drop_push_queues).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

#include "acl.h"
#include "catalog.h"
#include "push.h"
#include "topic.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(pgmsg_subscribe_sns);
PG_FUNCTION_INFO_V1(pgmsg_subscribe_http);
PG_FUNCTION_INFO_V1(pgmsg_unsubscribe_push_id);
PG_FUNCTION_INFO_V1(pgmsg_unsubscribe_push);
PG_FUNCTION_INFO_V1(pgmsg_push_secret);

#define PUSH_QUEUE_VISIBILITY	"30 seconds"
#define PUSH_QUEUE_RETENTION	"14 days"

static bool
bool_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return PG_GETARG_BOOL(argno);
}

/*
 * Refuse a second push subscription of a topic to the same target.  The
 * caller may be any role allowed to subscribe: the lookup runs as the
 * owner of pgmsg's tables.
 */
static void
check_not_subscribed(const char *topic, const char *endpoint)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	Oid			save_userid;
	int			save_sec;
	int			ret;

	args[0] = CStringGetTextDatum(topic);
	args[1] = CStringGetTextDatum(endpoint);
	pgmsg_become_owner(&save_userid, &save_sec);
	ret = SPI_execute_with_args("SELECT 1 FROM pgmsg.push_subscription p"
							  "  JOIN pgmsg.subscription s USING (subscription_id)"
							  "  JOIN pgmsg.topic_meta t USING (topic_id)"
							  " WHERE t.name OPERATOR(pg_catalog.=) $1"
							  "   AND p.endpoint OPERATOR(pg_catalog.=) $2",
							  2, argtypes, args, NULL, true, 1);
	pgmsg_restore_user(save_userid, save_sec);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up push subscriptions");
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("topic \"%s\" already has a push subscription to \"%s\"",
						topic, endpoint),
				 errhint("Remove it with pgmsg.unsubscribe_push first to change it.")));
}

/*
 * Create the two queues and the subscription, then the push_subscription
 * row; returns the subscription id.  The caller has checked every
 * argument and is connected to SPI.
 */
static int64
create_push(FunctionCallInfo fcinfo, TopicInfo *ti, int policy_arg,
			const char *scope, bool raw, const char *protocol,
			const char *endpoint, const char *region, const char *endpoint_url,
			Jsonb *headers, const char *secret)
{
	Oid			save_userid;
	int			save_sec;
	int64		n;
	char	   *queue;
	char	   *dlq;
	bool		isnull;
	Oid			qtypes[3] = {TEXTOID, BOOLOID, TEXTOID};
	Datum		qargs[3];
	Oid			stypes[5] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID, BOOLOID};
	Datum		sargs[5];
	char		snulls[5] = {' ', ' ', 'n', ' ', ' '};
	Oid			itypes[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	JSONBOID, TEXTOID, TEXTOID};
	Datum		iargs[8];
	char		inulls[8] = {' ', ' ', ' ', 'n', 'n', 'n', 'n', ' '};
	int64		subscription_id;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute("SELECT pg_catalog.nextval('pgmsg.push_queue_seq')", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not name a push queue");
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	pgmsg_restore_user(save_userid, save_sec);
	queue = psprintf("pgmsg_push_" INT64_FORMAT, n);
	dlq = psprintf("pgmsg_push_" INT64_FORMAT "_dlq", n);

	/* as the caller: the queues are the caller's, and so are the checks */
	qargs[0] = CStringGetTextDatum(dlq);
	qargs[1] = BoolGetDatum(ti->fifo);
	qargs[2] = CStringGetTextDatum(queue);
	pgmsg_spi_exec("SELECT pgmsg.create_queue($1, retention => '" PUSH_QUEUE_RETENTION "',"
				   " fifo => $2)", 2, qtypes, qargs, SPI_OK_SELECT);
	qargs[0] = qargs[2];
	pgmsg_spi_exec("SELECT pgmsg.create_queue($1, visibility_timeout => '" PUSH_QUEUE_VISIBILITY "',"
				   " retention => '" PUSH_QUEUE_RETENTION "', fifo => $2)",
				   2, qtypes, qargs, SPI_OK_SELECT);

	sargs[0] = CStringGetTextDatum(ti->name);
	sargs[1] = CStringGetTextDatum(queue);
	if (!PG_ARGISNULL(policy_arg))
	{
		sargs[2] = PG_GETARG_DATUM(policy_arg);
		snulls[2] = ' ';
	}
	sargs[3] = CStringGetTextDatum(scope);
	sargs[4] = BoolGetDatum(raw);
	if (SPI_execute_with_args("SELECT pgmsg.subscribe($1, $2, $3, $4, $5)",
							  5, stypes, sargs, snulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not subscribe queue \"%s\"", queue);

	iargs[0] = CStringGetTextDatum(queue);
	iargs[1] = CStringGetTextDatum(protocol);
	iargs[2] = CStringGetTextDatum(endpoint);
	if (region)
	{
		iargs[3] = CStringGetTextDatum(region);
		inulls[3] = ' ';
	}
	if (endpoint_url)
	{
		iargs[4] = CStringGetTextDatum(endpoint_url);
		inulls[4] = ' ';
	}
	if (headers)
	{
		iargs[5] = JsonbPGetDatum(headers);
		inulls[5] = ' ';
	}
	if (secret)
	{
		iargs[6] = CStringGetTextDatum(secret);
		inulls[6] = ' ';
	}
	iargs[7] = CStringGetTextDatum(dlq);
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute_with_args("INSERT INTO pgmsg.push_subscription"
							  " (subscription_id, protocol, endpoint, region, endpoint_url,"
							  "  headers, secret, dead_letter_queue_id)"
							  " SELECT s.subscription_id, $2, $3, $4, $5, $6, $7, d.queue_id"
							  "   FROM pgmsg.subscription s"
							  "   JOIN pgmsg.queue_meta q USING (queue_id),"
							  "        pgmsg.queue_meta d"
							  "  WHERE q.name OPERATOR(pg_catalog.=) $1"
							  "    AND d.name OPERATOR(pg_catalog.=) $8"
							  " RETURNING subscription_id",
							  8, itypes, iargs, inulls, false, 0) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not record the push subscription");
	subscription_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	pgmsg_restore_user(save_userid, save_sec);

	/* the push worker starts, or rereads its subscriptions, at commit */
	xact_track_worker(false);
	pgmsg_catalog_invalidate();
	return subscription_id;
}

/*
 * pgmsg.subscribe_sns(topic, target_arn, region, endpoint_url,
 *					   filter_policy, filter_policy_scope, raw_message_delivery)
 */
Datum
pgmsg_subscribe_sns(PG_FUNCTION_ARGS)
{
	char	   *topic = pgmsg_text_arg(fcinfo, 0, "topic name");
	char	   *arn = pgmsg_text_arg(fcinfo, 1, "target_arn");
	char	   *region = pgmsg_text_arg(fcinfo, 2, "region");
	char	   *endpoint_url = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	char	   *scope = pgmsg_text_arg(fcinfo, 5, "filter_policy_scope");
	bool		raw = bool_arg(fcinfo, 6, "raw_message_delivery");
	bool		arn_fifo;
	TopicInfo  *ti;
	int64		id;

	pgmsg_refuse_in_recovery(gettext_noop("cannot subscribe to topic \"%s\" during recovery"), topic);
	if (!sns_valid_region(region))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid AWS region \"%s\"", region),
				 errhint("A region is written like \"us-east-1\" or \"eu-central-1\".")));
	sns_check_arn(arn, region, &arn_fifo);
	if (endpoint_url != NULL)
		webhook_check_url(endpoint_url, "endpoint_url");

	ti = pgmsg_topic_lookup(topic, false);
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_SUBSCRIBE);
	if (arn_fifo != ti->fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(arn_fifo ? "cannot push standard topic \"%s\" to FIFO SNS topic \"%s\""
						: "cannot push FIFO topic \"%s\" to standard SNS topic \"%s\"",
						topic, arn),
				 errdetail("A FIFO topic delivers to FIFO SNS topics only, and a standard topic to standard ones.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	check_not_subscribed(topic, arn);
	id = create_push(fcinfo, ti, 4, scope, raw, "sns", arn, region,
					 endpoint_url, NULL, NULL);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * pgmsg.subscribe_http(topic, url, filter_policy, filter_policy_scope,
 *						raw_message_delivery, headers, secret)
 */
Datum
pgmsg_subscribe_http(PG_FUNCTION_ARGS)
{
	char	   *topic = pgmsg_text_arg(fcinfo, 0, "topic name");
	char	   *url = pgmsg_text_arg(fcinfo, 1, "url");
	char	   *scope = pgmsg_text_arg(fcinfo, 3, "filter_policy_scope");
	bool		raw = bool_arg(fcinfo, 4, "raw_message_delivery");
	Jsonb	   *headers = PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5);
	char	   *secret = PG_ARGISNULL(6) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(6));
	TopicInfo  *ti;
	int64		id;

	pgmsg_refuse_in_recovery(gettext_noop("cannot subscribe to topic \"%s\" during recovery"), topic);
	webhook_check_url(url, "url");
	if (headers != NULL)
		webhook_check_headers(headers);
	if (secret != NULL)
	{
		uint8	   *key;
		int			keylen;

		if (secret[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("secret must not be empty"),
					 errhint("Leave it NULL to send unsigned requests.")));
		/* the secret itself is never shown back */
		if (!webhook_decode_secret(secret, &key, &keylen))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid webhook secret"),
					 errdetail("A Standard Webhooks secret is \"whsec_\" followed by 1 to 64 bytes in base64.")));
	}

	ti = pgmsg_topic_lookup(topic, false);
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_SUBSCRIBE);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	check_not_subscribed(topic, url);
	id = create_push(fcinfo, ti, 2, scope, raw, "https", url, NULL, NULL,
					 headers, secret);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * Drop a push subscription's internal queue, which removes the
 * subscription, and its dead-letter queue if that is empty.  Messages in
 * the dead-letter queue are the subscriber's record of what could not be
 * delivered: a dead-letter queue holding any stays, an ordinary queue from
 * then on, and a notice says so.  dlq is NULL if the subscriber dropped it
 * already.  as_owner: drop them as the extension's owner (drop_topic, whose
 * caller may drop the topic but not the subscribers' queues); otherwise
 * drop_queue checks the caller may.
 *
 * Locking: the dead-letter queue's table is locked first, in SHARE mode, as
 * the push worker locks it first when it dead-letters and then deletes from
 * the internal queue; once the lock is granted no dead-lettering is in
 * progress, and none can start before this transaction ends (the worker's
 * would then fail on the dropped internal queue and roll back).  Caller is
 * connected to SPI.
 */
static void
drop_push_queues(int64 subscription_id, const char *queue, const char *dlq,
				 bool as_owner)
{
	Oid			save_userid;
	int			save_sec;
	QueueInfo  *qi = dlq ? pgmsg_queue_lookup(dlq, true) : NULL;
	char	   *table = NULL;
	bool		keep = false;
	Oid			qtypes[1] = {TEXTOID};
	Datum		qargs[1];

	if (qi != NULL)
		table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(qi->relid)),
										   get_rel_name(qi->relid));
	pgmsg_become_owner(&save_userid, &save_sec);
	if (table != NULL)
	{
		bool		isnull;

		pgmsg_spi_exec(psprintf("LOCK TABLE %s IN SHARE MODE", table),
					   0, NULL, NULL, SPI_OK_UTILITY);
		pgmsg_spi_exec(psprintf("SELECT EXISTS (SELECT FROM %s)", table),
					   0, NULL, NULL, SPI_OK_SELECT);
		keep = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (!as_owner)
		pgmsg_restore_user(save_userid, save_sec);

	qargs[0] = CStringGetTextDatum(queue);
	pgmsg_spi_exec("SELECT pgmsg.drop_queue($1)", 1, qtypes, qargs, SPI_OK_SELECT);
	if (keep)
		ereport(NOTICE,
				(errmsg("dead-letter queue \"%s\" of push subscription " INT64_FORMAT " holds messages and is kept",
						dlq, subscription_id),
				 errhint("Receive from it or redrive it elsewhere, then drop it with pgmsg.drop_queue.")));
	else if (table != NULL)
	{
		qargs[0] = CStringGetTextDatum(dlq);
		pgmsg_spi_exec("SELECT pgmsg.drop_queue($1)", 1, qtypes, qargs, SPI_OK_SELECT);
	}
	if (as_owner)
		pgmsg_restore_user(save_userid, save_sec);
}

/*
 * Remove the push subscription chosen by where; false if there is none.
 */
static bool
drop_push(const char *where, int nargs, Oid *argtypes, Datum *args)
{
	Oid			save_userid;
	int			save_sec;
	bool		isnull;
	int64		id;
	char	   *queue;
	char	   *dlq;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute_with_args(psprintf("SELECT p.subscription_id, q.name, d.name FROM pgmsg.push_subscription p"
									   "  JOIN pgmsg.subscription s USING (subscription_id)"
									   "  JOIN pgmsg.topic_meta t USING (topic_id)"
									   "  JOIN pgmsg.queue_meta q ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
									   "  LEFT JOIN pgmsg.queue_meta d ON d.queue_id OPERATOR(pg_catalog.=) p.dead_letter_queue_id"
									   " WHERE %s", where),
							  nargs, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up a push subscription");
	pgmsg_restore_user(save_userid, save_sec);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	queue = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	dlq = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	drop_push_queues(id, queue, dlq, false);
	SPI_finish();
	return true;
}

/*
 * Called by drop_topic before the topic goes: remove its push
 * subscriptions as unsubscribe_push would, whoever owns them.
 */
void
pgmsg_push_drop_topic(int32 topic_id)
{
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	SPITupleTable *subs;
	uint64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int32GetDatum(topic_id);
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute_with_args("SELECT p.subscription_id, q.name, d.name FROM pgmsg.push_subscription p"
							  "  JOIN pgmsg.subscription s USING (subscription_id)"
							  "  JOIN pgmsg.queue_meta q ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
							  "  LEFT JOIN pgmsg.queue_meta d ON d.queue_id OPERATOR(pg_catalog.=) p.dead_letter_queue_id"
							  " WHERE s.topic_id OPERATOR(pg_catalog.=) $1"
							  " ORDER BY p.subscription_id",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not look up push subscriptions");
	pgmsg_restore_user(save_userid, save_sec);
	subs = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		drop_push_queues(DatumGetInt32(SPI_getbinval(subs->vals[i], subs->tupdesc, 1, &isnull)),
						 SPI_getvalue(subs->vals[i], subs->tupdesc, 2),
						 SPI_getvalue(subs->vals[i], subs->tupdesc, 3),
						 true);
	}
	SPI_finish();
}

/* pgmsg.unsubscribe_push(subscription_id) */
Datum
pgmsg_unsubscribe_push_id(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subscription_id must not be null")));
	pgmsg_refuse_in_recovery(gettext_noop("cannot remove push subscription \"%s\" during recovery"),
							 psprintf(INT64_FORMAT, PG_GETARG_INT64(0)));
	args[0] = PG_GETARG_DATUM(0);
	PG_RETURN_BOOL(drop_push("p.subscription_id OPERATOR(pg_catalog.=) $1",
							 1, argtypes, args));
}

/* pgmsg.unsubscribe_push(topic, endpoint): by topic and ARN or URL */
Datum
pgmsg_unsubscribe_push(PG_FUNCTION_ARGS)
{
	char	   *topic = pgmsg_text_arg(fcinfo, 0, "topic name");
	char	   *endpoint = pgmsg_text_arg(fcinfo, 1, "endpoint");
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	pgmsg_refuse_in_recovery(gettext_noop("cannot unsubscribe from topic \"%s\" during recovery"), topic);
	(void) pgmsg_topic_lookup(topic, false);
	args[0] = CStringGetTextDatum(topic);
	args[1] = CStringGetTextDatum(endpoint);
	PG_RETURN_BOOL(drop_push("t.name OPERATOR(pg_catalog.=) $1"
							 " AND p.endpoint OPERATOR(pg_catalog.=) $2",
							 2, argtypes, args));
}

/*
 * pgmsg.push_secret(subscription_id): the webhook secret, for the
 * subscription's owner and superusers only.
 */
Datum
pgmsg_push_secret(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	Oid			save_userid;
	int			save_sec;
	Oid			owner;
	bool		isnull;
	Datum		secret;
	bool		secret_null;
	text	   *result = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("subscription_id must not be null")));
	pgmsg_refuse_in_recovery(gettext_noop("cannot remove push subscription \"%s\" during recovery"),
							 psprintf(INT64_FORMAT, PG_GETARG_INT64(0)));
	args[0] = PG_GETARG_DATUM(0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute_with_args("SELECT s.owner, p.secret FROM pgmsg.push_subscription p"
							  "  JOIN pgmsg.subscription s USING (subscription_id)"
							  " WHERE p.subscription_id OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up a push subscription");
	pgmsg_restore_user(save_userid, save_sec);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("push subscription " INT64_FORMAT " does not exist",
						PG_GETARG_INT64(0))));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!superuser() && !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for push subscription " INT64_FORMAT,
						PG_GETARG_INT64(0)),
				 errdetail("Only the owner of a push subscription and superusers can read its secret.")));
	secret = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &secret_null);
	if (!secret_null)
	{
		result = (text *) SPI_palloc(VARSIZE_ANY(DatumGetPointer(secret)));
		memcpy(result, DatumGetPointer(secret), VARSIZE_ANY(DatumGetPointer(secret)));
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
