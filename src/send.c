/*-------------------------------------------------------------------------
 *
 * send.c
 *		send and send_batch: appending messages to a queue's log.
 *
 * A message's key is (visible_at, msg_id): visible_at comes from the
 * queue's monotonic clock plus the delay, msg_id from the table's identity
 * sequence.  Before its first key for a queue in a transaction the backend
 * registers a lower bound (cursor.c), so no receiver's cursor can pass the
 * message before the transaction ends.  The row is appended to the
 * queue's log by qtable.c; nothing else is written.  A queue
 * created with notify => true also gets NOTIFY pgmsg_<queue> (payload: the
 * queue name) once per transaction, which LISTEN/NOTIFY delivers at commit;
 * it is opt-in because NOTIFY serialises committing transactions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/async.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "storage/lmgr.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "catalog.h"
#include "cursor.h"
#include "lease.h"
#include "pgmsg.h"
#include "qtable.h"
#include "send.h"
#include "shmem.h"
#include "xact.h"

static void pgmsg_check_size(QueueInfo *qi, Jsonb *body, Jsonb *attributes);

PG_FUNCTION_INFO_V1(pgmsg_send);
PG_FUNCTION_INFO_V1(pgmsg_send_batch);

/*
 * An attribute name as error messages show it: whole if short, otherwise
 * its first 64 bytes, cut on a character boundary, and "...".
 */
static char *
attribute_name_for_error(const char *name, int len)
{
	int			shown = pg_mbcliplen(name, len, 64);

	return psprintf("%.*s%s", shown, name, shown < len ? "..." : "");
}

/*
 * Message attributes: a JSON object of at most 10 keys whose values are
 * strings, numbers or arrays of strings.  Names have 1 to 256 characters.
 */
void
pgmsg_check_attributes(Jsonb *attributes)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	if (!JB_ROOT_IS_OBJECT(attributes) || JB_ROOT_IS_SCALAR(attributes))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message attributes must be a JSON object")));
	if (JB_ROOT_COUNT(attributes) > PGMSG_MAX_ATTRIBUTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many message attributes"),
				 errdetail("A message has at most %d attributes; this one has %u.",
						   PGMSG_MAX_ATTRIBUTES, JB_ROOT_COUNT(attributes))));

	it = JsonbIteratorInit(&attributes->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		ok;

		if (tok == WJB_KEY)
		{
			key = attribute_name_for_error(v.val.string.val, v.val.string.len);
			if (v.val.string.len == 0 ||
				pg_mbstrlen_with_len(v.val.string.val, v.val.string.len) > 256)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid message attribute name \"%s\"", key),
						 errdetail("Attribute names have 1 to 256 characters.")));
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		ok = v.type == jbvString || v.type == jbvNumeric;
		if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
		{
			JsonbIterator *ait = JsonbIteratorInit(v.val.binary.data);
			JsonbValue	elem;
			JsonbIteratorToken atok;

			ok = true;
			while ((atok = JsonbIteratorNext(&ait, &elem, true)) != WJB_DONE)
				if (atok == WJB_ELEM && elem.type != jbvString)
					ok = false;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message attribute \"%s\" has an invalid value", key),
					 errdetail("An attribute value is a string, a number or an array of strings.")));
	}
}

/*
 * Check one message against the queue's limits.
 */
static void
pgmsg_check_message(QueueInfo *qi, Jsonb *body, Jsonb *attributes)
{
	if (attributes != NULL)
		pgmsg_check_attributes(attributes);
	pgmsg_check_size(qi, body, attributes);
}

/*
 * Message size, as SQS counts it: the bytes of the body's JSON text in
 * UTF-8, plus, per attribute, the bytes of its name and of its value (a
 * string's characters, a number's digits as written, an array of strings'
 * JSON text).  The JSON text is the one pgmsg hands back, jsonb's output
 * form; its length is added up from the parsed value, without writing the
 * text out, so only numbers are converted.
 */

