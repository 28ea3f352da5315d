/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background workers: a launcher, and one worker per database
 *		where pgmsg is installed.
 *
 * The launcher is a static background worker connected to no database.
 * It reads pg_database every pgmsg.launcher_naptime (or when its latch is
 * set) and starts a dynamic worker in each database that allows
 * connections and is not a template, unless that database is known not to
 * have pgmsg.  A worker that finds no pgmsg in its database says so in
 * shared memory and exits; its database is then left alone until
 * CREATE EXTENSION pgmsg calls pgmsg.start_worker(), which clears the mark
 * and wakes the launcher.  A worker that dies otherwise is started again,
 * no sooner than RESTART_DELAY later.  After a crash of any backend the
 * postmaster restarts the launcher, which starts the workers again; the
 * dynamic workers themselves are never restarted by the postmaster, so
 * there is never more than one per database.
 *
 * Each database's worker does what must happen without a client:
 *	- every pgmsg.retention_interval: deleting messages older than their
 *	  queue's retention, in bounded batches; recounting the stored messages
 *	  of queues whose count is stale; forgetting FIFO dedup ids older than
 *	  five minutes;
 *	- every round (pgmsg.worker_naptime, or at once when start_redrive
 *	  commits and sets the worker's latch): redrive tasks, one batch per
 *	  transaction (redrive.c).
 * Waking long-polling receivers when a delayed message becomes due needs no
 * worker: a waiting receive sleeps until the next delayed key (receive.c).
 * DROP EXTENSION pgmsg ends the worker within a naptime; DROP DATABASE of a
 * database with pgmsg installed needs the extension dropped first, or
 * WITH (FORCE), as for any connected session.
 *
 * Locking: the WorkerShared struct is protected by its spinlock.  Entries
 * are added by the launcher only; a worker writes its own entry's state,
 * pid and latch.  Latches are set without the lock: a stale pointer only
 * ever points at a PGPROC latch, which is always valid to set.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "pgmsg.h"

PG_FUNCTION_INFO_V1(pgmsg_start_worker);

PGDLLEXPORT void pgmsg_launcher_main(Datum arg);
PGDLLEXPORT void pgmsg_worker_main(Datum arg);

#define RESTART_DELAY_MS		10000
#define RETENTION_BATCH			10000
#define DEDUP_BATCH				10000
#define REDRIVE_STEPS_PER_ROUND 10

typedef enum DbState
{
	DB_UNKNOWN,					/* no worker has looked yet */
	DB_RUNNING,					/* a worker runs there */
	DB_NOT_INSTALLED			/* pgmsg is not installed there */
} DbState;

typedef struct DbEntry
{
	Oid			dboid;
	DbState		state;
	uint32		start_requests; /* bumped by pgmsg.start_worker() commits */
	pid_t		pid;
	Latch	   *latch;
} DbEntry;

typedef struct WorkerShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	int			nentries;
	DbEntry		entries[FLEXIBLE_ARRAY_MEMBER];
} WorkerShared;

static WorkerShared *worker_shared = NULL;

int			pgmsg_max_databases = 64;
int			pgmsg_launcher_naptime = 10000;
int			pgmsg_worker_naptime = 2000;
int			pgmsg_retention_interval = 30000;

Size
worker_shmem_size(void)
{
	return add_size(offsetof(WorkerShared, entries),
					mul_size(pgmsg_max_databases, sizeof(DbEntry)));
}

void
worker_shmem_init(void)
{
	bool		found;

	worker_shared = ShmemInitStruct("pgmsg workers", worker_shmem_size(), &found);
	if (!found)
	{
		memset(worker_shared, 0, worker_shmem_size());
		SpinLockInit(&worker_shared->mutex);
	}
}

/*
 * Define the worker GUCs and register the launcher; called from _PG_init
 * while preloading.
 */
