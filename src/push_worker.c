/*-------------------------------------------------------------------------
 *
 * push_worker.c
 *		The push worker: where a message leaves the database.  It leases
 *		the messages of every push subscription's queue, sends them to AWS
 *		SNS (push_sns.c) or to a webhook (push_webhook.c) with many HTTP
 *		requests in flight at once on one curl multi handle, and settles
 *		each outcome: delete on delivery, a later retry, or the
 *		subscription's dead-letter queue.
 *
 * Where it runs: a dynamic background worker of its own per database,
 * started (and restarted when it exits) by the database's pgmsg worker
 * (worker.c) while push subscriptions exist.  Delivery therefore never
 * waits for a retention sweep or a redrive batch, and they never wait for
 * an endpoint.  It exits when the database has no push subscription left,
 * or pgmsg is dropped.  A session-level advisory lock in a key space of
 * pgmsg's own keeps it to one per database: its tag is that of an advisory
 * lock, but with a fourth field no SQL advisory lock function uses
 * (PUSH_LOCK_SPACE), and pgmsg's extension OID, so no application's
 * pg_advisory_lock() can ever take it.
 *
 * Delivery is at least once.  A message is received with the queue's
 * visibility timeout (30 s, longer than pgmsg.push_timeout), sent, and
 * deleted in a transaction after the endpoint accepted it.  If the worker
 * or the server dies between the endpoint's answer and that commit, the
 * lease lapses (or the restart forgets it) and the message is sent again:
 * those are the only duplicates.  A rolled-back publish never reaches the
 * queue, so it is never sent.
 *
 * Retries: a transient failure (timeout, connection error, 408, 429, 5xx,
 * SNS throttling, a failed SNS entry without SenderFault) keeps the
 * message leased for a backoff of pgmsg.push_retry_base doubled with each
 * consecutive failure of the subscription, capped at
 * pgmsg.push_max_backoff, with jitter over its upper half, and at least
 * what Retry-After asked for; the subscription sends nothing else but a
 * single probe request meanwhile.  A message received more than
 * pgmsg.push_max_attempts times, and any permanent failure (other 4xx,
 * SenderFault=true), goes to the dead-letter queue with its error as the
 * attribute "pgmsg_error" (when it has room for an eleventh).
 *
 * Credentials: the settings pgmsg.aws_* are superuser-only and never
 * logged; the line a reload logs when one changes goes out without its
 * value (hide_credentials).
 *
 * Commits: the worker's transactions commit asynchronously
 * (synchronous_commit = off), so settling a batch costs no WAL flush.  A
 * crash may lose the last of them; what they deleted is then delivered
 * again, a duplicate like any other after a crash, and nothing is lost.
 *
 * Wakeups: the worker writes its pgprocno into the shared slot of each of
 * its queues (QueueShared.push_proc); a transaction that sent to such a
 * queue sets the worker's latch when it commits (xact.c), so delivery
 * starts at once, as a long-polling receive would.  It also looks at each
 * queue at least every second.
 *
 * Blocking: never on an endpoint.  The worker sleeps in one wait on its
 * latch and on the sockets of the requests in flight, until either is
 * ready, curl's next timeout (a request's, or a name lookup's) or the next
 * backoff ends; with nothing in flight, on its latch alone.  An idle worker,
 * or one whose requests hang, does not wake up but to look at its queues
 * every PUSH_IDLE_MS.
 * Each subscription's receive and settle runs in a transaction of its
 * own, so a dropped queue fails only its own unit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/select.h>

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "catalog.h"
#include "pgmsg.h"
#include "push.h"
#include "push_worker.h"
#include "shmem.h"

PGDLLEXPORT void pgmsg_push_main(Datum arg);

#define PUSH_LOOKUP_MS			10		/* longest sleep while curl has no socket */
#define PUSH_IDLE_MS			1000	/* each queue is looked at this often */
#define PUSH_RELOAD_MS			10000	/* subscriptions reread this often */
#define PUSH_RESPONSE_MAX		(64 * 1024)
#define PUSH_ERROR_MAX			1000

bool		pgmsg_allow_insecure_push = false;
char	   *pgmsg_aws_access_key_id = NULL;
char	   *pgmsg_aws_secret_access_key = NULL;
char	   *pgmsg_aws_session_token = NULL;
int			pgmsg_push_timeout = 10000;
static char *push_ca_file = NULL;
static int	push_concurrency = 32;
static int	push_max_attempts = 100;
static int	push_retry_base = 200;
static int	push_max_backoff = 60000;

/* A credential GUC: reloadable, shown to superusers only, never listed. */
static void
define_secret(const char *name, const char *desc, char **var)
{
	DefineCustomStringVariable(name, desc, NULL, var, "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL |
							   GUC_NOT_IN_SAMPLE,
							   NULL, NULL, NULL);
}

static emit_log_hook_type prev_emit_log_hook = NULL;

/*
 * A reload that changes a setting makes the postmaster log "parameter
 * \"...\" changed to \"<value>\"" (and each backend, at DEBUG2): for the
 * credential settings the line goes out without the value.
 */