/* The UTF-8 bytes of a string, escaped for JSON text as jsonb prints it. */
static Size
string_size(const char *s, int len, bool escaped)
{
	Size		n = 0;
	char	   *utf8 = NULL;

	if (GetDatabaseEncoding() != PG_UTF8)
	{
		for (int i = 0; i < len; i++)
			if (IS_HIGHBIT_SET(s[i]))
			{
				utf8 = pg_server_to_any(s, len, PG_UTF8);
				break;
			}
		if (utf8 != NULL && utf8 != s)
		{
			s = utf8;
			len = strlen(utf8);
		}
		else
			utf8 = NULL;
	}
	if (!escaped)
		n = len;
	else
	{
		n = 2;					/* the quotes */
		for (int i = 0; i < len; i++)
		{
			unsigned char c = (unsigned char) s[i];

			if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
				c == '\n' || c == '\r' || c == '\t')
				n += 2;
			else if (c < ' ')
				n += 6;			/* \u00XX */
			else
				n++;
		}
	}
	if (utf8 != NULL)
		pfree(utf8);
	return n;
}

static Size
number_size(Numeric num)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out,
														  NumericGetDatum(num)));
	Size		n = strlen(text);

	pfree(text);
	return n;
}

static Size
scalar_size(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return 4;
		case jbvBool:
			return v->val.boolean ? 4 : 5;
		case jbvNumeric:
			return number_size(v->val.numeric);
		case jbvString:
			return string_size(v->val.string.val, v->val.string.len, true);
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return 0;
}

/*
 * The length of a jsonb container's JSON text, as JsonbToCString writes
 * it: ", " between elements and members, ": " after keys.
 */
static Size
json_text_size(JsonbContainer *jc)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	v;
	JsonbIteratorToken tok;
	Size		n = 0;
	bool		first = true;
	bool		raw_scalar = false;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
				if (!first)
					n += 2;
				if (v.val.array.rawScalar)
					raw_scalar = true;
				else
					n++;
				first = true;
				break;
			case WJB_BEGIN_OBJECT:
				if (!first)
					n += 2;
				n++;
				first = true;
				break;
			case WJB_KEY:
				if (!first)
					n += 2;
				n += scalar_size(&v) + 2;
				first = true;	/* no ", " before the value */
				break;
			case WJB_VALUE:
				n += scalar_size(&v);
				first = false;
				break;
			case WJB_ELEM:
				if (!first)
					n += 2;
				n += scalar_size(&v);
				first = false;
				break;
			case WJB_END_ARRAY:
				if (!raw_scalar)
					n++;
				first = false;
				break;
			case WJB_END_OBJECT:
				n++;
				first = false;
				break;
			case WJB_DONE:
				break;
		}
	}
	return n;
}

/* The size of checked attributes: names and values, without JSON syntax. */
static Size
attributes_size(Jsonb *attributes)
{
	JsonbIterator *it = JsonbIteratorInit(&attributes->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	Size		n = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			n += string_size(v.val.string.val, v.val.string.len, false);
		else if (tok == WJB_VALUE)
		{
			if (v.type == jbvString)
				n += string_size(v.val.string.val, v.val.string.len, false);
			else if (v.type == jbvNumeric)
				n += number_size(v.val.numeric);
			else if (v.type == jbvBinary)
				n += json_text_size(v.val.binary.data);
		}
	}
	return n;
}

/*
 * The size of a message whose attributes are known to be valid.
 */
Size
pgmsg_message_size(Jsonb *body, Jsonb *attributes)
{
	Size		size = json_text_size(&body->root);

	if (attributes != NULL)
		size += attributes_size(attributes);
	return size;
}

/*
 * Check a message whose attributes are known to be valid against the
 * queue's max_message_size.
 */
static void
pgmsg_check_size(QueueInfo *qi, Jsonb *body, Jsonb *attributes)
{
	Size		size = pgmsg_message_size(body, attributes);

	if (size > (Size) qi->max_message_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("message of %zu bytes is too large for queue \"%s\"",
						size, qi->name),
				 errdetail("The queue's max_message_size is %d bytes, body and attributes together.",
						   qi->max_message_size)));
}

/*
 * Append a message to a queue's log (qtable.c), with its key: the queue's
 * clock plus the delay, or a FIFO group's order.  sent_at 0 means now.
 */
