/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		Queue metadata: names, argument checks, the per-backend queue cache
 *		and running as the extension owner.
 *
 * Queue settings live in pgmsg.queue_meta; each queue's messages live in
 * its own table pgmsg.q_<name> with the index pgmsg.q_<name>_key on
 * (visible_at, msg_id).  Every backend caches what it has looked up, with
 * its prepared plans, in a hash table keyed by queue name, so the message
 * path runs no catalog query.  Any change to queue_meta or queue_grants is
 * followed by a relcache invalidation of queue_meta (see
 * pgmsg_catalog_invalidate), which marks every backend's cache stale; the
 * cache is rebuilt on the next lookup.  Role membership changes mark the
 * cached privileges stale the same way (acl.c).  The OID and owner of
 * queue_meta itself are cached too, and looked up again after any
 * invalidation of it: DROP EXTENSION and CREATE EXTENSION give it a new
 * OID, possibly a new owner, and a session must go on working across them.
 *
 * Every entry point that leases or changes anything first refuses to run
 * during recovery (pgmsg_refuse_in_recovery).
 *
 * The functions check pgmsg's own privileges as the calling user, then
 * run their statements as the owner of pgmsg's tables, so ordinary roles
 * need no rights on the tables themselves.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "access/xact.h"
#include "access/xlog.h"

#include "catalog.h"
#include "pgmsg.h"
#include "shmem.h"

static HTAB *queue_cache = NULL;
static bool queue_cache_stale = false;
static Oid	meta_relid = InvalidOid;
static Oid	meta_owner = InvalidOid;
static bool meta_has_in_flight = false;	/* false until updated from 1.0 */
static bool meta_stale = false;
static SPIPlanPtr meta_plan = NULL;

/*
 * The entry the last lookup returned, in the current generation: a
 * consumer asks for the same queue again and again, and comparing one name
 * costs less than hashing it.  NULL whenever a new generation starts.
 */
static QueueInfo *last_found = NULL;

/* bumped whenever the caches go stale; other caches (topic.c) compare it */
static uint64 catalog_generation = 1;

static void
queue_meta_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == meta_relid)
	{
		queue_cache_stale = true;
		catalog_generation++;
		meta_stale = true;
	}
}

static void load_meta(void);

static void
role_membership_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	queue_cache_stale = true;
	catalog_generation++;
}

void
pgmsg_catalog_init(void)
{
	CacheRegisterRelcacheCallback(queue_meta_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, role_membership_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, role_membership_callback, (Datum) 0);
}

/*
 * Tell every backend (this one included, at the next command) that queue
 * metadata or privileges changed.
 */
void
pgmsg_catalog_invalidate(void)
{
	if (!OidIsValid(meta_relid) || meta_stale)
		load_meta();
	CacheInvalidateRelcacheByRelid(meta_relid);
	queue_cache_stale = true;
	catalog_generation++;
}

/*
 * A number that changes whenever pgmsg's metadata or privileges may have
 * changed: a cache built at one generation is stale at any other.
 */
uint64
pgmsg_catalog_generation(void)
{
	return catalog_generation;
}

static void
free_queue_plans(QueueInfo *qi)
{
	if (qi->update_plan != NULL)
		SPI_freeplan((SPIPlanPtr) qi->update_plan);
	qi->update_plan = NULL;
	if (qi->index_info != NULL)
		pfree(qi->index_info);
	qi->index_info = NULL;
}

static void
destroy_cache(HTAB *cache)
{
	HASH_SEQ_STATUS status;
	QueueInfo  *qi;

	hash_seq_init(&status, cache);
	while ((qi = hash_seq_search(&status)) != NULL)
		free_queue_plans(qi);
	hash_destroy(cache);
}

/*
 * Cache generations replaced in the current transaction.  An entry point
 * may hold entries of a generation while it takes locks, and every lock
 * taken reads invalidations, so a generation can be replaced, and the one
 * after it too, while its entries are in use: a redrive holds its
 * dead-letter queue while it looks up each message's source queue.  So a
 * replaced generation is kept, with every other replaced since, until a
 * later transaction replaces or looks into a cache: by then no entry point
 * that held one of its entries is running, since none spans transactions.
 * This is the one rule for the queue cache here and the topic cache
 * (topic.c).  A generation without entries is freed at once.
 */
