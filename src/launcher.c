/*-------------------------------------------------------------------------
 *
 * launcher.c
 *		The pgmsg launcher, and the table of databases it shares with the
 *		per-database workers (worker.c).
 *
 * The launcher is a static background worker connected to no database.
 * Every pgmsg.launcher_naptime, and whenever its latch is set (a worker
 * started or stopped, or pgmsg.start_worker() committed), it reads
 * pg_database and starts a dynamic worker in each database that allows
 * connections and is not a template, unless that database already has a
 * worker or is known not to have pgmsg.  The launcher cannot see another
 * database's pg_extension, so the first worker in a database is a probe: it
 * connects, finds no pgmsg, records "not installed" and exits, and the
 * database is left alone until CREATE EXTENSION pgmsg calls
 * pgmsg.start_worker(), which clears the mark when it commits and wakes
 * the launcher.  A scan that forks nothing costs one catalog scan.
 *
 * A worker that dies (an error that escaped it, pg_terminate_backend, a
 * database that cannot be connected to) is started again no sooner than
 * RESTART_DELAY_MS later; the dynamic workers are registered with
 * BGW_NEVER_RESTART, so only the launcher restarts them.  After a crash of
 * any backend the postmaster reinitialises shared memory and restarts the
 * launcher, which starts the workers again.  The launcher itself may exit
 * (pg_terminate_backend) while its workers keep running; its successor,
 * started by the postmaster, finds them in shared memory.
 *
 * Shared state: one DbEntry per database the launcher tracks (at most
 * pgmsg.max_databases: every database that allows connections and is not a
 * template, pgmsg or not, since "not installed" is remembered there too),
 * and the launcher's latch.  Entries of databases that disappeared from
 * pg_database (or stopped allowing connections) are recycled once no
 * worker runs there.
 *
 *	state			meaning; who sets it
 *	UNKNOWN			to be looked at (again): launcher (new entry),
 *					start_worker() (was NOT_INSTALLED), a probe that raced a
 *					CREATE EXTENSION
 *	STARTING		a worker was registered (launcher) or has claimed the
 *					entry and is checking for pgmsg (worker)
 *	RUNNING			the worker found pgmsg and runs (worker)
 *	NOT_INSTALLED	no pgmsg there (worker, then it exits)
 *	FAILED			the worker died at failed_at (the worker's exit
 *					callback, or the launcher for one that died before
 *					claiming the entry)
 *
 * At most one worker per database: a worker claims its database's entry by
 * writing its pid there, and exits at once if another live worker already
 * did; its exit callback clears the pid.  So a worker registered twice (by
 * a launcher and by its successor) never runs twice.  The launcher keeps
 * the BackgroundWorkerHandle of each worker it registered in its own
 * memory (the handle type is opaque, so it cannot live in shared memory),
 * only to notice a worker that died before claiming its entry.
 *
 * Locking: WorkerShared is protected by its spinlock, held only to read or
 * write a few fields, never across anything that can fail.  Entries are
 * added and recycled by the launcher only; a worker writes its own entry
 * (state, pid, latch) only while its pid is in it; start_worker() bumps
 * start_requests and turns NOT_INSTALLED into UNKNOWN.  Latches are set
 * after releasing the lock: a stale pointer still points at a PGPROC latch,
 * which is always safe to set (a spurious wakeup at worst).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "launcher.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(pgmsg_start_worker);

PGDLLEXPORT void pgmsg_launcher_main(Datum arg);

#define RESTART_DELAY_MS		10000	/* before a dead worker is started again */

typedef struct DbEntry
{
	Oid			dboid;
	DbState		state;
	TimestampTz failed_at;		/* DB_FAILED: when the worker died */
	uint32		start_requests; /* bumped by each committed start_worker() */
	pid_t		pid;			/* the worker that claimed the entry, or 0 */
	Latch	   *latch;			/* its latch, or NULL */
} DbEntry;

typedef struct WorkerShared
{
	slock_t		mutex;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	int			max_entries;
	int			nentries;		/* entries[] in use or freed, from the start */
	DbEntry		entries[FLEXIBLE_ARRAY_MEMBER];
} WorkerShared;

static WorkerShared *worker_shared = NULL;

int			pgmsg_max_databases = 64;
int			pgmsg_launcher_naptime = 10000;

Size
launcher_shmem_size(void)
{
	return add_size(offsetof(WorkerShared, entries),
					mul_size(pgmsg_max_databases, sizeof(DbEntry)));
}