static int64
append_message(QueueInfo *qi, QueueShared *qs, Jsonb *body, Jsonb *attributes,
			   int64 delay, TimestampTz sent_at, int32 receive_count,
			   const char *source_queue, int32 source_queue_id, text *group_id)
{
	bool		first;
	TimestampTz ts;
	TimestampTz key;
	Relation	rel;
	Relation	index;
	QueueRow	row;
	int64		msg_id;

	rel = pgmsg_queue_open(qi);
	index = qtable_open_index(qi);

	first = xact_track_publish(qs, 1);
	key = cursor_assign_key(qs, first, delay, &ts);
	if (qi->fifo && group_id != NULL)
	{
		GroupKey	gkey;

		gkey.dbid = MyDatabaseId;
		gkey.queue_id = qi->queue_id;
		gkey.group_hash = group_hash_text(VARDATA_ANY(group_id), VARSIZE_ANY_EXHDR(group_id));
		LWLockAcquire(qs->lock, LW_EXCLUSIVE);
		group_load_delayed(qs, rel, index, ts);
		key = group_order_key(qs, &gkey, key, ts);
		LWLockRelease(qs->lock);
	}
	if (key > ts)
		xact_track_delayed(qs);
	if (first && qi->notify)
	{
		/* delivered by LISTEN/NOTIFY at commit, and only then */
		char		channel[NAMEDATALEN];

		snprintf(channel, sizeof(channel), "pgmsg_%s", qi->name);
		Async_Notify(channel, qi->name);
	}

	row.visible_at = key;
	row.sent_at = sent_at != 0 ? sent_at : ts;
	row.receive_count = receive_count;
	row.body = body;
	row.attributes = attributes;
	row.source_queue = source_queue;
	row.source_queue_id = source_queue_id;
	row.group_id = group_id;
	msg_id = qtable_append(qi, rel, index, &row);

	index_close(index, NoLock);
	table_close(rel, NoLock);
	return msg_id;
}

static int64 claim_dedup_id_spi(QueueInfo *qi, text *dedup_id);

/*
 * FIFO deduplication: claim "dedup_id" on the queue for five minutes.
 * Returns 0 if this transaction may send the message, or the id of the
 * message sent with it before.  A concurrent sender of the same id waits on
 * the primary key until the first commits or aborts, so exactly one message
 * is stored.
 */
static int64
claim_dedup_id(QueueInfo *qi, text *dedup_id)
{
	int64		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = claim_dedup_id_spi(qi, dedup_id);
	SPI_finish();
	return result;
}