void
pgmsg_worker_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("pgmsg.max_databases",
							"Maximum number of databases with a pgmsg worker.",
							NULL,
							&pgmsg_max_databases,
							64, 1, 10000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.launcher_naptime",
							"How often the pgmsg launcher looks for new databases.",
							NULL,
							&pgmsg_launcher_naptime,
							10000, 100, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
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

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	strlcpy(worker.bgw_library_name, "pgmsg", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgmsg_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pgmsg launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pgmsg launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

static DbEntry *
find_entry(Oid dboid)
{
	for (int i = 0; i < worker_shared->nentries; i++)
		if (worker_shared->entries[i].dboid == dboid)
			return &worker_shared->entries[i];
	return NULL;
}

/*
 * Launcher-local: the handles of the workers it started.
 */
typedef struct LaunchedWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
	TimestampTz stopped_at;		/* 0 while running or never started */
} LaunchedWorker;

static LaunchedWorker *launched = NULL;
static int	nlaunched = 0;

static LaunchedWorker *
launched_for(Oid dboid)
{
	for (int i = 0; i < nlaunched; i++)
		if (launched[i].dboid == dboid)
			return &launched[i];
	if (nlaunched >= pgmsg_max_databases)
		return NULL;
	launched[nlaunched].dboid = dboid;
	launched[nlaunched].handle = NULL;
	launched[nlaunched].stopped_at = 0;
	return &launched[nlaunched++];
}

static void
start_worker_for(LaunchedWorker *lw, const char *datname)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgmsg", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgmsg_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgmsg worker for database %s", datname);
	strlcpy(worker.bgw_type, "pgmsg worker", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(lw->dboid);
	worker.bgw_notify_pid = MyProcPid;

	MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &lw->handle))
	{
		ereport(LOG,
				(errmsg("pgmsg launcher could not start a worker for database \"%s\"", datname),
				 errhint("Raise max_worker_processes.")));
		lw->handle = NULL;
		lw->stopped_at = GetCurrentTimestamp();
	}
	else
		lw->stopped_at = 0;
}

/*
 * One pass of the launcher over pg_database.
 */