void
launcher_shmem_init(void)
{
	bool		found;

	worker_shared = ShmemInitStruct("pgmsg workers", launcher_shmem_size(), &found);
	if (!found)
	{
		memset(worker_shared, 0, launcher_shmem_size());
		SpinLockInit(&worker_shared->mutex);
		worker_shared->max_entries = pgmsg_max_databases;
	}
}

/*
 * Define the launcher's GUCs and register it; called from _PG_init while
 * preloading.
 */
void
pgmsg_launcher_init(void)
{
	BackgroundWorker worker;

	DefineCustomIntVariable("pgmsg.max_databases",
							"Maximum number of databases the pgmsg launcher keeps track of.",
							"Every database that allows connections and is not a template takes one, whether pgmsg is installed there or not.",
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

/* The entry of a database, or NULL.  Caller holds the spinlock. */
static DbEntry *
find_entry(Oid dboid)
{
	for (int i = 0; i < worker_shared->nentries; i++)
	{
		DbEntry    *e = &worker_shared->entries[i];

		if (e->state != DB_FREE && e->dboid == dboid)
			return e;
	}
	return NULL;
}

/* A new entry, or NULL if all are in use.  Launcher only, spinlock held. */
static DbEntry *
add_entry(Oid dboid)
{
	DbEntry    *e = NULL;

	for (int i = 0; i < worker_shared->nentries; i++)
	{
		if (worker_shared->entries[i].state == DB_FREE)
		{
			e = &worker_shared->entries[i];
			break;
		}
	}
	if (e == NULL)
	{
		if (worker_shared->nentries >= worker_shared->max_entries)
			return NULL;
		e = &worker_shared->entries[worker_shared->nentries++];
	}
	memset(e, 0, sizeof(DbEntry));
	e->dboid = dboid;
	e->state = DB_UNKNOWN;
	return e;
}

/* ----------------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------------
 */

static MemoryContext launcher_cxt = NULL;
static BackgroundWorkerHandle **handles = NULL;	/* by entry index */
static bool *seen = NULL;		/* by entry index, per scan */
static bool out_of_slots_logged = false;
static bool out_of_entries_logged = false;

/*
 * Register the worker of entry "idx".  The entry is STARTING before the
 * worker can run, so the worker's own state changes are never overwritten;
 * if registration fails it goes back to what it was, and the next scan
 * tries again.
 */
static void
start_worker_for(int idx, Oid dboid, const char *datname)
{
	DbEntry    *e = &worker_shared->entries[idx];
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	MemoryContext old;
	DbState		prev;
	bool		ok;

	SpinLockAcquire(&worker_shared->mutex);
	prev = e->state;
	if (e->dboid == dboid && e->pid == 0 &&
		(prev == DB_UNKNOWN || prev == DB_FAILED))
		e->state = DB_STARTING;
	else
		prev = DB_FREE;			/* changed under us: leave it */
	SpinLockRelease(&worker_shared->mutex);
	if (prev == DB_FREE)
		return;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgmsg", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgmsg_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgmsg worker for database %s", datname);
	strlcpy(worker.bgw_type, "pgmsg worker", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;

	old = MemoryContextSwitchTo(launcher_cxt);
	ok = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);

	if (!ok)
	{
		SpinLockAcquire(&worker_shared->mutex);
		if (e->dboid == dboid && e->state == DB_STARTING && e->pid == 0)
			e->state = prev;
		SpinLockRelease(&worker_shared->mutex);
		if (!out_of_slots_logged)
			ereport(LOG,
					(errmsg("pgmsg launcher could not start a worker for database \"%s\"",
							datname),
					 errdetail("No background worker slot is free."),
					 errhint("Raise max_worker_processes.")));
		out_of_slots_logged = true;
		return;
	}
	out_of_slots_logged = false;
	if (handles[idx] != NULL)
		pfree(handles[idx]);
	handles[idx] = handle;
	ereport(DEBUG1,
			(errmsg_internal("pgmsg launcher started a worker for database \"%s\"", datname)));
}

/*
 * Look at one database of pg_database.  Returns how long the launcher may
 * sleep before this database needs it again, in milliseconds.
 */
static long
launcher_visit(Form_pg_database db, TimestampTz now, bool *untracked)
{
	DbEntry    *e;
	int			idx;
	DbState		state = DB_FREE;
	TimestampTz failed_at = 0;
	pid_t		pid = 0;
	long		secs;
	int			usecs;

	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(db->oid);
	if (e == NULL)
		e = add_entry(db->oid);
	if (e != NULL)
	{
		state = e->state;
		failed_at = e->failed_at;
		pid = e->pid;
	}
	SpinLockRelease(&worker_shared->mutex);

	if (e == NULL)
	{
		*untracked = true;
		if (!out_of_entries_logged)
			ereport(LOG,
					(errmsg("pgmsg launcher cannot look after database \"%s\"",
							NameStr(db->datname)),
					 errdetail("All %d entries of pgmsg.max_databases are in use.",
							   worker_shared->max_entries),
					 errhint("Raise pgmsg.max_databases and restart the server.")));
		out_of_entries_logged = true;
		return pgmsg_launcher_naptime;
	}
	idx = e - worker_shared->entries;
	seen[idx] = true;

	switch (state)
	{
		case DB_UNKNOWN:
			start_worker_for(idx, db->oid, NameStr(db->datname));
			break;
		case DB_FAILED:
			if (TimestampDifferenceExceeds(failed_at, now, RESTART_DELAY_MS))
				start_worker_for(idx, db->oid, NameStr(db->datname));
			else
			{
				TimestampDifference(now,
									TimestampTzPlusMilliseconds(failed_at, RESTART_DELAY_MS),
									&secs, &usecs);
				return Max(secs * 1000 + usecs / 1000 + 1, 10);
			}
			break;
		case DB_STARTING:
			{
				pid_t		wpid;

				/* a worker that stopped before claiming its entry has failed */
				if (pid == 0 && handles[idx] != NULL &&
					GetBackgroundWorkerPid(handles[idx], &wpid) == BGWH_STOPPED)
				{
					SpinLockAcquire(&worker_shared->mutex);
					if (e->dboid == db->oid && e->state == DB_STARTING && e->pid == 0)
					{
						e->state = DB_FAILED;
						e->failed_at = now;
					}
					SpinLockRelease(&worker_shared->mutex);
					return RESTART_DELAY_MS;
				}
			}
			break;
		case DB_RUNNING:
		case DB_NOT_INSTALLED:
		case DB_FREE:
			break;
	}
	return pgmsg_launcher_naptime;
}

/*
 * Recycle the entries of databases the last scan did not see, once no
 * worker is there.
 */
static void
launcher_forget_unseen(void)
{
	for (int i = 0; i < worker_shared->max_entries; i++)
	{
		bool		stopped;
		bool		freed = false;
		pid_t		wpid;

		if (seen[i])
			continue;
		stopped = handles[i] == NULL ||
			GetBackgroundWorkerPid(handles[i], &wpid) == BGWH_STOPPED;
		SpinLockAcquire(&worker_shared->mutex);
		if (i < worker_shared->nentries)
		{
			DbEntry    *e = &worker_shared->entries[i];

			if (e->state != DB_FREE && e->pid == 0 &&
				(e->state != DB_STARTING || stopped))
			{
				e->state = DB_FREE;
				e->dboid = InvalidOid;
				freed = true;
			}
		}
		SpinLockRelease(&worker_shared->mutex);
		if (freed && handles[i] != NULL)
		{
			pfree(handles[i]);
			handles[i] = NULL;
		}
	}
}

/*
 * One pass over pg_database.  Returns how long to sleep, in milliseconds.
 */
static long
launcher_scan(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	TimestampTz now = GetCurrentTimestamp();
	long		timeout = pgmsg_launcher_naptime;
	bool		untracked = false;

	memset(seen, 0, sizeof(bool) * worker_shared->max_entries);

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	pgstat_report_activity(STATE_RUNNING, "scanning pg_database");
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate)
			continue;
#ifdef DATCONNLIMIT_INVALID_DB
		/* left behind by an interrupted DROP DATABASE */
		if (db->datconnlimit == DATCONNLIMIT_INVALID_DB)
			continue;
#endif
		timeout = Min(timeout, launcher_visit(db, now, &untracked));
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	launcher_forget_unseen();
	/* log again the next time the entries run out */
	if (!untracked)
		out_of_entries_logged = false;
	return timeout;
}