static void
hide_credentials(ErrorData *edata)
{
	static const char *const names[] = {
		"pgmsg.aws_access_key_id", "pgmsg.aws_secret_access_key",
		"pgmsg.aws_session_token"
	};

	if (edata->message_id != NULL && edata->message != NULL &&
		strcmp(edata->message_id, "parameter \"%s\" changed to \"%s\"") == 0)
	{
		for (int i = 0; i < lengthof(names); i++)
			if (strstr(edata->message, names[i]) != NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(ErrorContext);

				edata->message = psprintf("parameter \"%s\" changed", names[i]);
				MemoryContextSwitchTo(old);
				break;
			}
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Define the push GUCs; called from _PG_init while preloading.
 */
void
pgmsg_push_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = hide_credentials;

	DefineCustomBoolVariable("pgmsg.allow_insecure_push",
							 "Allows push subscriptions to plain http:// URLs.",
							 "Meant for tests: requests and their signatures travel unencrypted.",
							 &pgmsg_allow_insecure_push, false,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	define_secret("pgmsg.aws_access_key_id",
				  "AWS access key id the push worker signs SNS requests with.",
				  &pgmsg_aws_access_key_id);
	define_secret("pgmsg.aws_secret_access_key",
				  "AWS secret access key the push worker signs SNS requests with.",
				  &pgmsg_aws_secret_access_key);
	define_secret("pgmsg.aws_session_token",
				  "AWS session token sent with SNS requests, for temporary credentials.",
				  &pgmsg_aws_session_token);
	DefineCustomStringVariable("pgmsg.push_ca_file",
							   "File of CA certificates push requests verify TLS servers with.",
							   "Empty: libcurl's default bundle.",
							   &push_ca_file, "", PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.push_timeout",
							"How long a push request may take before it is retried.",
							NULL, &pgmsg_push_timeout, 10000, 100, 20000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.push_concurrency",
							"Requests in flight at once per push subscription.",
							NULL, &push_concurrency, 32, 1, 256,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.push_max_attempts",
							"Delivery attempts of a pushed message before it is dead-lettered.",
							NULL, &push_max_attempts, 100, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.push_retry_base",
							"Backoff after the first failed push request; it doubles with each further failure.",
							NULL, &push_retry_base, 200, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.push_max_backoff",
							"Longest backoff between push retries.",
							NULL, &push_max_backoff, 60000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}

/* A subscription and the worker's state of it. */
typedef struct SubState
{
	PushSub		sub;
	MemoryContext cxt;			/* owns sub */
	bool		seen;			/* still there at the last reload */
	int			inflight;		/* requests running */
	int			failures;		/* consecutive failed requests */
	TimestampTz resume_at;		/* backoff: no new requests before */
	TimestampTz polled_at;		/* last receive */
	bool		maybe_more;		/* receive again without waiting */
	int64		retry_delay_ms;	/* for the retries being settled */
	List	   *done;			/* completed requests, to settle */
	HTAB	   *retrying;		/* msg ids whose last attempt failed */
	int64		inherited;		/* messages leased before this worker ran */
	char	   *last_error;		/* since the last settle, in cxt */
} SubState;

static void note_failure(struct SubState *s, long retry_after);

static CURLM *multi = NULL;
static List *subs = NIL;		/* of SubState *, in TopMemoryContext */
static uint64 loaded_generation = 0;
static TimestampTz loaded_at = 0;
static bool extension_gone = false;
static ResourceOwner push_owner = NULL;
static bool claimed = false;

/*
 * The push lock's key space: the fourth field of an advisory lock tag, which
 * is 1 for pg_advisory_lock(bigint) and 2 for pg_advisory_lock(int, int).
 */
#define PUSH_LOCK_SPACE			0x706d		/* "pm" */

/*
 * Helpers for the protocols
 */

void
push_request_error(PushRequest *req, PushOutcome outcome, const char *fmt,...)
{
	va_list		ap;
	char		buf[PUSH_ERROR_MAX];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (int i = 0; i < req->nmsgs; i++)
		if (req->outcomes[i] == OUTCOME_PENDING)
		{
			req->outcomes[i] = outcome;
			req->errors[i] = pstrdup(buf);
		}
}

/*
 * The text a message is delivered as: a JSON string body as the string
 * itself (as SNS's Message), anything else as its JSON text.
 */
char *
push_message_text(Jsonb *body, bool *is_json)
{
	JsonbValue	v;

	if (JB_ROOT_IS_SCALAR(body) && JsonbExtractScalar(&body->root, &v) &&
		v.type == jbvString)
	{
		*is_json = false;
		return pnstrdup(v.val.string.val, v.val.string.len);
	}
	*is_json = true;
	return JsonbToCString(NULL, &body->root, VARSIZE(body));
}

/*
 * A message's id as the endpoint sees it, the same on every attempt: the
 * MessageId of SNS's envelope, or for raw delivery one made of the
 * subscription and the queue's message id.
 */
char *
push_message_id(PushSub *sub, PushMsg *m)
{
	if (!sub->raw && JB_ROOT_IS_OBJECT(m->body) && !JB_ROOT_IS_SCALAR(m->body))
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&m->body->root, "MessageId",
													 strlen("MessageId"), NULL);

		if (v != NULL && v->type == jbvString)
			return pnstrdup(v->val.string.val, v->val.string.len);
	}
	return psprintf("pgmsg-%d-" INT64_FORMAT, sub->subscription_id, m->msg_id);
}

static size_t
write_response(char *data, size_t size, size_t nmemb, void *arg)
{
	PushRequest *req = arg;
	size_t		n = size * nmemb;

	if (req->response.len < PUSH_RESPONSE_MAX)
		appendBinaryStringInfo(&req->response, data,
							   Min(n, PUSH_RESPONSE_MAX - req->response.len));
	return n;
}

/*
 * A curl handle for a POST of req's body to url, with req's headers.
 * TLS is verified; redirects are not followed.
 */
CURL *
push_easy_new(PushRequest *req, const char *url)
{
	CURL	   *e = curl_easy_init();

	if (e == NULL)
		elog(ERROR, "out of memory");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (push_ca_file && push_ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, push_ca_file);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body.data);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) req->body.len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) pgmsg_push_timeout);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) Min(pgmsg_push_timeout, 5000));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_response);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(e, CURLOPT_PRIVATE, req);
	return e;
}