typedef struct RetiredCache
{
	HTAB	   *cache;
	void		(*destroy) (HTAB *cache);
	struct RetiredCache *next;
} RetiredCache;

static RetiredCache *retired = NULL;
static LocalTransactionId retired_lxid = InvalidLocalTransactionId;

/*
 * Free the generations retired by earlier transactions.
 */
void
pgmsg_cache_release_retired(void)
{
	if (retired == NULL || retired_lxid == MyProc->lxid)
		return;
	while (retired != NULL)
	{
		RetiredCache *r = retired;

		retired = r->next;
		r->destroy(r->cache);
		pfree(r);
	}
}

/*
 * Retire a replaced cache generation, to be freed by "destroy" once this
 * transaction is over.
 */
void
pgmsg_cache_retire(HTAB *cache, void (*destroy) (HTAB *cache))
{
	RetiredCache *r;

	pgmsg_cache_release_retired();
	if (hash_get_num_entries(cache) == 0)
	{
		destroy(cache);
		return;
	}
	r = MemoryContextAlloc(TopMemoryContext, sizeof(RetiredCache));
	r->cache = cache;
	r->destroy = destroy;
	r->next = retired;
	retired = r;
	retired_lxid = MyProc->lxid;
}

/*
 * Start a new cache generation, retiring the old one.
 */
static void
reset_cache(void)
{
	HASHCTL		ctl;

	if (queue_cache != NULL)
		pgmsg_cache_retire(queue_cache, destroy_cache);
	if (meta_plan != NULL)
		SPI_freeplan(meta_plan);
	meta_plan = NULL;
	meta_relid = InvalidOid;
	meta_owner = InvalidOid;

	last_found = NULL;
	ctl.keysize = PGMSG_NAME_MAXLEN + 1;
	ctl.entrysize = sizeof(QueueInfo);
	ctl.hcxt = CacheMemoryContext;
	queue_cache = hash_create("pgmsg queues", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	queue_cache_stale = false;
}

/*
 * Find pgmsg's metadata table and its owner, once per cache generation and
 * again after the table was invalidated.
 */
static void
load_meta(void)
{
	Oid			nsp;
	HeapTuple	tup;

	nsp = get_namespace_oid("pgmsg", true);
	meta_relid = OidIsValid(nsp) ? get_relname_relid("queue_meta", nsp) : InvalidOid;
	if (!OidIsValid(meta_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pgmsg\" is not installed in this database")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(meta_relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", meta_relid);
	meta_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	meta_has_in_flight = get_attnum(meta_relid, "max_in_flight") != InvalidAttrNumber;
	meta_stale = false;
}

static void
ensure_cache(void)
{
	pgmsg_cache_release_retired();
	if (queue_cache == NULL || queue_cache_stale)
		reset_cache();
	if (!OidIsValid(meta_relid) || meta_stale)
		load_meta();
}

/*
 * The owner of pgmsg's tables.  This never resets the cache, so the
 * QueueInfo a caller holds stays valid for the rest of its statement.
 */
static Oid
pgmsg_owner(void)
{
	if (!OidIsValid(meta_owner) || meta_stale)
		load_meta();
	return meta_owner;
}

/*
 * Does pgmsg.queue_meta have max_in_flight?  Not while the extension is
 * still at version 1.0: the library must work with its tables until ALTER
 * EXTENSION UPDATE.
 */
bool
pgmsg_catalog_has_in_flight(void)
{
	if (!OidIsValid(meta_owner) || meta_stale)
		load_meta();
	return meta_has_in_flight;
}

/*
 * Run as the owner of pgmsg's tables until pgmsg_restore_user.  An error
 * in between is fine: transaction abort restores the user.
 */
void
pgmsg_become_owner(Oid *save_userid, int *save_sec)
{
	Oid			owner = pgmsg_owner();

	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(owner, *save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

void
pgmsg_restore_user(Oid save_userid, int save_sec)
{
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Raise an error if this server is a standby (or still recovering).  Every
 * entry point that takes a lease or changes anything calls this first: a
 * lease taken on a standby would hand out a message the primary can hand
 * out again, and writes fail anyway, half-way and less clearly.  Read-only
 * views stay usable.  "message" is the whole error message, a format
 * with one %s for the queue's or topic's name, marked for translation by
 * the caller (gettext_noop).
 */
void
pgmsg_refuse_in_recovery(const char *message, const char *name)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg(message, name),
				 errhint("pgmsg changes queues and topics only on the primary server; connect to it.")));
}

/*
 * Queue and topic names: 1 to 48 characters of [a-z0-9_], starting with a
 * letter.  They become part of table names, always through
 * quote_identifier, but are checked so strictly that they never need it.
 */
void
pgmsg_validate_name(bool topic, const char *name)
{
	size_t		len = strlen(name);
	bool		ok = len >= 1 && len <= PGMSG_NAME_MAXLEN &&
		name[0] >= 'a' && name[0] <= 'z';

	for (size_t i = 0; ok && i < len; i++)
	{
		char		c = name[i];

		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
	}
	if (!ok && topic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid topic name \"%.*s%s\"",
						PGMSG_NAME_MAXLEN + 16, name,
						len > PGMSG_NAME_MAXLEN + 16 ? "..." : ""),
				 errdetail("A topic name has 1 to %d characters: lower-case letters, digits and underscores, starting with a letter.",
						   PGMSG_NAME_MAXLEN)));
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid queue name \"%.*s%s\"",
						PGMSG_NAME_MAXLEN + 16, name,
						len > PGMSG_NAME_MAXLEN + 16 ? "..." : ""),
				 errdetail("A queue name has 1 to %d characters: lower-case letters, digits and underscores, starting with a letter.",
						   PGMSG_NAME_MAXLEN)));
}