static void
launcher_exit(int code, Datum arg)
{
	SpinLockAcquire(&worker_shared->mutex);
	if (worker_shared->launcher_pid == MyProcPid)
	{
		worker_shared->launcher_pid = 0;
		worker_shared->launcher_latch = NULL;
	}
	SpinLockRelease(&worker_shared->mutex);
}

void
pgmsg_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launcher_cxt = AllocSetContextCreate(TopMemoryContext, "pgmsg launcher",
										 ALLOCSET_DEFAULT_SIZES);
	handles = MemoryContextAllocZero(launcher_cxt,
									 sizeof(BackgroundWorkerHandle *) * worker_shared->max_entries);
	seen = MemoryContextAllocZero(launcher_cxt, sizeof(bool) * worker_shared->max_entries);

	on_shmem_exit(launcher_exit, (Datum) 0);
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->launcher_pid = MyProcPid;
	worker_shared->launcher_latch = MyLatch;

	/*
	 * A previous launcher may have registered workers that have not claimed
	 * their entry yet, and whose handles died with it: look again.  Should
	 * two workers start in one database, only one claims it.
	 */
	for (int i = 0; i < worker_shared->nentries; i++)
	{
		DbEntry    *e = &worker_shared->entries[i];

		if (e->state == DB_STARTING && e->pid == 0)
			e->state = DB_UNKNOWN;
	}
	SpinLockRelease(&worker_shared->mutex);

	for (;;)
	{
		long		timeout;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		timeout = launcher_scan();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* ----------------------------------------------------------------------
 * The entry protocol of the per-database workers
 * ----------------------------------------------------------------------
 */

/*
 * Take the entry of this worker's database.  Fails if there is none or another live
 * worker has it.  Returns the entry's start_requests in *requests.
 */
bool
launcher_claim_entry(uint32 *requests)
{
	DbEntry    *e;
	bool		ok = false;

	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(MyDatabaseId);
	if (e != NULL && e->pid == 0)
	{
		e->pid = MyProcPid;
		e->latch = MyLatch;
		e->state = DB_STARTING;
		*requests = e->start_requests;
		ok = true;
	}
	SpinLockRelease(&worker_shared->mutex);
	return ok;
}

/*
 * How many starts were requested in this database so far (see
 * launcher_set_state).
 */
uint32
launcher_start_requests(void)
{
	DbEntry    *e;
	uint32		n = 0;

	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(MyDatabaseId);
	if (e != NULL)
		n = e->start_requests;
	SpinLockRelease(&worker_shared->mutex);
	return n;
}

/*
 * Record this worker's state in its entry.  Leaving (NOT_INSTALLED) also
 * gives the entry up; "not installed" becomes UNKNOWN if a start was
 * requested since "requests" was read, before the check that found no
 * pgmsg: the extension may have been created after that check's snapshot,
 * and the launcher must look again.
 */
void
launcher_set_state(DbState state, uint32 requests)
{
	DbEntry    *e;
	Latch	   *launcher = NULL;

	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(MyDatabaseId);
	if (e != NULL && e->pid == MyProcPid)
	{
		if (state == DB_NOT_INSTALLED)
		{
			if (e->start_requests != requests)
				state = DB_UNKNOWN;
			e->pid = 0;
			e->latch = NULL;
			launcher = worker_shared->launcher_latch;
		}
		e->state = state;
	}
	SpinLockRelease(&worker_shared->mutex);
	if (launcher != NULL)
		SetLatch(launcher);
}

/*
 * Exit callback of a worker that claimed its entry: give the entry up.  A worker that leaves while starting or
 * running has failed; the launcher starts another after RESTART_DELAY_MS.
 */
void
launcher_release_entry(int code, Datum arg)
{
	TimestampTz now = GetCurrentTimestamp();
	DbEntry    *e;
	Latch	   *launcher;

	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(MyDatabaseId);
	if (e != NULL && e->pid == MyProcPid)
	{
		e->pid = 0;
		e->latch = NULL;
		if (e->state == DB_STARTING || e->state == DB_RUNNING)
		{
			e->state = DB_FAILED;
			e->failed_at = now;
		}
	}
	launcher = worker_shared->launcher_latch;
	SpinLockRelease(&worker_shared->mutex);
	if (launcher != NULL)
		SetLatch(launcher);
}

/*
 * Wake this database's worker, if it runs (start_redrive).
 */
void
pgmsg_worker_wake(void)
{
	DbEntry    *e;
	Latch	   *latch = NULL;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(MyDatabaseId);
	if (e != NULL)
		latch = e->latch;
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
	DbEntry    *e;
	Latch	   *latch;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	e = find_entry(MyDatabaseId);
	if (e != NULL)
	{
		e->start_requests++;
		if (e->state == DB_NOT_INSTALLED)
			e->state = DB_UNKNOWN;
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
				 errdetail("Only superusers and the owner of the database may start it.")));
	if (worker_shared != NULL)
		xact_track_worker(true);
	PG_RETURN_VOID();
}
