/*-------------------------------------------------------------------------
 *
 * topic.c
 *		Topics: create_topic, drop_topic, subscribe, unsubscribe, publish
 *		and publish_batch, and the per-backend cache of compiled
 *		subscriptions that publishing reads.
 *
 * A topic is a row of pgmsg.topic_meta; each subscription a row of
 * pgmsg.subscription linking it to a queue, with an optional SNS filter
 * policy (filter.c).  Publishing evaluates every policy of the topic
 * against the message and appends a copy to each matching queue through
 * the queue's own send path (send.c), in the caller's transaction: the
 * copies commit together or not at all, and each queue's cursor protocol
 * and wakeups work as for a send.
 *
 * Policies are validated and compiled when subscribing.  Each backend keeps
 * the topics it has published to in a hash table keyed by name, holding
 * the compiled subscription list, so publish runs no catalog query.  Every
 * change to topics, subscriptions, queues or grants goes through
 * pgmsg_catalog_invalidate, which moves every backend's catalog generation
 * on (catalog.c); a topic cache built at another generation is replaced on
 * its next lookup.  A replaced cache is only retired, and freed once a
 * later transaction looks into a cache, because an entry point may still
 * hold a TopicInfo from it (pgmsg_cache_retire).
 *
 * Locking: creating a queue or a topic takes pgmsg.topic_meta in SHARE ROW
 * EXCLUSIVE mode (see pgmsg_claim_name), so two transactions cannot give a
 * queue and a topic the same name.  Publishing locks each destination
 * queue's table (RowExclusiveLock) before writing to it; a queue dropped by
 * a transaction that committed meanwhile is then seen to be gone and gets
 * no copy.  Subscribing and unsubscribing take row locks only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "catalog.h"
#include "filter.h"
#include "pgmsg.h"
#include "push.h"
#include "qtable.h"
#include "send.h"
#include "shmem.h"
#include "topic.h"

struct Subscription
{
	int32		subscription_id;
	char		queue[PGMSG_NAME_MAXLEN + 1];
	struct FilterPolicy *policy;	/* NULL: every message matches */
	bool		raw;			/* false: deliver the SNS JSON envelope */
};

PG_FUNCTION_INFO_V1(pgmsg_create_topic);
PG_FUNCTION_INFO_V1(pgmsg_drop_topic);
PG_FUNCTION_INFO_V1(pgmsg_subscribe);
PG_FUNCTION_INFO_V1(pgmsg_unsubscribe);
PG_FUNCTION_INFO_V1(pgmsg_publish);
PG_FUNCTION_INFO_V1(pgmsg_publish_batch);

static HTAB *topic_cache = NULL;
static uint64 topic_cache_generation = 0;

/* "arn:pgmsg:<database>:", the start of every topic's ARN in envelopes */
static char *arn_prefix = NULL;

static void
destroy_topics(HTAB *cache)
{
	HASH_SEQ_STATUS status;
	TopicInfo  *ti;

	hash_seq_init(&status, cache);
	while ((ti = hash_seq_search(&status)) != NULL)
		if (ti->cxt != NULL)
			MemoryContextDelete(ti->cxt);
	hash_destroy(cache);
}

/*
 * Make sure the topic cache belongs to the current catalog generation.
 * Invalidations sent by transactions that committed since this backend
 * last looked are read first, so a subscription committed elsewhere
 * governs the next publish here even inside one transaction.
 */