/*
 * A text argument that must not be NULL, as a C string.
 */
char *
pgmsg_text_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * An interval argument as microseconds, checked against [min, max].  A
 * NULL argument yields "dflt", or is an error if dflt is negative.
 * Months count as 30 days, as in interval comparison.
 */
int64
pgmsg_interval_arg(FunctionCallInfo fcinfo, int argno, const char *what,
				   int64 min, int64 max, int64 dflt)
{
	Interval   *iv;
	double		usecs;

	if (PG_ARGISNULL(argno))
	{
		if (dflt < 0)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", what)));
		return dflt;
	}
	iv = PG_GETARG_INTERVAL_P(argno);
	usecs = ((double) iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY + iv->time;
	if (usecs < (double) min || usecs > (double) max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s %s is out of range", what,
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(iv)))),
				 errdetail("It must be between %s and %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   DirectFunctionCall7(make_interval, 0, 0, 0, 0, 0, 0,
																				   Float8GetDatum(min / 1000000.0)))),
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   DirectFunctionCall7(make_interval, 0, 0, 0, 0, 0, 0,
																				   Float8GetDatum(max / 1000000.0)))))));
	return (int64) usecs;
}

/*
 * Run one statement through SPI (connected by the caller) with parameters,
 * and raise an internal error unless it returns "expected".
 */
void
pgmsg_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *args, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, args, NULL, false, 0);

	if (ret != expected)
		elog(ERROR, "pgmsg statement failed (%s): %s", SPI_result_code_string(ret), sql);
}

char *
pgmsg_table_name(const char *queue)
{
	return psprintf("q_%s", queue);
}