static int64
claim_dedup_id_spi(QueueInfo *qi, text *dedup_id)
{
	Oid			argtypes[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	bool		isnull;
	Datum		id;
	int			ret;

	args[0] = Int32GetDatum(qi->queue_id);
	args[1] = PointerGetDatum(dedup_id);
	ret = SPI_execute_with_args("INSERT INTO pgmsg.dedup AS d (queue_id, dedup_id, expires_at)"
								" VALUES ($1, $2, pg_catalog.now() OPERATOR(pg_catalog.+) interval '5 minutes')"
								" ON CONFLICT (queue_id, dedup_id) DO UPDATE"
								"   SET msg_id = NULL, expires_at = EXCLUDED.expires_at"
								"   WHERE d.expires_at OPERATOR(pg_catalog.<) pg_catalog.now()"
								" RETURNING 1",
								2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING && ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not record dedup_id: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
		return 0;
	ret = SPI_execute_with_args("SELECT msg_id FROM pgmsg.dedup"
								" WHERE queue_id OPERATOR(pg_catalog.=) $1"
								"   AND dedup_id OPERATOR(pg_catalog.=) $2",
								2, argtypes, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read dedup_id: %s", SPI_result_code_string(ret));
	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(id);
}

static void
record_dedup_id(QueueInfo *qi, text *dedup_id, int64 msg_id)
{
	Oid			argtypes[3] = {INT4OID, TEXTOID, INT8OID};
	Datum		args[3];

	args[0] = Int32GetDatum(qi->queue_id);
	args[1] = PointerGetDatum(dedup_id);
	args[2] = Int64GetDatum(msg_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("UPDATE pgmsg.dedup SET msg_id = $3"
							  " WHERE queue_id OPERATOR(pg_catalog.=) $1"
							  "   AND dedup_id OPERATOR(pg_catalog.=) $2",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record dedup_id");
	SPI_finish();
}

/*
 * The content-based dedup id: the SHA-256 of the body's canonical text.
 */
text *
pgmsg_content_dedup_id(Jsonb *body)
{
	char	   *str = JsonbToCString(NULL, &body->root, VARSIZE(body));
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) str, strlen(str)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "could not compute SHA-256 of message body");
	pg_cryptohash_free(ctx);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return cstring_to_text(hex);
}

/*
 * Append one new message; the caller has checked it and runs as the
 * extension owner.  On a FIFO queue a repeated dedup id (or body,
 * with content_based_dedup) within five minutes sends nothing and returns
 * the first message's id.
 */
int64
pgmsg_send_one(QueueInfo *qi, QueueShared *qs, Jsonb *body, Jsonb *attributes,
			   int64 delay, text *group_id, text *dedup_id)
{
	int64		msg_id;

	if (qi->fifo && dedup_id == NULL && qi->content_based_dedup)
		dedup_id = pgmsg_content_dedup_id(body);
	if (qi->fifo && dedup_id != NULL)
	{
		int64		original = claim_dedup_id(qi, dedup_id);

		if (original != 0)
			return original;
	}
	msg_id = append_message(qi, qs, body, attributes, delay, 0, 0, NULL, 0, group_id);
	if (qi->fifo && dedup_id != NULL)
		record_dedup_id(qi, dedup_id, msg_id);
	return msg_id;
}

/*
 * Append a message moved to or out of a dead-letter queue, keeping its
 * original send time, receive count, source queue (its name, and its id,
 * which a queue created again under the name does not share) and group.
 */
int64
pgmsg_send_moved(QueueInfo *qi, QueueShared *qs, Jsonb *body, Jsonb *attributes,
				 TimestampTz sent_at, int32 receive_count, const char *source_queue,
				 int32 source_queue_id, text *group_id)
{
	return append_message(qi, qs, body, attributes, 0, sent_at, receive_count,
						  source_queue, source_queue_id, group_id);
}

static int
text_chars(text *t)
{
	return pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/*
 * Check the group and dedup ids of a message for a queue or, if "topic", a
 * topic: FIFO ones need a group id, others take neither.
 */
void
pgmsg_check_fifo_ids(bool topic, const char *name, bool fifo,
					 text *group_id, text *dedup_id)
{
	/* the argument a standard queue or topic refuses */
	const char *arg = group_id != NULL ? "group_id" : "dedup_id";

	if (fifo)
	{
		if (group_id == NULL && topic)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("group_id is required on FIFO topic \"%s\"", name)));
		if (group_id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("group_id is required on FIFO queue \"%s\"", name)));
		if (text_chars(group_id) < 1 || text_chars(group_id) > 128)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("group_id must have 1 to 128 characters")));
		if (dedup_id != NULL &&
			(text_chars(dedup_id) < 1 || text_chars(dedup_id) > 128))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dedup_id must have 1 to 128 characters")));
	}
	else if ((group_id != NULL || dedup_id != NULL) && topic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is only allowed on FIFO topics", arg),
				 errdetail("Topic \"%s\" is a standard topic.", name)));
	else if (group_id != NULL || dedup_id != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is only allowed on FIFO queues", arg),
				 errdetail("Queue \"%s\" is a standard queue.", name)));
}

/*
 * Check the FIFO arguments of a message: FIFO queues need a group id and
 * take no per-message delay; other queues take neither group nor dedup id.
 */
static void
check_fifo_args(QueueInfo *qi, text *group_id, text *dedup_id, bool has_delay)
{
	if (qi->fifo && group_id != NULL && has_delay)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per-message delay is not allowed on FIFO queue \"%s\"", qi->name),
				 errhint("Set the queue's delay instead.")));
	pgmsg_check_fifo_ids(false, qi->name, qi->fifo, group_id, dedup_id);
}

/*
 * pgmsg.send(queue, body, attributes, delay, group_id, dedup_id) returns
 * the message id.
 */
Datum
pgmsg_send(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	QueueInfo  *qi;
	QueueShared *qs;
	Jsonb	   *body;
	Jsonb	   *attributes = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	int64		delay;
	int64		msg_id;
	text	   *group_id;
	text	   *dedup_id;
	Oid			save_userid;
	int			save_sec;

	pgmsg_refuse_in_recovery(gettext_noop("cannot send to queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_SEND);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message body must not be null")));
	body = PG_GETARG_JSONB_P(1);
	delay = pgmsg_interval_arg(fcinfo, 3, "delay", 0, PGMSG_MAX_DELAY, qi->delay);
	group_id = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4);
	dedup_id = PG_ARGISNULL(5) ? NULL : PG_GETARG_TEXT_PP(5);
	check_fifo_args(qi, group_id, dedup_id, !PG_ARGISNULL(3));
	pgmsg_check_message(qi, body, attributes);
	qs = pgmsg_queue_slot(qi);

	pgmsg_become_owner(&save_userid, &save_sec);
	msg_id = pgmsg_send_one(qi, qs, body, attributes, delay, group_id, dedup_id);
	pgmsg_restore_user(save_userid, save_sec);

	PG_RETURN_INT64(msg_id);
}