static void
ensure_topic_cache(void)
{
	HASHCTL		ctl;

	AcceptInvalidationMessages();
	pgmsg_cache_release_retired();
	if (topic_cache != NULL && topic_cache_generation == pgmsg_catalog_generation())
		return;
	if (topic_cache != NULL)
		pgmsg_cache_retire(topic_cache, destroy_topics);
	ctl.keysize = PGMSG_NAME_MAXLEN + 1;
	ctl.entrysize = sizeof(TopicInfo);
	ctl.hcxt = CacheMemoryContext;
	topic_cache = hash_create("pgmsg topics", 16, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	topic_cache_generation = pgmsg_catalog_generation();
}

/*
 * Read a topic and its subscriptions, compiling their policies, into "ti"
 * (all but the name).  Returns false if there is no such topic.  The
 * subscriptions are built in a context that becomes the cache's only once
 * everything succeeded, so an error leaves nothing behind.
 */
static bool
load_topic(const char *name, TopicInfo *ti)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	Oid			idtypes[1] = {INT4OID};
	Datum		idargs[1];
	bool		isnull;
	TupleDesc	tupdesc;
	HeapTuple	tup;
	MemoryContext cxt;
	MemoryContext old;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT topic_id, owner, fifo, content_based_dedup"
							  "  FROM pgmsg.topic_meta WHERE name OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read topic \"%s\"", name);
	if (SPI_processed == 0)
	{
		SPI_finish();
		return false;
	}
	tupdesc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	ti->topic_id = DatumGetInt32(SPI_getbinval(tup, tupdesc, 1, &isnull));
	ti->owner = DatumGetObjectId(SPI_getbinval(tup, tupdesc, 2, &isnull));
	ti->fifo = DatumGetBool(SPI_getbinval(tup, tupdesc, 3, &isnull));
	ti->content_based_dedup = DatumGetBool(SPI_getbinval(tup, tupdesc, 4, &isnull));
	ti->privs_role = InvalidOid;
	ti->privs = 0;

	idargs[0] = Int32GetDatum(ti->topic_id);
	if (SPI_execute_with_args("SELECT s.subscription_id, q.name, s.filter_policy,"
							  "       s.filter_policy_scope, s.raw_message_delivery"
							  "  FROM pgmsg.subscription s"
							  "  JOIN pgmsg.queue_meta q"
							  "    ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
							  "  JOIN pgmsg.topic_meta t"
							  "    ON t.topic_id OPERATOR(pg_catalog.=) s.topic_id"
							  " WHERE s.topic_id OPERATOR(pg_catalog.=) $1"
							  /* the subscriber must still hold what subscribing took (acl.c) */
							  "   AND (pg_catalog.pg_has_role(s.owner::pg_catalog.oid, t.owner::pg_catalog.oid, 'USAGE')"
							  "        OR EXISTS (SELECT FROM pgmsg.topic_grants g"
							  "                    WHERE g.topic_id OPERATOR(pg_catalog.=) s.topic_id"
							  "                      AND g.privilege OPERATOR(pg_catalog.=) ANY ('{subscribe,manage}'::pg_catalog.text[])"
							  "                      AND (g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) 0::pg_catalog.oid"
							  "                           OR pg_catalog.pg_has_role(s.owner::pg_catalog.oid,"
							  "                                                     g.grantee::pg_catalog.oid, 'USAGE'))))"
							  "   AND (pg_catalog.pg_has_role(s.owner::pg_catalog.oid, q.owner::pg_catalog.oid, 'USAGE')"
							  "        OR EXISTS (SELECT FROM pgmsg.queue_grants g"
							  "                    WHERE g.queue_id OPERATOR(pg_catalog.=) s.queue_id"
							  "                      AND g.privilege OPERATOR(pg_catalog.=) 'manage'"
							  "                      AND (g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) 0::pg_catalog.oid"
							  "                           OR pg_catalog.pg_has_role(s.owner::pg_catalog.oid,"
							  "                                                     g.grantee::pg_catalog.oid, 'USAGE'))))"
							  " ORDER BY s.subscription_id",
							  1, idtypes, idargs, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the subscriptions of topic \"%s\"", name);

	/* not under SPI's context, which SPI_finish deletes */
	cxt = AllocSetContextCreate(CurTransactionContext, "pgmsg topic",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	ti->nsubs = (int) SPI_processed;
	ti->subs = palloc0(sizeof(Subscription) * Max(ti->nsubs, 1));
	MemoryContextSwitchTo(old);
	tupdesc = SPI_tuptable->tupdesc;
	for (int i = 0; i < ti->nsubs; i++)
	{
		Subscription *sub = &ti->subs[i];
		Datum		policy;
		char	   *scope;

		tup = SPI_tuptable->vals[i];
		sub->subscription_id = DatumGetInt32(SPI_getbinval(tup, tupdesc, 1, &isnull));
		strlcpy(sub->queue, SPI_getvalue(tup, tupdesc, 2), sizeof(sub->queue));
		policy = SPI_getbinval(tup, tupdesc, 3, &isnull);
		scope = SPI_getvalue(tup, tupdesc, 4);
		sub->policy = isnull ? NULL :
			filter_compile(DatumGetJsonbP(policy), filter_scope_from_name(scope), cxt);
		sub->raw = DatumGetBool(SPI_getbinval(tup, tupdesc, 5, &isnull));
	}
	SPI_finish();
	MemoryContextSetParent(cxt, CacheMemoryContext);
	ti->cxt = cxt;
	return true;
}

/*
 * Look up a topic of the current database by name, with its compiled
 * subscriptions.  Raises "does not exist" unless missing_ok.  The result
 * stays valid until the entry point that asked for it returns.
 */
TopicInfo *
pgmsg_topic_lookup(const char *name, bool missing_ok)
{
	TopicInfo  *ti;
	TopicInfo	loaded;
	bool		found;
	Oid			save_userid;
	int			save_sec;

	pgmsg_check_loaded();
	pgmsg_validate_name(true, name);
	ensure_topic_cache();

	ti = hash_search(topic_cache, name, HASH_FIND, NULL);
	if (ti != NULL)
		return ti;

	pgmsg_become_owner(&save_userid, &save_sec);
	found = load_topic(name, &loaded);
	pgmsg_restore_user(save_userid, save_sec);
	if (!found)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name)));
	}

	ti = hash_search(topic_cache, name, HASH_ENTER, NULL);
	strlcpy(loaded.name, name, sizeof(loaded.name));
	memcpy(ti, &loaded, sizeof(TopicInfo));
	return ti;
}