static void
launcher_scan(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz now = GetCurrentTimestamp();

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		DbEntry    *entry;
		LaunchedWorker *lw;
		pid_t		pid;
		bool		skip = false;
		DbState		state;

		if (!db->datallowconn || db->datistemplate)
			continue;

		SpinLockAcquire(&worker_shared->mutex);
		entry = find_entry(db->oid);
		if (entry == NULL && worker_shared->nentries < pgmsg_max_databases)
		{
			entry = &worker_shared->entries[worker_shared->nentries++];
			entry->dboid = db->oid;
			entry->state = DB_UNKNOWN;
			entry->start_requests = 0;
			entry->pid = 0;
			entry->latch = NULL;
		}
		skip = entry == NULL || entry->state == DB_NOT_INSTALLED;
		state = entry != NULL ? entry->state : DB_UNKNOWN;
		SpinLockRelease(&worker_shared->mutex);
		if (skip)
			continue;

		lw = launched_for(db->oid);
		if (lw == NULL)
			continue;
		if (lw->handle != NULL &&
			GetBackgroundWorkerPid(lw->handle, &pid) != BGWH_STOPPED)
			continue;
		if (lw->handle != NULL)
		{
			/*
			 * It stopped.  One that left saying "look again" (state unknown)
			 * is started at once; one that died while running, not at once.
			 */
			pfree(lw->handle);
			lw->handle = NULL;
			lw->stopped_at = state == DB_RUNNING ? now : 0;
		}
		if (lw->stopped_at != 0 &&
			!TimestampDifferenceExceeds(lw->stopped_at, now, RESTART_DELAY_MS))
			continue;
		start_worker_for(lw, NameStr(db->datname));
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

void
pgmsg_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launched = MemoryContextAllocZero(TopMemoryContext,
									  sizeof(LaunchedWorker) * pgmsg_max_databases);
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->launcher_latch = MyLatch;
	SpinLockRelease(&worker_shared->mutex);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		launcher_scan();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(pgmsg_launcher_naptime, RESTART_DELAY_MS),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Worker-local: when the last retention sweep ran.
 */
static TimestampTz last_retention = 0;

/*
 * Delete messages past retention from every queue; returns how many.
 */
static uint64
retention_sweep(void)
{
	SPITupleTable *queues;
	uint64		nqueues;
	uint64		total = 0;

	if (SPI_execute("SELECT queue_id, name, retention FROM pgmsg.queue_meta", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list queues");
	queues = SPI_tuptable;
	nqueues = SPI_processed;
	for (uint64 i = 0; i < nqueues; i++)
	{
		bool		isnull;
		int32		queue_id = DatumGetInt32(SPI_getbinval(queues->vals[i], queues->tupdesc, 1, &isnull));
		char	   *name = SPI_getvalue(queues->vals[i], queues->tupdesc, 2);
		Datum		retention = SPI_getbinval(queues->vals[i], queues->tupdesc, 3, &isnull);
		const char *table = quote_identifier(pgmsg_table_name(name));
		Oid			argtypes[2] = {INTERVALOID, INT4OID};
		Datum		args[2];
		int			ret;

		args[0] = retention;
		args[1] = Int32GetDatum(RETENTION_BATCH);
		/* visible_at is at most 15 minutes after sent_at: bound the index range */
		ret = SPI_execute_with_args(psprintf("DELETE FROM pgmsg.%s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
											 " SELECT ctid FROM pgmsg.%s"
											 "  WHERE visible_at OPERATOR(pg_catalog.<) ((pg_catalog.now() OPERATOR(pg_catalog.-) $1) OPERATOR(pg_catalog.+) interval '15 minutes')"
											 "    AND sent_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) $1)"
											 "  LIMIT $2))", table, table),
									2, argtypes, args, NULL, false, 0);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "could not apply retention to queue \"%s\"", name);
		if (SPI_processed > 0)
		{
			QueueShared *qs = pgmsg_queue_shared(queue_id, false);

			total += SPI_processed;
			/* the stored-message count is recounted below, after commit */
			if (qs != NULL)
			{
				SpinLockAcquire(&qs->mutex);
				qs->count_valid = false;
				SpinLockRelease(&qs->mutex);
			}
		}
	}
	return total;
}

/*
 * Recount stored messages of this database's queues whose count is stale.
 */
static void
recount_stale(void)
{
	SPITupleTable *queues;
	uint64		nqueues;

	if (SPI_execute("SELECT queue_id, name FROM pgmsg.queue_meta", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list queues");
	queues = SPI_tuptable;
	nqueues = SPI_processed;
	for (uint64 i = 0; i < nqueues; i++)
	{
		bool		isnull;
		int32		queue_id = DatumGetInt32(SPI_getbinval(queues->vals[i], queues->tupdesc, 1, &isnull));
		QueueShared *qs = pgmsg_queue_shared(queue_id, false);

		if (qs != NULL)
			(void) pgmsg_stored_messages(qs, SPI_getvalue(queues->vals[i], queues->tupdesc, 2));
	}
}

typedef enum WorkKind
{
	WORK_CHECK,					/* is pgmsg still installed? */
	WORK_RETENTION,
	WORK_RECOUNT,
	WORK_REDRIVE,
	WORK_DEDUP
} WorkKind;

static const char *const work_names[] = {
	"checking for pgmsg", "applying retention", "recounting messages",
	"moving redrive tasks", "forgetting dedup ids"
};

/*
 * Run one unit of work in its own transaction.  Errors are logged and
 * swallowed: the worker carries on with its next round.  Returns the
 * unit's result (work done, or for WORK_CHECK whether pgmsg is there).
 */
static bool
run_unit(WorkKind kind)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool result = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, work_names[kind]);

		switch (kind)
		{
			case WORK_CHECK:
				result = OidIsValid(get_extension_oid("pgmsg", true));
				break;
			case WORK_RETENTION:
				result = retention_sweep() > 0;
				break;
			case WORK_RECOUNT:
				recount_stale();
				break;
			case WORK_REDRIVE:
				result = pgmsg_redrive_task_step();
				break;
			case WORK_DEDUP:
				result = pgmsg_dedup_cleanup(DEDUP_BATCH) > 0;
				break;
		}

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		result = (kind == WORK_CHECK);	/* keep running after a failed check */
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(cxt);
	return result;
}

static uint32
start_requests(Oid dboid)
{
	DbEntry    *entry;
	uint32		n = 0;

	SpinLockAcquire(&worker_shared->mutex);
	entry = find_entry(dboid);
	if (entry != NULL)
		n = entry->start_requests;
	SpinLockRelease(&worker_shared->mutex);
	return n;
}

/*
 * Record this worker's state.  "Not installed" becomes "unknown" if a start
 * was requested since "requests" was read, before the check that found no
 * pgmsg: the extension may have been created after that check's snapshot,
 * and the launcher must look again.
 */
static void
set_own_state(Oid dboid, DbState state, uint32 requests)
{
	DbEntry    *entry;

	SpinLockAcquire(&worker_shared->mutex);
	entry = find_entry(dboid);
	if (entry != NULL)
	{
		if (state == DB_NOT_INSTALLED && entry->start_requests != requests)
			state = DB_UNKNOWN;
		entry->state = state;
		entry->pid = state == DB_RUNNING ? MyProcPid : 0;
		entry->latch = state == DB_RUNNING ? MyLatch : NULL;
	}
	SpinLockRelease(&worker_shared->mutex);
}

void
pgmsg_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext round_cxt;
	uint32		requests;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);

	requests = start_requests(dboid);
	if (!run_unit(WORK_CHECK))
	{
		set_own_state(dboid, DB_NOT_INSTALLED, requests);
		proc_exit(0);
	}
	set_own_state(dboid, DB_RUNNING, requests);
	ereport(DEBUG1, (errmsg("pgmsg worker started")));

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
		MemoryContextSwitchTo(round_cxt);

		requests = start_requests(dboid);
		if (!run_unit(WORK_CHECK))
		{
			set_own_state(dboid, DB_NOT_INSTALLED, requests);
			proc_exit(0);
		}

		now = GetCurrentTimestamp();
		if (TimestampDifferenceExceeds(last_retention, now, pgmsg_retention_interval))
		{
			last_retention = now;
			busy |= run_unit(WORK_RETENTION);
			run_unit(WORK_RECOUNT);
			busy |= run_unit(WORK_DEDUP);
		}
		for (int i = 0; i < REDRIVE_STEPS_PER_ROUND; i++)
		{
			if (!run_unit(WORK_REDRIVE))
				break;
			busy = true;
		}

		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(round_cxt);
		if (busy)
			continue;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pgmsg_worker_naptime, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Wake this database's worker, if it runs (start_redrive).
 */
void
pgmsg_worker_wake(void)
{
	DbEntry    *entry;
	Latch	   *latch = NULL;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	entry = find_entry(MyDatabaseId);
	if (entry != NULL)
		latch = entry->latch;
	SpinLockRelease(&worker_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * Clear the "not installed" mark of this database and wake the launcher;
 * called when a transaction that ran pgmsg.start_worker() commits, so the
 * new worker finds the extension.
 */
void
pgmsg_worker_request_start(void)
{
	DbEntry    *entry;
	Latch	   *latch;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	entry = find_entry(MyDatabaseId);
	if (entry != NULL)
	{
		entry->start_requests++;
		if (entry->state == DB_NOT_INSTALLED)
			entry->state = DB_UNKNOWN;
	}
	latch = worker_shared->launcher_latch;
	SpinLockRelease(&worker_shared->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * pgmsg.start_worker() asks the launcher to start this database's worker
 * once the current transaction commits.  CREATE EXTENSION pgmsg calls it.
 * Without the preload it does nothing, so that the extension can still be
 * created.
 */
Datum
pgmsg_start_worker(PG_FUNCTION_ARGS)
{
	if (!pg_database_ownercheck(MyDatabaseId, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to start the pgmsg worker"),
				 errdetail("Only superusers and the database owner may start it.")));
	if (worker_shared != NULL)
		xact_track_worker(true);
	PG_RETURN_VOID();
}