static int64
interval_usecs(Datum d)
{
	Interval   *iv = DatumGetIntervalP(d);

	return ((int64) iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY + iv->time;
}

/*
 * Look up a queue of the current database by name.  Raises "does not
 * exist" unless missing_ok.  Only here is a stale cache replaced, and the
 * replaced generation lives until the transaction is over, so the result
 * stays valid until the entry point that asked for it returns.  An entry is
 * built in full before it enters the cache: an error on the way leaves no
 * half-built entry behind for the next lookup to return.
 */
QueueInfo *
pgmsg_queue_lookup(const char *name, bool missing_ok)
{
	QueueInfo  *qi;
	QueueInfo	loaded;
	Oid			save_userid;
	int			save_sec;
	Datum		arg;
	int			ret;
	Oid			nsp;
	char	   *tabname;
	char	   *idxname;
	bool		isnull;
	TupleDesc	tupdesc;
	HeapTuple	tup;

	pgmsg_check_loaded();
	ensure_cache();

	/* a cached name was valid when it was loaded; check only the others */
	if (last_found != NULL && strcmp(last_found->name, name) == 0)
		return last_found;
	if (strlen(name) <= PGMSG_NAME_MAXLEN)
	{
		qi = hash_search(queue_cache, name, HASH_FIND, NULL);
		if (qi != NULL)
			return last_found = qi;
	}
	pgmsg_validate_name(false, name);

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (meta_plan == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare(psprintf("SELECT m.queue_id, m.owner, m.visibility_timeout, m.delay,"
						   "       m.max_message_size, m.retention, m.notify,"
						   "       d.name, m.max_receive_count, m.fifo, m.content_based_dedup,"
						   "       %s,"
						   /* may the queue's owner still send to its dead-letter queue? */
						   "       pg_catalog.pg_has_role(m.owner::pg_catalog.oid, d.owner::pg_catalog.oid, 'USAGE')"
						   "       OR EXISTS (SELECT FROM pgmsg.queue_grants g"
						   "                   WHERE g.queue_id OPERATOR(pg_catalog.=) d.queue_id"
						   "                     AND g.privilege OPERATOR(pg_catalog.=) 'send'"
						   "                     AND (g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) 0::pg_catalog.oid"
						   "                          OR pg_catalog.pg_has_role(m.owner::pg_catalog.oid,"
						   "                                                    g.grantee::pg_catalog.oid, 'USAGE')))"
						   "  FROM pgmsg.queue_meta m"
						   "  LEFT JOIN pgmsg.queue_meta d"
						   "    ON d.queue_id OPERATOR(pg_catalog.=) m.dead_letter_queue_id"
						   " WHERE m.name OPERATOR(pg_catalog.=) $1",
						   pgmsg_catalog_has_in_flight() ? "m.max_in_flight" :
						   "CASE WHEN m.fifo THEN 20000 ELSE 120000 END"),
						   1, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		meta_plan = plan;
	}
	arg = CStringGetTextDatum(name);
	ret = SPI_execute_plan(meta_plan, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		SPI_finish();
		pgmsg_restore_user(save_userid, save_sec);
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name)));
	}

	memset(&loaded, 0, sizeof(loaded));
	qi = &loaded;
	tupdesc = SPI_tuptable->tupdesc;
	tup = SPI_tuptable->vals[0];
	qi->queue_id = DatumGetInt32(SPI_getbinval(tup, tupdesc, 1, &isnull));
	qi->owner = DatumGetObjectId(SPI_getbinval(tup, tupdesc, 2, &isnull));
	qi->visibility_timeout = interval_usecs(SPI_getbinval(tup, tupdesc, 3, &isnull));
	qi->delay = interval_usecs(SPI_getbinval(tup, tupdesc, 4, &isnull));
	qi->max_message_size = DatumGetInt32(SPI_getbinval(tup, tupdesc, 5, &isnull));
	qi->retention = interval_usecs(SPI_getbinval(tup, tupdesc, 6, &isnull));
	qi->notify = DatumGetBool(SPI_getbinval(tup, tupdesc, 7, &isnull));
	{
		char	   *dlq = SPI_getvalue(tup, tupdesc, 8);
		Datum		mrc = SPI_getbinval(tup, tupdesc, 9, &isnull);

		strlcpy(qi->dead_letter_queue, dlq ? dlq : "", sizeof(qi->dead_letter_queue));
		qi->max_receive_count = isnull ? 0 : DatumGetInt32(mrc);
	}
	qi->fifo = DatumGetBool(SPI_getbinval(tup, tupdesc, 10, &isnull));
	qi->content_based_dedup = DatumGetBool(SPI_getbinval(tup, tupdesc, 11, &isnull));
	qi->max_in_flight = DatumGetInt32(SPI_getbinval(tup, tupdesc, 12, &isnull));
	qi->dead_letter_ok = DatumGetBool(SPI_getbinval(tup, tupdesc, 13, &isnull)) && !isnull;
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);

	nsp = get_namespace_oid("pgmsg", false);
	tabname = pgmsg_table_name(name);
	idxname = psprintf("%s_key", tabname);
	qi->relid = get_relname_relid(tabname, nsp);
	qi->indexid = get_relname_relid(idxname, nsp);
	if (!OidIsValid(qi->relid) || !OidIsValid(qi->indexid))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("table of queue \"%s\" is missing", name),
				 errhint("Drop the queue and create it again.")));
	strlcpy(qi->name, name, sizeof(qi->name));
	qi->privs_role = InvalidOid;
	qi->privs = 0;
	qi->shared = NULL;
	qi->update_plan = NULL;
	qi->index_info = NULL;
	qi->sequenceid = InvalidOid;

	/*
	 * The catalog reads above may have read invalidations; the entry then
	 * goes into a generation already stale, and the next lookup replaces
	 * it, which is what any other entry of that generation gets too.
	 */
	qi = hash_search(queue_cache, name, HASH_ENTER, NULL);
	memcpy(qi, &loaded, sizeof(QueueInfo));
	return last_found = qi;
}