/*
 * Reserve "name" for a new queue or, if "topic", a new topic: queues and
 * topics share one namespace, so pgmsg.grant can name either.  Serialises
 * the creation of queues and topics until the transaction ends, then
 * checks the other kind's catalog; a name taken by the same kind is left
 * to that catalog's unique index.
 */
void
pgmsg_claim_name(bool topic, const char *name)
{
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgmsg_spi_exec("LOCK TABLE pgmsg.topic_meta IN SHARE ROW EXCLUSIVE MODE",
			 0, NULL, NULL, SPI_OK_UTILITY);
	args[0] = CStringGetTextDatum(name);
	pgmsg_spi_exec(topic ?
			 "SELECT 1 FROM pgmsg.queue_meta WHERE name OPERATOR(pg_catalog.=) $1" :
			 "SELECT 1 FROM pgmsg.topic_meta WHERE name OPERATOR(pg_catalog.=) $1",
			 1, argtypes, args, SPI_OK_SELECT);
	if (SPI_processed > 0 && topic)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("a queue named \"%s\" already exists", name),
				 errdetail("Queues and topics share one namespace.")));
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("a topic named \"%s\" already exists", name),
				 errdetail("Queues and topics share one namespace.")));
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
}

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
 * pgmsg.create_topic(topic, fifo, content_based_dedup)
 */