/*
 * Units of work, each in its own transaction, as worker.c runs them.
 */
typedef void (*PushUnit) (void *arg);

static bool
lock_extension(void)
{
	Oid			extoid = get_extension_oid("pgmsg", true);

	if (!OidIsValid(extoid))
		return false;
	LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
	return OidIsValid(get_extension_oid("pgmsg", true));
}

static bool
run_unit(const char *activity, PushUnit func, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	CHECK_FOR_INTERRUPTS();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);
		if (lock_extension())
			func(arg);
		else
			extension_gone = true;
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		AbortCurrentTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(cxt);
	return ok;
}

static char *
spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static SubState *
find_sub(int32 id)
{
	ListCell   *lc;

	foreach(lc, subs)
	{
		SubState   *s = lfirst(lc);

		if (s->sub.subscription_id == id)
			return s;
	}
	return NULL;
}

/*
 * The messages of a subscription's queue in flight before this worker first
 * receives from it: those a previous push worker was retrying, or had sent
 * when it exited.  They count as retrying until they are received again,
 * once their leases lapse.  The caller's SPI result stays valid.
 */
static int64
inherited_leases(int32 queue_id)
{
	SPITupleTable *saved = SPI_tuptable;
	uint64		saved_processed = SPI_processed;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	int64		n = 0;
	bool		isnull;

	args[0] = Int32GetDatum(queue_id);
	if (SPI_execute_with_args("SELECT messages_in_flight FROM pgmsg.queue_stats()"
							  " WHERE queue_id OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the messages in flight of a push queue");
	if (SPI_processed == 1)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		n = isnull ? 0 : DatumGetInt64(d);
	}
	SPI_tuptable = saved;
	SPI_processed = saved_processed;
	return n;
}

/*
 * Read the push subscriptions, keeping the state of those still there, and
 * register as the waker of their queues.
 */