/*
 * The bodies argument of send_batch or publish_batch, which must not be
 * null and holds at most PGMSG_MAX_BATCH messages, the one limit of both
 * (its elements are checked by the caller).
 */
Datum *
pgmsg_batch_bodies(FunctionCallInfo fcinfo, int argno, bool **nulls, int *n)
{
	Datum	   *bodies;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("bodies must not be null")));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), JSONBOID, -1, false, TYPALIGN_INT,
					  &bodies, nulls, n);
	if (*n > PGMSG_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many messages in one batch"),
				 errdetail("A batch has at most %d messages; this one has %d.",
						   PGMSG_MAX_BATCH, *n)));
	return bodies;
}

/*
 * An optional array argument of send_batch or publish_batch, with one
 * element per body; NULL (and *nulls NULL) when the argument is.
 */
Datum *
pgmsg_batch_array(FunctionCallInfo fcinfo, int argno, Oid elemtype, const char *what,
				  int nbodies, bool **nulls)
{
	Datum	   *elems;
	int			n;

	*nulls = NULL;
	if (PG_ARGISNULL(argno))
		return NULL;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), elemtype, -1, false,
					  TYPALIGN_INT, &elems, nulls, &n);
	if (n != nbodies)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must have as many elements as bodies", what),
				 errdetail("There are %d bodies and %d %s.", nbodies, n, what)));
	return elems;
}

/*
 * pgmsg.send_batch(queue, bodies, attributes, delay, group_ids, dedup_ids)
 * returns the ids, in the order of the bodies.  Every message is checked
 * before any is sent.
 */
Datum
pgmsg_send_batch(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueInfo  *qi;
	QueueShared *qs;
	Datum	   *bodies;
	bool	   *body_nulls;
	int			nbodies;
	Datum	   *attrs;
	bool	   *attr_nulls;
	int64		delay;
	Oid			save_userid;
	int			save_sec;
	int64	   *ids;
	Datum	   *groups;
	bool	   *group_nulls;
	Datum	   *dedups;
	bool	   *dedup_nulls;

	pgmsg_refuse_in_recovery(gettext_noop("cannot send to queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_SEND);
	bodies = pgmsg_batch_bodies(fcinfo, 1, &body_nulls, &nbodies);
	attrs = pgmsg_batch_array(fcinfo, 2, JSONBOID, "attributes", nbodies, &attr_nulls);
	delay = pgmsg_interval_arg(fcinfo, 3, "delay", 0, PGMSG_MAX_DELAY, qi->delay);
	groups = pgmsg_batch_array(fcinfo, 4, TEXTOID, "group_ids", nbodies, &group_nulls);
	dedups = pgmsg_batch_array(fcinfo, 5, TEXTOID, "dedup_ids", nbodies, &dedup_nulls);
	for (int i = 0; i < nbodies; i++)
	{
		check_fifo_args(qi,
						groups != NULL && !group_nulls[i] ? DatumGetTextPP(groups[i]) : NULL,
						dedups != NULL && !dedup_nulls[i] ? DatumGetTextPP(dedups[i]) : NULL,
						!PG_ARGISNULL(3));
		if (body_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("message body must not be null"),
					 errdetail("Element %d of bodies is null.", i + 1)));
		pgmsg_check_message(qi, DatumGetJsonbP(bodies[i]),
					  attrs != NULL && !attr_nulls[i] ? DatumGetJsonbP(attrs[i]) : NULL);
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	qs = pgmsg_queue_slot(qi);
	ids = palloc(sizeof(int64) * Max(nbodies, 1));

	pgmsg_become_owner(&save_userid, &save_sec);
	for (int i = 0; i < nbodies; i++)
		ids[i] = pgmsg_send_one(qi, qs, DatumGetJsonbP(bodies[i]),
								attrs != NULL && !attr_nulls[i] ? DatumGetJsonbP(attrs[i]) : NULL,
								delay,
								groups != NULL && !group_nulls[i] ? DatumGetTextPP(groups[i]) : NULL,
								dedups != NULL && !dedup_nulls[i] ? DatumGetTextPP(dedups[i]) : NULL);
	pgmsg_restore_user(save_userid, save_sec);

	for (int i = 0; i < nbodies; i++)
	{
		Datum		value = Int64GetDatum(ids[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}