Datum
pgmsg_create_topic(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "topic name");
	bool		fifo = bool_arg(fcinfo, 1, "fifo");
	bool		content_based_dedup = bool_arg(fcinfo, 2, "content_based_dedup");
	Oid			creator = GetUserId();
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[4] = {TEXTOID, OIDOID, BOOLOID, BOOLOID};
	Datum		args[4];

	pgmsg_check_loaded();
	pgmsg_refuse_in_recovery(gettext_noop("cannot create topic \"%s\" during recovery"), name);
	pgmsg_validate_name(true, name);
	if (content_based_dedup && !fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("content_based_dedup requires a FIFO topic")));
	if (pg_database_aclcheck(MyDatabaseId, creator, ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create topic \"%s\"", name),
				 errdetail("Creating a topic requires the CREATE privilege on the current database.")));

	pgmsg_claim_name(true, name);

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = CStringGetTextDatum(name);
	args[1] = ObjectIdGetDatum(creator);
	args[2] = BoolGetDatum(fifo);
	args[3] = BoolGetDatum(content_based_dedup);
	pgmsg_spi_exec("INSERT INTO pgmsg.topic_meta (name, owner, fifo, content_based_dedup)"
			 " VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
			 4, argtypes, args, SPI_OK_INSERT);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("topic \"%s\" already exists", name)));
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	pgmsg_catalog_invalidate();
	PG_RETURN_VOID();
}

/*
 * pgmsg.drop_topic(topic, if_exists) returns whether a topic was dropped.
 * Its subscriptions and grants go with it; the queues stay, but for the
 * internal queues of push subscriptions (push_subscribe.c).
 */
Datum
pgmsg_drop_topic(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "topic name");
	bool		if_exists = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	TopicInfo  *ti;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];

	pgmsg_refuse_in_recovery(gettext_noop("cannot drop topic \"%s\" during recovery"), name);
	ti = pgmsg_topic_lookup(name, if_exists);
	if (ti == NULL)
	{
		ereport(NOTICE,
				(errmsg("topic \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_MANAGE);
	/* push subscriptions take their internal queues with them */
	pgmsg_push_drop_topic(ti->topic_id);

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int32GetDatum(ti->topic_id);
	pgmsg_spi_exec("DELETE FROM pgmsg.topic_meta WHERE topic_id OPERATOR(pg_catalog.=) $1",
			 1, argtypes, args, SPI_OK_DELETE);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" does not exist", name)));
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	pgmsg_catalog_invalidate();
	PG_RETURN_BOOL(true);
}

/*
 * A standard topic delivers to standard queues only, a FIFO topic to FIFO
 * queues only, as in SNS.
 */
static void
check_fifo_match(TopicInfo *ti, QueueInfo *qi)
{
	if (ti->fifo && !qi->fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot subscribe standard queue \"%s\" to FIFO topic \"%s\"",
						qi->name, ti->name),
				 errdetail("A FIFO topic delivers to FIFO queues only.")));
	if (!ti->fifo && qi->fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot subscribe FIFO queue \"%s\" to standard topic \"%s\"",
						qi->name, ti->name),
				 errdetail("A standard topic delivers to standard queues only.")));
}

/*
 * A queue subscribes only if it takes every message a topic does.  Its
 * catalog row is read locked, so an alter_queue lowering the size waits for
 * this transaction and then finds the subscription (see queue.c).  Caller
 * is connected to SPI as the extension owner.
 */
static void
check_subscriber_size(QueueInfo *qi)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	bool		isnull;
	int32		size;

	args[0] = Int32GetDatum(qi->queue_id);
	pgmsg_spi_exec("SELECT max_message_size FROM pgmsg.queue_meta"
				   " WHERE queue_id OPERATOR(pg_catalog.=) $1 FOR SHARE",
				   1, argtypes, args, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", qi->name)));
	size = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	if (size < PGMSG_TOPIC_MAX_MESSAGE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue \"%s\" is too small to subscribe to a topic", qi->name),
				 errdetail("Its max_message_size is %d bytes; a topic publishes messages of up to %d bytes.",
						   size, PGMSG_TOPIC_MAX_MESSAGE),
				 errhint("Raise the queue's max_message_size with pgmsg.alter_queue.")));
}

/*
 * pgmsg.subscribe(topic, queue, filter_policy, filter_policy_scope,
 *				   raw_message_delivery)
 *
 * Needs "subscribe" on the topic and "manage" on the queue.  The policy is
 * compiled here, so an invalid one is refused before anything is stored.
 */