/*
 * Whether queue "queue_id" exists for a snapshot taken now, committed or
 * created by this transaction.  The catalog cache and the transaction
 * snapshot may both be older than a drop that has just committed; this
 * reads pgmsg.queue_meta itself with the latest snapshot (shmem.c needs
 * that to close a race with drop_queue).  A queue_meta that is gone (a
 * DROP EXTENSION committed) has no queues.
 */
bool
pgmsg_queue_id_exists(int32 queue_id)
{
	Oid			nsp = get_namespace_oid("pgmsg", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("queue_meta", nsp) : InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	Snapshot	snapshot;
	bool		found;

	if (!OidIsValid(relid))
		return false;
	rel = try_table_open(relid, AccessShareLock);
	if (rel == NULL)
		return false;
	ScanKeyInit(&key, get_attnum(relid, "queue_id"), BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(queue_id));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The shared slot of a queue, set up on first use.
 */
QueueShared *
pgmsg_queue_slot(QueueInfo *qi)
{
	QueueShared *qs = qi->shared;
	bool		mine = false;

	/* a slot's identity is read under the directory lock (shmem.c) */
	if (qs != NULL)
	{
		LWLockAcquire(pgmsg_shared->directory_lock, LW_SHARED);
		mine = qs->in_use && qs->queue_id == qi->queue_id && qs->dbid == MyDatabaseId;
		LWLockRelease(pgmsg_shared->directory_lock);
	}
	if (!mine)
	{
		qs = pgmsg_queue_shared(qi->queue_id, true);
		if (qs == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("queue \"%s\" does not exist", qi->name),
					 errdetail("It was dropped by a concurrent transaction.")));
		qi->shared = qs;
	}
	return qs;
}

/*
 * The shared slot of a queue whose table this transaction has opened with
 * pgmsg_queue_open, which found the table still there under its lock.  A
 * slot is given back only once the drop of its queue has committed
 * (shmem.c), and the lock keeps any drop from committing, so a slot found
 * to be the queue's before is the queue's still: it needs no check under
 * the directory lock, which every receive and delete would otherwise take.
 */
QueueShared *
pgmsg_queue_slot_opened(QueueInfo *qi)
{
	if (qi->shared != NULL)
		return qi->shared;
	return pgmsg_queue_slot(qi);
}