static void
unit_load(void *arg)
{
	ListCell   *lc;

	if (SPI_execute("SELECT p.subscription_id, p.protocol, t.name, q.name, d.name,"
					"       q.queue_id, q.fifo, s.raw_message_delivery, p.endpoint,"
					"       p.region, p.endpoint_url, p.headers, p.secret"
					"  FROM pgmsg.push_subscription p"
					"  JOIN pgmsg.subscription s USING (subscription_id)"
					"  JOIN pgmsg.topic_meta t USING (topic_id)"
					"  JOIN pgmsg.queue_meta q ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
					"  JOIN pgmsg.queue_meta d ON d.queue_id OPERATOR(pg_catalog.=) p.dead_letter_queue_id"
					" ORDER BY p.subscription_id", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read push subscriptions");

	foreach(lc, subs)
		((SubState *) lfirst(lc))->seen = false;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int32		id = atoi(spi_text(i, 1));
		SubState   *s = find_sub(id);
		PushSub    *p;
		MemoryContext old;
		char	   *secret = spi_text(i, 13);
		char	   *headers = spi_text(i, 12);
		QueueShared *qs;

		if (s == NULL)
		{
			HASHCTL		ctl;

			s = MemoryContextAllocZero(TopMemoryContext, sizeof(SubState));
			s->cxt = AllocSetContextCreate(TopMemoryContext, "pgmsg push subscription",
										   ALLOCSET_SMALL_SIZES);
			ctl.keysize = sizeof(int64);
			ctl.entrysize = sizeof(int64);
			ctl.hcxt = TopMemoryContext;
			s->retrying = hash_create("pgmsg push retrying", 64, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			s->maybe_more = true;
			s->inherited = inherited_leases(atoi(spi_text(i, 6)));
			old = MemoryContextSwitchTo(TopMemoryContext);
			subs = lappend(subs, s);
			MemoryContextSwitchTo(old);
		}
		else if (s->inflight == 0)
			MemoryContextReset(s->cxt);
		else
		{
			/* requests in flight point into it; the settings stay until they end */
			s->seen = true;
			continue;
		}
		s->seen = true;
		old = MemoryContextSwitchTo(s->cxt);
		p = &s->sub;
		p->subscription_id = id;
		p->protocol = strcmp(spi_text(i, 2), "sns") == 0 ? PUSH_SNS : PUSH_HTTPS;
		p->topic = pstrdup(spi_text(i, 3));
		p->topic_arn = psprintf("arn:pgmsg:%s:%s", get_database_name(MyDatabaseId), p->topic);
		p->queue = pstrdup(spi_text(i, 4));
		p->dead_letter_queue = pstrdup(spi_text(i, 5));
		p->queue_id = atoi(spi_text(i, 6));
		p->fifo = strcmp(spi_text(i, 7), "t") == 0;
		p->raw = strcmp(spi_text(i, 8), "t") == 0;
		p->endpoint = pstrdup(spi_text(i, 9));
		p->region = spi_text(i, 10) ? pstrdup(spi_text(i, 10)) : NULL;
		if (p->protocol == PUSH_SNS)
			p->request_url = spi_text(i, 11) ? pstrdup(spi_text(i, 11)) :
				psprintf("https://sns.%s.amazonaws.com/", p->region);
		else
			p->request_url = p->endpoint;
		p->headers = headers ? DatumGetJsonbPCopy(DirectFunctionCall1(jsonb_in, CStringGetDatum(headers))) : NULL;
		p->key = NULL;
		if (secret != NULL && !webhook_decode_secret(secret, &p->key, &p->keylen))
			p->key = NULL;
		if (secret != NULL)
			explicit_bzero(secret, strlen(secret));
		MemoryContextSwitchTo(old);

		/* NULL: the subscription was removed since this snapshot was taken */
		qs = pgmsg_queue_shared(p->queue_id, true);
		if (qs == NULL)
		{
			s->seen = false;
			continue;
		}
		pg_atomic_write_u32(&qs->push_proc, MyProc->pgprocno + 1);
	}
}

/*
 * Take this database's push lock, a session-level advisory lock in
 * pgmsg's own key space (see the header comment), held until the worker
 * exits.
 */
static void
unit_claim(void *arg)
{
	LOCKTAG		tag;
	Oid			extoid = get_extension_oid("pgmsg", false);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, extoid, 0, PUSH_LOCK_SPACE);
	claimed = LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

/* Forget subscriptions that are gone and have nothing in flight. */
static void
prune_subs(void)
{
	List	   *keep = NIL;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	foreach(lc, subs)
	{
		SubState   *s = lfirst(lc);

		if (s->seen || s->inflight > 0 || s->done != NIL)
			keep = lappend(keep, s);
		else
		{
			hash_destroy(s->retrying);
			MemoryContextDelete(s->cxt);
			pfree(s);
		}
	}
	list_free(subs);
	subs = keep;
	MemoryContextSwitchTo(old);
}

static void
load_subs(void)
{
	if (run_unit("reading push subscriptions", unit_load, NULL))
	{
		loaded_generation = pgmsg_catalog_generation();
		loaded_at = GetCurrentTimestamp();
	}
	prune_subs();
}

/* A new request of sub for n messages, in a memory context of its own. */
static PushRequest *
new_request(SubState *s, int n)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "pgmsg push request",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PushRequest *req = palloc0(sizeof(PushRequest));

	req->sub = &s->sub;
	req->msgs = palloc0(sizeof(PushMsg *) * n);
	req->outcomes = palloc0(sizeof(PushOutcome) * n);
	req->errors = palloc0(sizeof(char *) * n);
	req->retry_after = -1;
	initStringInfo(&req->body);
	initStringInfo(&req->response);
	MemoryContextSwitchTo(old);
	return req;
}

static MemoryContext
request_cxt(PushRequest *req)
{
	return GetMemoryChunkContext(req);
}

/* Copy row i of the receive's result into req's context. */
static PushMsg *
copy_msg(PushRequest *req, int row)
{
	MemoryContext old = MemoryContextSwitchTo(request_cxt(req));
	PushMsg    *m = palloc0(sizeof(PushMsg));
	HeapTuple	tup = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	Datum		d;

	m->msg_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	m->receipt = SPI_getvalue(tup, desc, 2);
	m->body = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 3, &isnull));
	d = SPI_getbinval(tup, desc, 4, &isnull);
	m->attributes = isnull ? NULL : DatumGetJsonbPCopy(d);
	m->receive_count = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	m->group_id = SPI_getvalue(tup, desc, 6);
	MemoryContextSwitchTo(old);
	return m;
}

static void
free_request(PushRequest *req)
{
	if (req->easy)
		curl_easy_cleanup(req->easy);
	if (req->headers)
		curl_slist_free_all(req->headers);
	MemoryContextDelete(request_cxt(req));
}

/*
 * Start req: build it, and hand it to the multi handle.  A request that
 * could not be built (no credentials) completes at once.
 */