Datum
pgmsg_subscribe(PG_FUNCTION_ARGS)
{
	char	   *topic = pgmsg_text_arg(fcinfo, 0, "topic name");
	char	   *queue = pgmsg_text_arg(fcinfo, 1, "queue name");
	char	   *scope_name = pgmsg_text_arg(fcinfo, 3, "filter_policy_scope");
	bool		raw = bool_arg(fcinfo, 4, "raw_message_delivery");
	TopicInfo  *ti;
	QueueInfo  *qi;
	FilterScope scope;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[6] = {INT4OID, INT4OID, JSONBOID, TEXTOID, BOOLOID, OIDOID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', 'n', ' ', ' ', ' '};

	pgmsg_refuse_in_recovery(gettext_noop("cannot subscribe to topic \"%s\" during recovery"), topic);
	ti = pgmsg_topic_lookup(topic, false);
	qi = pgmsg_queue_lookup(queue, false);
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_SUBSCRIBE);
	pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);
	check_fifo_match(ti, qi);
	scope = filter_scope_from_name(scope_name);
	if (!PG_ARGISNULL(2))
	{
		MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
												  "pgmsg filter check",
												  ALLOCSET_SMALL_SIZES);

		filter_compile(PG_GETARG_JSONB_P(2), scope, cxt);
		MemoryContextDelete(cxt);
		args[2] = PG_GETARG_DATUM(2);
		nulls[2] = ' ';
	}
	args[0] = Int32GetDatum(ti->topic_id);
	args[1] = Int32GetDatum(qi->queue_id);
	args[3] = CStringGetTextDatum(filter_scope_name(scope));
	args[4] = BoolGetDatum(raw);
	args[5] = ObjectIdGetDatum(GetUserId());

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	check_subscriber_size(qi);
	if (SPI_execute_with_args("INSERT INTO pgmsg.subscription"
							  " (topic_id, queue_id, filter_policy, filter_policy_scope,"
							  "  raw_message_delivery, owner)"
							  " VALUES ($1, $2, $3, $4, $5, $6)"
							  " ON CONFLICT (topic_id, queue_id) DO NOTHING",
							  6, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not subscribe queue \"%s\" to topic \"%s\"", queue, topic);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("queue \"%s\" is already subscribed to topic \"%s\"", queue, topic),
				 errhint("Unsubscribe it first to change the subscription.")));
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	pgmsg_catalog_invalidate();
	PG_RETURN_VOID();
}

/*
 * pgmsg.unsubscribe(topic, queue) returns whether the queue was subscribed.
 * Needs "manage" on the topic, or "subscribe" on it and "manage" on the
 * queue.
 */
Datum
pgmsg_unsubscribe(PG_FUNCTION_ARGS)
{
	char	   *topic = pgmsg_text_arg(fcinfo, 0, "topic name");
	char	   *queue = pgmsg_text_arg(fcinfo, 1, "queue name");
	TopicInfo  *ti;
	QueueInfo  *qi;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[2] = {INT4OID, INT4OID};
	Datum		args[2];
	bool		removed;

	pgmsg_refuse_in_recovery(gettext_noop("cannot unsubscribe from topic \"%s\" during recovery"), topic);
	ti = pgmsg_topic_lookup(topic, false);
	qi = pgmsg_queue_lookup(queue, false);
	if (!pgmsg_has_topic_privilege(ti, PGMSG_PRIV_MANAGE))
	{
		pgmsg_check_topic_privilege(ti, PGMSG_PRIV_SUBSCRIBE);
		pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);
	}

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int32GetDatum(ti->topic_id);
	args[1] = Int32GetDatum(qi->queue_id);
	pgmsg_spi_exec("DELETE FROM pgmsg.subscription"
			 " WHERE topic_id OPERATOR(pg_catalog.=) $1"
			 "   AND queue_id OPERATOR(pg_catalog.=) $2",
			 2, argtypes, args, SPI_OK_DELETE);
	removed = SPI_processed > 0;
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	if (removed)
		pgmsg_catalog_invalidate();
	PG_RETURN_BOOL(removed);
}

