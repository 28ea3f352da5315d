/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The per-database background worker: what must happen in a database
 *		with pgmsg installed without a client asking for it.
 *
 * The launcher (launcher.c) starts one of these in each database and
 * restarts it when it dies; the worker claims its database's entry in the
 * launcher's table first, and exits at once if another worker holds it.
 *
 * Its duties:
 *	- every pgmsg.retention_interval: deleting messages older than their
 *	  queue's retention, at most RETENTION_BATCH per transaction and until
 *	  none is left, with the held leases of those in flight (ack.c's
 *	  pgmsg_retire_lease, undone if the transaction aborts) and, once the
 *	  batch has committed, the crash floors of those that had one
 *	  (inflight.c); then recounting the stored messages of queues whose
 *	  count is stale; forgetting FIFO dedup ids older than five minutes;
 *	- every round (pgmsg.worker_naptime, or at once when start_redrive
 *	  commits and sets the worker's latch): redrive tasks, one batch per
 *	  transaction (redrive.c);
 *	- every round: starting the push worker (push_worker.c) while the
 *	  database has push subscriptions, and waking it, so it rereads them
 *	  when subscribe_sns or subscribe_http commits and wakes this worker.
 * Each unit of work runs in its own transaction; an error is logged, the
 * transaction aborted, and the worker carries on: a failing queue is
 * retried at the next sweep, failing redrive tasks after a pause that
 * doubles up to MAX_RETRY_DELAY_MS.  The error of a failed redrive batch
 * is also recorded in its task, in a transaction of its own
 * (pgmsg_redrive_task_failed), which fails the task if retrying cannot
 * help.  An idle worker runs two tiny
 * transactions per round and one index probe per queue per sweep.
 * Waking long-polling receivers when a delayed message becomes due needs no
 * worker: a waiting receive sleeps until the next delayed key or lease
 * expiry of its queue (receive.c).
 * DROP EXTENSION pgmsg ends the worker within a naptime: it checks for the
 * extension first in every round.  DROP DATABASE of a database with pgmsg
 * installed needs the extension dropped first, or WITH (FORCE), as for any
 * connected session; so does CREATE DATABASE ... TEMPLATE of such a
 * database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "ack.h"
#include "catalog.h"
#include "inflight.h"
#include "launcher.h"
#include "lease.h"
#include "pgmsg.h"
#include "qtable.h"
#include "push_worker.h"
#include "redrive.h"
#include "shmem.h"
#include "stats.h"
#include "worker.h"

PGDLLEXPORT void pgmsg_worker_main(Datum arg);

#define MAX_RETRY_DELAY_MS		60000	/* longest pause of a failing duty */
#define RETENTION_BATCH			10000	/* rows deleted per transaction */
#define DEDUP_BATCH				10000
#define REDRIVE_STEPS_PER_ROUND 10

int			pgmsg_worker_naptime = 2000;
int			pgmsg_retention_interval = 30000;

/*
 * Define the worker's GUCs; called from _PG_init while preloading.
 */
void
pgmsg_worker_init(void)
{
	DefineCustomIntVariable("pgmsg.worker_naptime",
							"How long a pgmsg worker sleeps between rounds of work.",
							NULL,
							&pgmsg_worker_naptime,
							2000, 10, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.retention_interval",
							"How often a pgmsg worker deletes messages past their queue's retention.",
							NULL,
							&pgmsg_retention_interval,
							30000, 10, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Units of work.  Each runs in its own transaction, connected to SPI with
 * an active snapshot, as the bootstrap superuser with search_path pinned
 * to pg_catalog.
 */
typedef uint64 (*UnitFunc) (void *arg);

/* The error of the last unit that failed, in the caller's memory context. */
static ErrorData *unit_error = NULL;

static void
unit_error_context(void *arg)
{
	errcontext("pgmsg worker: %s", (const char *) arg);
}

/*
 * Run a unit of work in its own transaction.  An error is logged, kept in
 * unit_error and the transaction aborted; returns false then.  *result
 * gets the unit's result.
 */
static bool
run_unit(const char *activity, UnitFunc func, void *arg, uint64 *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;
	volatile uint64 res = 0;

	CHECK_FOR_INTERRUPTS();
	unit_error = NULL;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		ErrorContextCallback errcb;

		errcb.callback = unit_error_context;
		errcb.arg = (void *) activity;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, activity);

		res = func(arg);

		SPI_finish();
		PopActiveSnapshot();
		error_context_stack = errcb.previous;
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		unit_error = CopyErrorData();
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
	if (result != NULL)
		*result = res;
	return ok;
}

static uint64
unit_check(void *arg)
{
	return OidIsValid(get_extension_oid("pgmsg", true)) ? 1 : 0;
}

/* A queue, as listed at the start of a sweep. */
typedef struct QueueRef
{
	int32		queue_id;
	char		name[PGMSG_NAME_MAXLEN + 1];
} QueueRef;

typedef struct QueueList
{
	MemoryContext cxt;			/* where the list goes: outlives the unit */
	QueueRef   *queues;
	int			n;
} QueueList;

/*
 * Hold pgmsg in place for the rest of this transaction: a concurrent
 * DROP EXTENSION waits for it, or has already happened and we skip the
 * work.
 */
static bool
lock_extension(void)
{
	Oid			extoid = get_extension_oid("pgmsg", true);

	if (!OidIsValid(extoid))
		return false;
	LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
	return OidIsValid(get_extension_oid("pgmsg", true));
}

static uint64
unit_list_queues(void *arg)
{
	QueueList  *list = arg;

	if (!lock_extension())
		return 0;
	if (SPI_execute("SELECT queue_id, name FROM pgmsg.queue_meta ORDER BY queue_id",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list queues");
	list->n = (int) SPI_processed;
	list->queues = MemoryContextAllocZero(list->cxt, sizeof(QueueRef) * Max(list->n, 1));
	for (int i = 0; i < list->n; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		char	   *name = SPI_getvalue(tup, SPI_tuptable->tupdesc, 2);

		list->queues[i].queue_id =
			DatumGetInt32(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		strlcpy(list->queues[i].name, name, sizeof(list->queues[i].name));
	}
	return list->n;
}

/*
 * Lock a queue's table for this transaction.  False if the queue is gone
 * (dropped since the sweep listed it): nothing to do then.
 */
static bool
lock_queue_table(const QueueRef *q, LOCKMODE mode)
{
	Oid			nsp = get_namespace_oid("pgmsg", true);
	Oid			relid;

	if (!OidIsValid(nsp))
		return false;
	relid = get_relname_relid(pgmsg_table_name(q->name), nsp);
	if (!OidIsValid(relid))
		return false;
	LockRelationOid(relid, mode);
	/* taking the lock processed invalidations: is it still there? */
	return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid));
}

/*
 * The crash floors (inflight.c) of messages that the running retention
 * batch deletes.  A floor goes when a receive that counted from it
 * commits; no receive will take these messages again, so the sweep
 * forgets their floors once the batch has committed.
 */
static LeaseKey *deleted_floors = NULL;
static int	ndeleted_floors = 0;
static int	maxdeleted_floors = 0;

static void
remember_floor(const LeaseKey *key)
{
	if (ndeleted_floors == maxdeleted_floors)
	{
		maxdeleted_floors = Max(16, maxdeleted_floors * 2);
		if (deleted_floors == NULL)
			deleted_floors = MemoryContextAlloc(TopMemoryContext,
												sizeof(LeaseKey) * maxdeleted_floors);
		else
			deleted_floors = repalloc(deleted_floors,
									  sizeof(LeaseKey) * maxdeleted_floors);
	}
	deleted_floors[ndeleted_floors++] = *key;
}

/*
 * Delete at most "limit" messages of a queue whose sent_at is before
 * "cutoff" (qtable_delete_expired), and retire the leases of those that
 * were in flight.
 */
static uint64
delete_expired(int32 queue_id, const char *table, Datum cutoff, bool moved,
			   int limit)
{
	QueueShared *qs;
	uint64		n;
	int64	   *ids = qtable_delete_expired(table, DatumGetTimestampTz(cutoff),
											moved, limit, &n);

	/*
	 * A message deleted in flight is no longer in flight (ack.c); one that
	 * has a crash floor loses it once this commits (retention_sweep).
	 */
	qs = pgmsg_queue_shared(queue_id, false);
	for (uint64 i = 0; i < n; i++)
	{
		LeaseKey	key;

		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.queue_id = queue_id;
		key.msg_id = ids[i];
		if (qs != NULL)
			pgmsg_retire_lease(qs, &key);
		if (inflight_floor(&key) > 0)
			remember_floor(&key);
	}
	pfree(ids);
	return n;
}

/*
 * One batch of retention for a queue: at most RETENTION_BATCH messages.
 * The queue's settings are read again under the table lock, so a queue
 * dropped and created again under the same name is never swept with the
 * old one's retention.
 */
static uint64
unit_retention_batch(void *arg)
{
	const QueueRef *q = arg;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	Datum		cutoff;
	bool		isnull;
	bool		is_dlq;
	char	   *table = pgmsg_table_name(q->name);
	uint64		n;

	if (!lock_extension())
		return 0;
	if (!lock_queue_table(q, RowExclusiveLock))
		return 0;
	/* not read_only: a snapshot taken after the lock */
	args[0] = Int32GetDatum(q->queue_id);
	if (SPI_execute_with_args("SELECT pg_catalog.now() OPERATOR(pg_catalog.-) m.retention,"
							  "       EXISTS (SELECT FROM pgmsg.queue_meta s"
							  "                WHERE s.dead_letter_queue_id OPERATOR(pg_catalog.=) m.queue_id)"
							  "  FROM pgmsg.queue_meta m WHERE m.queue_id OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read queue \"%s\"", q->name);
	if (SPI_processed == 0)
		return 0;
	cutoff = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	is_dlq = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

	n = delete_expired(q->queue_id, table, cutoff, false, RETENTION_BATCH);
	/* only a dead-letter queue gets moved messages */
	if (is_dlq && n < RETENTION_BATCH)
		n += delete_expired(q->queue_id, table, cutoff, true, RETENTION_BATCH - (int) n);
	return n;
}

/* Count a queue's stored messages again, if its count is stale. */
static uint64
unit_recount(void *arg)
{
	const QueueRef *q = arg;
	QueueShared *qs;

	if (!lock_extension())
		return 0;
	if (!lock_queue_table(q, AccessShareLock))
		return 0;
	qs = pgmsg_queue_shared(q->queue_id, false);
	if (qs != NULL)
		(void) pgmsg_stored_messages(qs, q->name);
	return 0;
}

static uint64
unit_dedup(void *arg)
{
	return lock_extension() ? pgmsg_dedup_cleanup(DEDUP_BATCH) : 0;
}

static uint64
unit_redrive(void *arg)
{
	int64	   *task_id = arg;

	*task_id = 0;
	return lock_extension() && pgmsg_redrive_task_step(task_id) ? 1 : 0;
}

/* Whether the database has push subscriptions (an extension at 1.0 has none). */
static uint64
unit_push_check(void *arg)
{
	Oid			nsp;

	if (!lock_extension())
		return 0;
	nsp = get_namespace_oid("pgmsg", true);
	if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("push_subscription", nsp)))
		return 0;
	if (SPI_execute("SELECT FROM pgmsg.push_subscription LIMIT 1", true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for push subscriptions");
	return SPI_processed;
}

/* What a failed redrive batch leaves for unit_redrive_failed. */
typedef struct RedriveFailure
{
	int64		task_id;
	ErrorData  *error;
} RedriveFailure;

static uint64
unit_redrive_failed(void *arg)
{
	RedriveFailure *f = arg;

	if (lock_extension())
		pgmsg_redrive_task_failed(f->task_id, f->error->sqlerrcode,
								  f->error->message ? f->error->message : "unknown error");
	return 0;
}

static bool
count_is_stale(int32 queue_id)
{
	QueueShared *qs = pgmsg_queue_shared(queue_id, false);
	bool		stale = false;

	if (qs != NULL)
		stale = stats_count_stale(qs);
	return stale;
}

static void
invalidate_count(int32 queue_id)
{
	QueueShared *qs = pgmsg_queue_shared(queue_id, false);

	if (qs != NULL)
		stats_count_forget(qs);
}

/*
 * Apply retention to every queue, recount stale counts and forget expired
 * dedup ids.  A queue whose batch fails is left for the next sweep.
 */
static void
retention_sweep(MemoryContext cxt)
{
	QueueList	list;
	uint64		n;

	list.cxt = cxt;
	list.queues = NULL;
	list.n = 0;
	if (!run_unit("listing queues", unit_list_queues, &list, NULL))
		return;

	for (int i = 0; i < list.n; i++)
	{
		QueueRef   *q = &list.queues[i];
		char	   *activity = psprintf("applying retention to queue \"%s\"", q->name);

		for (;;)
		{
			bool		ok;

			ndeleted_floors = 0;
			ok = run_unit(activity, unit_retention_batch, q, &n);
			/* the messages are gone for good only if the batch committed */
			for (int f = 0; ok && f < ndeleted_floors; f++)
				inflight_forget_floor(&deleted_floors[f]);
			ndeleted_floors = 0;
			if (!ok)
				break;
			/* after the commit: a count taken before it would be stale */
			if (n > 0)
				invalidate_count(q->queue_id);
			if (n < RETENTION_BATCH)
				break;
		}
		pfree(activity);
	}

	for (int i = 0; i < list.n; i++)
	{
		QueueRef   *q = &list.queues[i];

		if (count_is_stale(q->queue_id))
		{
			char	   *activity = psprintf("counting the messages of queue \"%s\"", q->name);

			(void) run_unit(activity, unit_recount, q, NULL);
			pfree(activity);
		}
	}

	while (run_unit("forgetting expired dedup ids", unit_dedup, NULL, &n) &&
		   n >= DEDUP_BATCH)
		;
}

/* A pause that doubles with each consecutive failure. */
static long
retry_delay(int failures)
{
	long		delay = Max(pgmsg_worker_naptime, 100);

	for (int i = 1; i < failures && delay < MAX_RETRY_DELAY_MS; i++)
		delay *= 2;
	return Min(delay, MAX_RETRY_DELAY_MS);
}

void
pgmsg_worker_main(Datum arg)
{
	MemoryContext round_cxt;
	uint32		requests;
	TimestampTz next_retention = 0;
	TimestampTz next_redrive = 0;
	int			redrive_failures = 0;
	uint64		result;
	BackgroundWorkerHandle *push_handle = NULL;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);

	on_shmem_exit(launcher_release_entry, (Datum) 0);
	if (!launcher_claim_entry(&requests))
	{
		ereport(DEBUG1,
				(errmsg_internal("pgmsg worker exits: another one runs in this database")));
		proc_exit(0);
	}

	round_cxt = AllocSetContextCreate(TopMemoryContext, "pgmsg worker round",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz now;
		bool		busy = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(round_cxt);
		MemoryContextSwitchTo(round_cxt);

		/* first, is pgmsg still here?  (A failed check counts as yes.) */
		requests = launcher_start_requests();
		if (run_unit("checking for pgmsg", unit_check, NULL, &result) && result == 0)
		{
			launcher_set_state(DB_NOT_INSTALLED, requests);
			proc_exit(0);
		}
		launcher_set_state(DB_RUNNING, requests);

		now = GetCurrentTimestamp();
		if (now >= next_retention)
		{
			next_retention = TimestampTzPlusMilliseconds(now, pgmsg_retention_interval);
			retention_sweep(round_cxt);
		}

		if (GetCurrentTimestamp() >= next_redrive)
		{
			for (int i = 0; i < REDRIVE_STEPS_PER_ROUND; i++)
			{
				int64		task_id = 0;

				if (!run_unit("moving messages of a redrive task", unit_redrive, &task_id, &result))
				{
					if (task_id != 0 && unit_error != NULL)
					{
						RedriveFailure f;

						f.task_id = task_id;
						f.error = unit_error;
						(void) run_unit("recording the error of a redrive task",
										unit_redrive_failed, &f, NULL);
					}
					redrive_failures++;
					next_redrive = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   retry_delay(redrive_failures));
					busy = false;
					break;
				}
				redrive_failures = 0;
				if (result == 0)
					break;
				busy = (i == REDRIVE_STEPS_PER_ROUND - 1);
			}
		}

		/* push delivery runs in a worker of its own (push_worker.c) */
		if (!run_unit("looking for push subscriptions", unit_push_check, NULL, &result))
			result = 0;
		(void) pgmsg_push_worker_check(&push_handle, result > 0);

		if (busy)
			continue;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pgmsg_worker_naptime, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