static void
start_request(SubState *s, PushRequest *req)
{
	MemoryContext old = MemoryContextSwitchTo(request_cxt(req));
	ResourceOwner save_owner;

	for (int i = 0; i < req->nmsgs; i++)
		if (req->msgs[i]->receive_count > push_max_attempts)
			req->outcomes[i] = OUTCOME_DEAD_LETTER;
	s->inflight++;

	/*
	 * Outside a transaction: the HMAC of a webhook signature needs a
	 * resource owner all the same.
	 */
	if (push_owner == NULL)
		push_owner = ResourceOwnerCreate(NULL, "pgmsg push worker");
	save_owner = CurrentResourceOwner;
	CurrentResourceOwner = push_owner;
	if (s->sub.protocol == PUSH_SNS)
		sns_build_request(req);
	else
		webhook_build_request(req);
	CurrentResourceOwner = save_owner;
	MemoryContextSwitchTo(old);
	if (req->easy == NULL || curl_multi_add_handle(multi, req->easy) != CURLM_OK)
	{
		push_request_error(req, OUTCOME_RETRY, "could not start a request");
		s->inflight--;
		note_failure(s, -1);
		s->done = lappend(s->done, req);
	}
}

typedef struct ReceiveArg
{
	SubState   *s;
	List	   *reqs;			/* built requests */
} ReceiveArg;

/* The list outlives the unit's transaction, and its SPI memory. */
static void
keep_request(ReceiveArg *ra, PushRequest *req)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	ra->reqs = lappend(ra->reqs, req);
	MemoryContextSwitchTo(old);
}

/*
 * Receive what a subscription can send now.  A FIFO queue is received
 * from one message at a time: each receive then comes from a group with
 * nothing in flight, so a request carries at most one message of a group
 * and concurrent requests never reorder a group.  That holds for an SNS
 * batch too, built of up to SNS_BATCH_ENTRIES such receives: were a
 * group's second message in the batch accepted while its first failed, it
 * would reach SNS ahead of the first's retry.
 */
static void
unit_receive(void *arg)
{
	ReceiveArg *ra = arg;
	SubState   *s = ra->s;
	int			slots = (s->failures > 0 ? 1 : push_concurrency) - s->inflight;
	bool		sns = s->sub.protocol == PUSH_SNS;
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	int			per_call = s->sub.fifo ? 1 : (sns ? SNS_BATCH_ENTRIES : slots);
	int			calls_per_request = (sns && s->sub.fifo) ? SNS_BATCH_ENTRIES : 1;
	int			requests = (sns || s->sub.fifo) ? slots : 1;
	bool		exhausted = false;

	args[0] = CStringGetTextDatum(s->sub.queue);
	args[1] = Int32GetDatum(per_call);
	s->maybe_more = false;
	for (int r = 0; r < requests && !exhausted; r++)
	{
		PushRequest *req = NULL;
		int			batch_bytes = 0;

		for (int c = 0; c < calls_per_request; c++)
		{
			if (SPI_execute_with_args("SELECT message_id, receipt, body, attributes,"
									  "       receive_count, group_id"
									  "  FROM pgmsg.receive($1, $2)",
									  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "could not receive from \"%s\"", s->sub.queue);
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				PushMsg    *m;

				if (req != NULL && sns && req->nmsgs < SNS_BATCH_ENTRIES)
				{
					/* a batch ends at 256 KiB */
					m = copy_msg(req, i);
					if (batch_bytes + sns_entry_size(m) > SNS_BATCH_BYTES && req->nmsgs > 0)
					{
						keep_request(ra, req);
						req = new_request(s, SNS_BATCH_ENTRIES);
						m = copy_msg(req, i);
						batch_bytes = 0;
					}
				}
				else
				{
					if (req != NULL)
						keep_request(ra, req);
					req = new_request(s, sns ? SNS_BATCH_ENTRIES : 1);
					m = copy_msg(req, i);
					batch_bytes = 0;
				}
				if (sns)
				{
					int			size = sns_entry_size(m);

					batch_bytes += size;
					if (size > SNS_BATCH_BYTES)
					{
						req->outcomes[req->nmsgs] = OUTCOME_DEAD_LETTER;
						req->errors[req->nmsgs] =
							MemoryContextStrdup(request_cxt(req),
												"message and attributes exceed SNS's 256 KiB");
					}
				}
				/* a message a previous worker left in flight is back */
				if (m->receive_count >= 2 && s->inherited > 0 &&
					hash_search(s->retrying, &m->msg_id, HASH_FIND, NULL) == NULL)
					s->inherited--;
				req->msgs[req->nmsgs++] = m;
			}
			/* the queue had fewer, or no FIFO group is free */
			if (SPI_processed < (uint64) per_call)
			{
				exhausted = true;
				break;
			}
		}
		if (req != NULL)
			keep_request(ra, req);
	}
	/* every request was filled: there may be more to send */
	if (!exhausted)
		s->maybe_more = true;
}

static void
receive_for(SubState *s)
{
	ReceiveArg	ra;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	ra.s = s;
	ra.reqs = NIL;
	s->polled_at = GetCurrentTimestamp();
	if (!run_unit("receiving messages to push", unit_receive, &ra))
	{
		/* leases taken were released by the abort */
		foreach(lc, ra.reqs)
			free_request(lfirst(lc));
		list_free(ra.reqs);
		s->maybe_more = false;
		MemoryContextSwitchTo(old);
		return;
	}
	foreach(lc, ra.reqs)
	{
		PushRequest *req = lfirst(lc);
		bool		all_decided = true;

		for (int i = 0; i < req->nmsgs; i++)
			if (req->outcomes[i] == OUTCOME_PENDING &&
				req->msgs[i]->receive_count <= push_max_attempts)
				all_decided = false;
		if (all_decided)
		{
			for (int i = 0; i < req->nmsgs; i++)
				if (req->outcomes[i] == OUTCOME_PENDING)
					req->outcomes[i] = OUTCOME_DEAD_LETTER;
			s->done = lappend(s->done, req);
		}
		else
			start_request(s, req);
	}
	list_free(ra.reqs);
	MemoryContextSwitchTo(old);
}