/*
 * The SNS notification envelope
 */

/*
 * Push an object key, or a key with a string value, while building a jsonb
 * (also used by trigger.c).
 */
void
pgmsg_jsonb_push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

static void
push_string(JsonbParseState **state, const char *str, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) str;
	v.val.string.len = len;
	pushJsonbValue(state, WJB_VALUE, &v);
}

void
pgmsg_jsonb_push_pair(JsonbParseState **state, const char *key, const char *value)
{
	pgmsg_jsonb_push_key(state, key);
	push_string(state, value, strlen(value));
}

/* SNS's attribute types: String, Number and String.Array */
static void
push_attribute(JsonbParseState **state, JsonbValue *value)
{
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	if (value->type == jbvString)
	{
		pgmsg_jsonb_push_pair(state, "Type", "String");
		pgmsg_jsonb_push_key(state, "Value");
		push_string(state, value->val.string.val, value->val.string.len);
	}
	else if (value->type == jbvNumeric)
	{
		pgmsg_jsonb_push_pair(state, "Type", "Number");
		pgmsg_jsonb_push_pair(state, "Value",
				  DatumGetCString(DirectFunctionCall1(numeric_out,
													  NumericGetDatum(value->val.numeric))));
	}
	else
	{
		/* an array of strings, checked on the way in */
		pgmsg_jsonb_push_pair(state, "Type", "String.Array");
		pgmsg_jsonb_push_pair(state, "Value",
				  JsonbToCString(NULL, value->val.binary.data, value->val.binary.len));
	}
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * The message a subscription without raw delivery receives: the SNS
 * notification, with the published body as the string "Message" (a JSON
 * string body as itself, anything else as its JSON text) and the
 * attributes in SNS's typed form.  Every copy of one publish carries the
 * same MessageId and Timestamp.
 */
static Jsonb *
build_envelope(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
			   const char *message_id, TimestampTz ts)
{
	JsonbParseState *state = NULL;
	JsonbValue	scalar;
	JsonbValue *result;
	struct pg_tm tm;
	fsec_t		fsec;
	char		timestamp[64];

	if (arn_prefix == NULL)
	{
		char	   *dbname = get_database_name(MyDatabaseId);

		arn_prefix = MemoryContextStrdup(TopMemoryContext,
										 psprintf("arn:pgmsg:%s:", dbname ? dbname : ""));
	}
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	snprintf(timestamp, sizeof(timestamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 (int) (fsec / 1000));

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	pgmsg_jsonb_push_pair(&state, "Type", "Notification");
	pgmsg_jsonb_push_pair(&state, "MessageId", message_id);
	pgmsg_jsonb_push_pair(&state, "TopicArn", psprintf("%s%s", arn_prefix, ti->name));
	pgmsg_jsonb_push_key(&state, "Message");
	if (JsonbExtractScalar(&body->root, &scalar) && scalar.type == jbvString)
		push_string(&state, scalar.val.string.val, scalar.val.string.len);
	else
	{
		char	   *text = JsonbToCString(NULL, &body->root, VARSIZE(body));

		push_string(&state, text, strlen(text));
	}
	pgmsg_jsonb_push_pair(&state, "Timestamp", timestamp);
	if (attributes != NULL && JB_ROOT_COUNT(attributes) > 0)
	{
		JsonbIterator *it = JsonbIteratorInit(&attributes->root);
		JsonbValue	v;
		JsonbIteratorToken tok;

		pgmsg_jsonb_push_key(&state, "MessageAttributes");
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				pushJsonbValue(&state, WJB_KEY, &v);
			else if (tok == WJB_VALUE)
				push_attribute(&state, &v);
		}
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
}

/* A random (version 4) UUID, the MessageId of one publish. */
static void
new_message_id(char *buf)
{
	uint8		b[16];

	if (!pg_strong_random(b, sizeof(b)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random message id")));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(buf, 37,
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
			 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * Publishing
 */

/*
 * Check a message before any copy of it is sent: its attributes, and the
 * group and dedup ids, which a FIFO topic requires (the group) and a
 * standard topic refuses.  Each copy's size is checked against its queue
 * when it is sent.
 */
void
pgmsg_check_publish_args(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
						 text *group_id, text *dedup_id)
{
	Size		size;

	if (attributes != NULL)
		pgmsg_check_attributes(attributes);
	size = pgmsg_message_size(body, attributes);
	if (size > PGMSG_TOPIC_MAX_MESSAGE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("message of %zu bytes is too large for topic \"%s\"",
						size, ti->name),
				 errdetail("A topic takes messages of at most %d bytes, body and attributes together.",
						   PGMSG_TOPIC_MAX_MESSAGE)));
	pgmsg_check_fifo_ids(true, ti->name, ti->fifo, group_id, dedup_id);
}

/* One message being published, with what its copies share. */
typedef struct Outgoing
{
	Jsonb	   *body;
	Jsonb	   *attributes;
	text	   *group_id;
	text	   *dedup_id;
	Jsonb	   *envelope;		/* built on first need */
	char		message_id[37]; /* the envelope's MessageId */
} Outgoing;

/*
 * The queue of a subscription, locked for writing, or NULL if it was
 * dropped since this backend read the subscriptions (it gets nothing).
 */
static QueueInfo *
subscribed_queue(TopicInfo *ti, Subscription *sub)
{
	QueueInfo  *qi = pgmsg_queue_lookup(sub->queue, true);

	if (qi == NULL || qi->fifo != ti->fifo || !pgmsg_queue_lock(qi))
		return NULL;
	return qi;
}

/*
 * Send a copy of "pub" to the queue "qi" of subscription "sub", raw or in
 * the SNS envelope; the caller runs as the extension owner.  The message
 * was checked when it was published, against the topic's size limit, which
 * every subscribed queue's max_message_size is at least (subscribe and
 * alter_queue see to it); so no copy can fail on size, and one subscriber
 * never stops delivery to the others.  A copy in the envelope is stored
 * whole, though the envelope makes it larger than the message.
 */
static void
send_copy(TopicInfo *ti, Subscription *sub, QueueInfo *qi, Outgoing *pub,
		  TimestampTz *ts)
{
	Jsonb	   *body;
	Jsonb	   *attributes;

	if (sub->raw)
	{
		body = pub->body;
		attributes = pub->attributes;
	}
	else
	{
		if (pub->envelope == NULL)
		{
			if (*ts == 0)
				*ts = GetCurrentTimestamp();
			new_message_id(pub->message_id);
			pub->envelope = build_envelope(ti, pub->body, pub->attributes,
										   pub->message_id, *ts);
		}
		body = pub->envelope;
		attributes = NULL;
	}
	pgmsg_send_one(qi, pgmsg_queue_slot(qi), body, attributes, qi->delay,
				   pub->group_id, pub->dedup_id);
}

/*
 * Publish "n" checked messages to every matching subscription of the
 * topic, as the extension owner.  Returns the number of copies sent.  The
 * loop runs subscription by subscription, so each queue's messages are
 * appended together and in order; a subscription's queue is looked up and
 * locked once, when its policy first matches.
 */
static int64
publish_messages(TopicInfo *ti, Outgoing *pubs, int n)
{
	int64		delivered = 0;
	TimestampTz ts = 0;
	Oid			save_userid;
	int			save_sec;

	if (ti->nsubs == 0 || n == 0)
		return 0;
	for (int j = 0; j < n; j++)
	{
		if (ti->fifo && pubs[j].dedup_id == NULL && ti->content_based_dedup)
			pubs[j].dedup_id = pgmsg_content_dedup_id(pubs[j].body);
	}

	pgmsg_become_owner(&save_userid, &save_sec);
	for (int i = 0; i < ti->nsubs; i++)
	{
		Subscription *sub = &ti->subs[i];
		QueueInfo  *qi = NULL;
		bool		resolved = false;

		for (int j = 0; j < n; j++)
		{
			if (sub->policy != NULL &&
				!filter_match(sub->policy, pubs[j].attributes, pubs[j].body))
				continue;
			if (!resolved)
			{
				qi = subscribed_queue(ti, sub);
				resolved = true;
			}
			if (qi == NULL)
				break;
			send_copy(ti, sub, qi, &pubs[j], &ts);
			delivered++;
		}
	}
	pgmsg_restore_user(save_userid, save_sec);
	return delivered;
}

/*
 * Publish one message; used by pgmsg.publish and the publish trigger.  The
 * caller has checked the "publish" privilege and the arguments.
 */
int
pgmsg_publish_one(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
				  text *group_id, text *dedup_id)
{
	Outgoing pub;

	pub.body = body;
	pub.attributes = attributes;
	pub.group_id = group_id;
	pub.dedup_id = dedup_id;
	pub.envelope = NULL;
	return (int) publish_messages(ti, &pub, 1);
}

/*
 * pgmsg.publish(topic, body, attributes, group_id, dedup_id) returns the
 * number of subscriptions that received a copy.
 */
Datum
pgmsg_publish(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "topic name");
	TopicInfo  *ti;
	Jsonb	   *body;
	Jsonb	   *attributes = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	text	   *group_id = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	text	   *dedup_id = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4);

	pgmsg_refuse_in_recovery(gettext_noop("cannot publish to topic \"%s\" during recovery"), name);
	ti = pgmsg_topic_lookup(name, false);
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_PUBLISH);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message body must not be null")));
	body = PG_GETARG_JSONB_P(1);
	pgmsg_check_publish_args(ti, body, attributes, group_id, dedup_id);
	PG_RETURN_INT32(pgmsg_publish_one(ti, body, attributes, group_id, dedup_id));
}

/*
 * pgmsg.publish_batch(topic, bodies, attributes, group_ids, dedup_ids)
 * returns the number of copies sent, over all messages.  Every message is
 * checked before any is published.
 */
Datum
pgmsg_publish_batch(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "topic name");
	TopicInfo  *ti;
	Datum	   *bodies;
	bool	   *body_nulls;
	int			nbodies;
	Datum	   *attrs;
	bool	   *attr_nulls;
	Datum	   *groups;
	bool	   *group_nulls;
	Datum	   *dedups;
	bool	   *dedup_nulls;
	Outgoing *pubs;

	pgmsg_refuse_in_recovery(gettext_noop("cannot publish to topic \"%s\" during recovery"), name);
	ti = pgmsg_topic_lookup(name, false);
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_PUBLISH);
	bodies = pgmsg_batch_bodies(fcinfo, 1, &body_nulls, &nbodies);
	attrs = pgmsg_batch_array(fcinfo, 2, JSONBOID, "attributes", nbodies, &attr_nulls);
	groups = pgmsg_batch_array(fcinfo, 3, TEXTOID, "group_ids", nbodies, &group_nulls);
	dedups = pgmsg_batch_array(fcinfo, 4, TEXTOID, "dedup_ids", nbodies, &dedup_nulls);

	pubs = palloc0(sizeof(Outgoing) * Max(nbodies, 1));
	for (int i = 0; i < nbodies; i++)
	{
		Outgoing *pub = &pubs[i];

		if (body_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("message body must not be null"),
					 errdetail("Element %d of bodies is null.", i + 1)));
		pub->body = DatumGetJsonbP(bodies[i]);
		pub->attributes = attrs != NULL && !attr_nulls[i] ? DatumGetJsonbP(attrs[i]) : NULL;
		pub->group_id = groups != NULL && !group_nulls[i] ? DatumGetTextPP(groups[i]) : NULL;
		pub->dedup_id = dedups != NULL && !dedup_nulls[i] ? DatumGetTextPP(dedups[i]) : NULL;
		pgmsg_check_publish_args(ti, pub->body, pub->attributes, pub->group_id, pub->dedup_id);
	}
	PG_RETURN_INT64(publish_messages(ti, pubs, nbodies));
}