/* Backoff after the subscription's latest consecutive failure. */
static int64
backoff_ms(SubState *s, long retry_after)
{
	double		delay = push_retry_base * pow(2.0, Min(s->failures - 1, 30));
	int64		ms;

	delay = Min(delay, (double) push_max_backoff);
	/* jitter over the upper half, so failing subscriptions spread out */
	ms = (int64) (delay / 2 + pg_prng_double(&pg_global_prng_state) * delay / 2);
	if (retry_after >= 0)
		ms = Max(ms, Min((int64) retry_after * 1000, PGMSG_MAX_VISIBILITY / 1000));
	return Max(ms, 1);
}

/* A request failed, wholly or partly: the subscription backs off. */
static void
note_failure(SubState *s, long retry_after)
{
	s->failures++;
	s->retry_delay_ms = backoff_ms(s, retry_after);
	s->resume_at = Max(s->resume_at,
					   TimestampTzPlusMilliseconds(GetCurrentTimestamp(), s->retry_delay_ms));
}

/* A request finished: judge it, and queue it for settling. */
static void
finish_request(PushRequest *req, CURLcode rc)
{
	SubState   *s = (SubState *) req->sub;	/* sub is SubState's first member */
	MemoryContext old = MemoryContextSwitchTo(request_cxt(req));
	bool		failed = false;
	bool		delivered = false;
	long		status = 0;

	if (rc != CURLE_OK)
		push_request_error(req, OUTCOME_RETRY, "%s", curl_easy_strerror(rc));
	else
	{
		curl_off_t	ra = -1;

		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		if (curl_easy_getinfo(req->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			req->retry_after = (long) ra;
		if (s->sub.protocol == PUSH_SNS)
			sns_parse_response(req, status);
		else
			webhook_parse_response(req, status);
	}
	for (int i = 0; i < req->nmsgs; i++)
	{
		if (req->outcomes[i] == OUTCOME_RETRY)
			failed = true;
		else if (req->outcomes[i] == OUTCOME_DELIVERED)
			delivered = true;
	}
	MemoryContextSwitchTo(old);

	s->inflight--;
	if (failed)
		note_failure(s, req->retry_after);
	else if (delivered)
		s->failures = 0;
	s->done = lappend(s->done, req);
}

static void
collect_completions(void)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		PushRequest *req;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
		curl_multi_remove_handle(multi, msg->easy_handle);
		finish_request(req, msg->data.result);
	}
}

static Datum
text_array(List *items)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(items), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, items)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Settle a subscription's completed requests in one transaction: delete
 * what was delivered, keep what is retried leased for the backoff, move
 * what failed for good to the dead-letter queue, and record the counts.
 */
static void
unit_settle(void *arg)
{
	SubState   *s = arg;
	List	   *deliver = NIL;
	List	   *retry = NIL;
	int64		ndead = 0;
	char	   *last_error = NULL;
	ListCell   *lc;
	Oid			t2[2] = {TEXTOID, TEXTARRAYOID};
	Datum		a2[2];
	Oid			t3[3] = {TEXTOID, TEXTARRAYOID, INTERVALOID};
	Datum		a3[3];
	Oid			tdl[5] = {TEXTOID, JSONBOID, JSONBOID, TEXTOID, TEXTOID};
	Datum		adl[5];
	char		ndl[5];
	Oid			tst[5] = {INT4OID, INT8OID, INT8OID, INT4OID, TEXTOID};
	Datum		ast[5];
	char		nst[5] = {' ', ' ', ' ', ' ', 'n'};
	bool		found;

	foreach(lc, s->done)
	{
		PushRequest *req = lfirst(lc);

		for (int i = 0; i < req->nmsgs; i++)
		{
			PushMsg    *m = req->msgs[i];

			switch (req->outcomes[i])
			{
				case OUTCOME_DELIVERED:
					deliver = lappend(deliver, m->receipt);
					hash_search(s->retrying, &m->msg_id, HASH_REMOVE, NULL);
					break;
				case OUTCOME_PENDING:
				case OUTCOME_RETRY:
					retry = lappend(retry, m->receipt);
					hash_search(s->retrying, &m->msg_id, HASH_ENTER, &found);
					if (req->errors[i])
						last_error = req->errors[i];
					break;
				case OUTCOME_DEAD_LETTER:
					{
						char	   *error = req->errors[i];

						if (error == NULL)
							error = psprintf("gave up after %d delivery attempts%s%s",
											 m->receive_count - 1,
											 s->last_error ? ": " : "",
											 s->last_error ? s->last_error : "");
						last_error = error;
						adl[0] = CStringGetTextDatum(s->sub.dead_letter_queue);
						adl[1] = JsonbPGetDatum(m->body);
						adl[2] = m->attributes ? JsonbPGetDatum(m->attributes) : (Datum) 0;
						adl[3] = CStringGetTextDatum(error);
						adl[4] = m->group_id ? CStringGetTextDatum(m->group_id) : (Datum) 0;
						ndl[0] = ndl[1] = ndl[3] = ' ';
						ndl[2] = m->attributes ? ' ' : 'n';
						ndl[4] = m->group_id ? ' ' : 'n';
						if (SPI_execute_with_args("SELECT pgmsg.send($1, $2,"
												  " CASE WHEN (SELECT pg_catalog.count(*) FROM pg_catalog.jsonb_object_keys(COALESCE($3, '{}'::pg_catalog.jsonb))) OPERATOR(pg_catalog.<) 10"
												  "      THEN COALESCE($3, '{}'::pg_catalog.jsonb) OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('pgmsg_error', $4)"
												  "      ELSE $3 END,"
												  " group_id => $5)",
												  5, tdl, adl, ndl, false, 0) != SPI_OK_SELECT)
							elog(ERROR, "could not dead-letter a message");
						deliver = lappend(deliver, m->receipt);
						hash_search(s->retrying, &m->msg_id, HASH_REMOVE, NULL);
						ndead++;
						break;
					}
			}
		}
	}

	a2[0] = a3[0] = CStringGetTextDatum(s->sub.queue);
	if (deliver != NIL)
	{
		a2[1] = text_array(deliver);
		pgmsg_spi_exec("SELECT pgmsg.delete($1, $2)", 2, t2, a2, SPI_OK_SELECT);
	}
	if (retry != NIL)
	{
		a3[1] = text_array(retry);
		a3[2] = DirectFunctionCall7(make_interval, Int32GetDatum(0), Int32GetDatum(0),
									Int32GetDatum(0), Int32GetDatum(0), Int32GetDatum(0),
									Int32GetDatum(0),
									Float8GetDatum(Max(s->retry_delay_ms, 1) / 1000.0));
		pgmsg_spi_exec("SELECT pgmsg.change_visibility($1, $2, $3)", 3, t3, a3, SPI_OK_SELECT);
	}
	ast[0] = Int32GetDatum(s->sub.subscription_id);
	ast[1] = Int64GetDatum((int64) list_length(deliver) - ndead);
	ast[2] = Int64GetDatum(ndead);
	ast[3] = Int32GetDatum((int32) Min(hash_get_num_entries(s->retrying) + s->inherited,
									   PG_INT32_MAX));
	if (last_error)
	{
		ast[4] = CStringGetTextDatum(last_error);
		nst[4] = ' ';
		s->last_error = MemoryContextStrdup(s->cxt, last_error);
	}
	if (SPI_execute_with_args("UPDATE pgmsg.push_subscription"
				   "   SET delivered = delivered OPERATOR(pg_catalog.+) $2,"
				   "       dead_lettered = dead_lettered OPERATOR(pg_catalog.+) $3,"
				   "       retrying = $4,"
				   "       last_error = COALESCE($5, last_error),"
				   "       last_error_at = CASE WHEN $5 IS NULL THEN last_error_at"
				   "                            ELSE pg_catalog.clock_timestamp() END,"
				   "       last_success_at = CASE WHEN $2 OPERATOR(pg_catalog.>) 0"
				   "                              THEN pg_catalog.clock_timestamp()"
				   "                              ELSE last_success_at END"
				   " WHERE subscription_id OPERATOR(pg_catalog.=) $1",
				   5, tst, ast, nst, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record push delivery counts");
}

static void
settle(SubState *s)
{
	MemoryContext old = CurrentMemoryContext;
	ListCell   *lc;
	MemoryContext tmp = AllocSetContextCreate(TopMemoryContext, "pgmsg push settle",
											  ALLOCSET_DEFAULT_SIZES);

	MemoryContextSwitchTo(tmp);
	(void) run_unit("settling pushed messages", unit_settle, s);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	/* on failure the leases lapse and the messages are sent again */
	foreach(lc, s->done)
		free_request(lfirst(lc));
	list_free(s->done);
	s->done = NIL;
	s->maybe_more = true;
}

/*
 * Sleep until the latch is set, a socket of a request in flight is ready,
 * curl's next timeout comes, or wait_ms passes.  curl_multi_fdset leaves
 * out a socket numbered FD_SETSIZE or above; such a request is then served
 * by the timeouts alone, late but not lost.
 */
static void
wait_for_requests(long wait_ms)
{
	fd_set		readable;
	fd_set		writable;
	fd_set		other;
	int			maxfd = -1;
	long		curl_ms = -1;
	int			nsockets = 0;
	WaitEventSet *set;
	WaitEvent	event;

	FD_ZERO(&readable);
	FD_ZERO(&writable);
	FD_ZERO(&other);
	if (curl_multi_fdset(multi, &readable, &writable, &other, &maxfd) != CURLM_OK)
		maxfd = -1;
	if (curl_multi_timeout(multi, &curl_ms) == CURLM_OK && curl_ms >= 0)
		wait_ms = Min(wait_ms, curl_ms);
	/* no socket yet: a name lookup runs in a thread of curl's */
	if (maxfd < 0)
		wait_ms = Min(wait_ms, PUSH_LOOKUP_MS);
	for (int fd = 0; fd <= maxfd; fd++)
		if (FD_ISSET(fd, &readable) || FD_ISSET(fd, &writable))
			nsockets++;

	set = CreateWaitEventSet(CurrentMemoryContext, nsockets + 2);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int fd = 0; fd <= maxfd; fd++)
	{
		uint32		events = 0;

		if (FD_ISSET(fd, &readable))
			events |= WL_SOCKET_READABLE;
		if (FD_ISSET(fd, &writable))
			events |= WL_SOCKET_WRITEABLE;
		if (events != 0)
			AddWaitEventToSet(set, events, fd, NULL, NULL);
	}
	(void) WaitEventSetWait(set, wait_ms, &event, 1, PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);
}

static void
push_exit(int code, Datum arg)
{
	ListCell   *lc;

	foreach(lc, subs)
	{
		SubState   *s = lfirst(lc);
		QueueShared *qs = pgmsg_queue_shared(s->sub.queue_id, false);
		uint32		mine = MyProc->pgprocno + 1;

		if (qs != NULL)
			pg_atomic_compare_exchange_u32(&qs->push_proc, &mine, 0);
	}
}

void
pgmsg_push_main(Datum arg)
{
	int			running = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);
	/* see "Commits" in the header comment */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
		(multi = curl_multi_init()) == NULL)
		ereport(ERROR,
				(errmsg("pgmsg push worker could not initialize libcurl")));
	before_shmem_exit(push_exit, (Datum) 0);

	/*
	 * One push worker per database: a database worker restarted after an
	 * error may start a second one while the first still runs.
	 */
	if (!run_unit("claiming push delivery", unit_claim, NULL) || !claimed)
	{
		ereport(DEBUG1,
				(errmsg_internal("pgmsg push worker exits: another one runs in this database")));
		proc_exit(0);
	}

	for (;;)
	{
		TimestampTz now;
		long		wait_ms = PUSH_IDLE_MS;
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		if (subs == NIL || loaded_generation != pgmsg_catalog_generation() ||
			now >= TimestampTzPlusMilliseconds(loaded_at, PUSH_RELOAD_MS))
			load_subs();
		if (extension_gone || (subs == NIL && running == 0))
			proc_exit(0);

		now = GetCurrentTimestamp();
		foreach(lc, subs)
		{
			SubState   *s = lfirst(lc);
			int			cap = s->failures > 0 ? 1 : push_concurrency;

			if (!s->seen || s->inflight >= cap || now < s->resume_at)
				continue;
			if (s->maybe_more ||
				now >= TimestampTzPlusMilliseconds(s->polled_at, PUSH_IDLE_MS))
				receive_for(s);
		}

		curl_multi_perform(multi, &running);
		collect_completions();
		foreach(lc, subs)
		{
			SubState   *s = lfirst(lc);

			if (s->done != NIL)
				settle(s);
		}

		/* sleep until new messages, a completion, or the next backoff ends */
		now = GetCurrentTimestamp();
		foreach(lc, subs)
		{
			SubState   *s = lfirst(lc);
			long		ms;

			if (s->maybe_more && now >= s->resume_at)
				wait_ms = 0;
			else if (s->resume_at > now)
			{
				ms = (long) ((s->resume_at - now + 999) / 1000);
				wait_ms = Min(wait_ms, ms);
			}
		}
		if (wait_ms == 0)
			continue;
		if (running > 0)
			wait_for_requests(wait_ms);
		else
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 wait_ms, PG_WAIT_EXTENSION);
		if (WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					  0, PG_WAIT_EXTENSION) & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			foreach(lc, subs)
				((SubState *) lfirst(lc))->maybe_more = true;
		}
	}
}

/*
 * Called by the database's pgmsg worker in every round: start the push
 * worker if push subscriptions exist and it is not running, and wake it
 * if it is (subscriptions may have changed).  *handle persists between
 * calls.
 */
bool
pgmsg_push_worker_check(BackgroundWorkerHandle **handle, bool have_subscriptions)
{
	BackgroundWorker w;
	pid_t		pid;
	MemoryContext old;
	bool		registered;

	if (*handle != NULL)
	{
		BgwHandleStatus st = GetBackgroundWorkerPid(*handle, &pid);

		if (st == BGWH_STARTED)
		{
			PGPROC	   *proc = BackendPidGetProc(pid);

			if (proc != NULL)
				SetLatch(&proc->procLatch);
			return true;
		}
		if (st == BGWH_NOT_YET_STARTED)
			return true;
		pfree(*handle);
		*handle = NULL;
	}
	if (!have_subscriptions)
		return false;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pgmsg");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "pgmsg_push_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "pgmsg push worker");
	snprintf(w.bgw_type, BGW_MAXLEN, "pgmsg push worker");
	w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	w.bgw_notify_pid = MyProcPid;
	/* the handle must outlive the caller's round */
	old = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&w, handle);
	MemoryContextSwitchTo(old);
	if (!registered)
	{
		*handle = NULL;
		ereport(LOG,
				(errmsg("could not start the pgmsg push worker"),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	return true;
}
