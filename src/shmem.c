/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		pgmsg's shared memory: the queue slot array, the publisher bound
 *		array and the server epoch.
 *
 * Layout: one PgmsgShared header followed by pgmsg.max_queues QueueShared
 * slots, then a two-dimensional array of publisher bounds (one row of
 * MaxBackends 64-bit atomics per queue slot, indexed by pgprocno).  The
 * lease map is a separate shared hash table owned by lease.c, the waiter
 * links a separate array owned by waiters.c.
 *
 * Locking.  This is the one description of pgmsg's shared-memory locks;
 * the other files refer to it.  Locks are taken in this order, never the
 * other way round, and a backend holds at most one queue lock at a time
 * (xact.c's commit and abort callbacks release one before taking the next):
 *
 *	1. The directory lock (pgmsg_shared->directory_lock, an LWLock).
 *	   Protects each slot's identity (dbid, queue_id, in_use): written with
 *	   it held exclusively (slot set-up here, release in pgmsg_release_slots),
 *	   read with it held in shared mode.  Backends cache a pointer to their
 *	   slot and recheck its identity on every use.
 *	2. A queue lock (QueueShared.lock, an LWLock per slot).  Protects the
 *	   queue's leases and every field of them, its FIFO group entries, its
 *	   redelivery heap, its lease count and lists, the relfilenode its
 *	   leases point into (all lease.c), and its read-ahead (cursor.c).
 *	   Held exclusively to change any of them, in shared mode to read them
 *	   (stats.c, metrics.c).
 *	3. The lease map partition locks (pgmsg_partition_lock, LEASE_PARTITIONS
 *	   LWLocks).  Protect the structure of the shared hash tables of leases
 *	   and group entries, not the entries' contents; held only around one
 *	   hash_search call, always inside the entry's queue lock.
 *	4. The crash floor lock (pgmsg_inflight_lock, an LWLock).  Protects
 *	   inflight.c's table of floors; taken after any of the above.
 *	5. A queue spinlock (QueueShared.mutex).  Protects the key clock, the
 *	   cursor and the count of registered publisher bounds (cursor.c) and
 *	   the stored-message count (stats.c); held for a few instructions
 *	   only, possibly inside any of the LWLocks above.  A queue's waiter
 *	   list (QueueShared.wait_mutex, waiters.c), inflight.c's free record
 *	   stack and the launcher's table have spinlocks of their own, taken
 *	   the same way and never together with another spinlock.
 *
 * Not locks: the per-queue statistics counters, waiter counts, arrival
 * count, window target and push worker number are atomics; a publisher
 * bound is an atomic written only by its own backend (cursor.c);
 * pgmsg_shared->nleases and ->ngroups are atomics that bound the hash
 * tables' sizes (lease.c).
 *
 * Errors.  A spinlock or a partition lock is never held while raising an
 * error, or while calling anything that could raise one.  The directory
 * lock and a queue lock may be held while raising (the abort releases
 * every LWLock), but only when the state they protect is whole: whatever
 * was changed under the lock has been put back or recorded in xact.c, so
 * that the abort undoes it.  Anything that can fail for lack of memory
 * (xact_reserve, lease_taking_begin) is done before the queue lock is
 * taken.  xact.c's commit and abort callbacks take LWLocks but never raise.
 *
 * Slot lifetime: a slot is set up on the first use of its queue and given
 * back, leases and all (pgmsg_release_slots, from xact.c), when
 *	- the drop of the queue commits;
 *	- the creation of the queue rolls back (the queue may have been used in
 *	  its creating transaction);
 *	- DROP EXTENSION pgmsg commits: every slot of the database goes;
 *	- DROP DATABASE commits: every slot of that database goes.
 * Queue ids come from a sequence, so they are not reused while the
 * extension exists; after DROP EXTENSION the sequence starts again, which is
 * safe because the old slots are gone by then, and create_queue never hands
 * out an id at or below one that still has a slot (an extension dropped and
 * created again in one transaction keeps its old slots until that commits).
 * A stale cached pointer is therefore always detected.
 *
 * Nothing here survives a restart: after a crash or shutdown every slot is
 * rebuilt on first use from the durable tables (at-least-once delivery),
 * with the receive counts kept by inflight.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "cursor.h"
#include "inflight.h"
#include "launcher.h"
#include "lease.h"
#include "pgmsg.h"
#include "shmem.h"
#include "stats.h"
#include "waiters.h"

PgmsgShared *pgmsg_shared = NULL;

#define PGMSG_TRANCHE	"pgmsg"

static Size
queue_array_size(void)
{
	Size		size;

	size = add_size(offsetof(PgmsgShared, queues),
					mul_size(pgmsg_max_queues, sizeof(QueueShared)));
	size = MAXALIGN(size);
	size = add_size(size, mul_size(mul_size(pgmsg_max_queues, MaxBackends),
								   sizeof(pg_atomic_uint64)));
	return size;
}

/*
 * The invariant of slot identities, checked where they change
 * (PGMSG_CHECKS): no two slots in use belong to the same queue, and a slot
 * in use names a database.  Caller holds the directory lock exclusively.
 */
static void
check_slots(void)
{
#ifdef PGMSG_CHECKS
	PGMSG_CHECK(LWLockHeldByMeInMode(pgmsg_shared->directory_lock, LW_EXCLUSIVE));
	for (int i = 0; i < pgmsg_shared->max_queues; i++)
	{
		QueueShared *a = &pgmsg_shared->queues[i];

		if (!a->in_use)
			continue;
		PGMSG_CHECK(OidIsValid(a->dbid));
		for (int j = i + 1; j < pgmsg_shared->max_queues; j++)
		{
			QueueShared *b = &pgmsg_shared->queues[j];

			PGMSG_CHECK(!b->in_use || b->dbid != a->dbid ||
						b->queue_id != a->queue_id);
		}
	}
#endif
}

/*
 * Reserve shared memory and LWLocks; called from shmem_request_hook.
 */
void
pgmsg_shmem_request(void)
{
	RequestAddinShmemSpace(queue_array_size());
	RequestAddinShmemSpace(lease_shmem_size());
	RequestAddinShmemSpace(waiters_shmem_size());
	RequestAddinShmemSpace(inflight_shmem_size());
	RequestAddinShmemSpace(launcher_shmem_size());
	/* directory lock, one per queue slot, lease map partitions, floors */
	RequestNamedLWLockTranche(PGMSG_TRANCHE, 1 + pgmsg_max_queues + LEASE_PARTITIONS + 1);
}

/*
 * Create or attach to the shared state; called from shmem_startup_hook with
 * AddinShmemInitLock held.
 */
void
pgmsg_shmem_startup(void)
{
	bool		found;
	LWLockPadded *locks;

	pgmsg_shared = ShmemInitStruct("pgmsg", queue_array_size(), &found);
	if (!found)
	{
		uint64		epoch;

		memset(pgmsg_shared, 0, queue_array_size());
		locks = GetNamedLWLockTranche(PGMSG_TRANCHE);
		pgmsg_shared->directory_lock = &locks[0].lock;
		if (!pg_strong_random(&epoch, sizeof(epoch)))
			epoch = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 32);
		pgmsg_shared->epoch = epoch;
		pg_atomic_init_u64(&pgmsg_shared->nleases, 0);
		pg_atomic_init_u64(&pgmsg_shared->ngroups, 0);
		pgmsg_shared->max_queues = pgmsg_max_queues;
		pgmsg_shared->max_backends = MaxBackends;
		for (int i = 0; i < pgmsg_max_queues; i++)
		{
			QueueShared *qs = &pgmsg_shared->queues[i];

			SpinLockInit(&qs->mutex);
			qs->lock = &locks[1 + i].lock;
			pg_atomic_init_u32(&qs->npublishers, 0);
			pg_atomic_init_u64(&qs->sent, 0);
			pg_atomic_init_u64(&qs->received, 0);
			pg_atomic_init_u64(&qs->deleted, 0);
			pg_atomic_init_u64(&qs->dead_lettered, 0);
			pg_atomic_init_u32(&qs->push_proc, 0);
			waiters_slot_init(qs);
			pg_atomic_init_u32(&qs->nwindow, 0);
			pg_atomic_init_u64(&qs->arrivals, 0);
			pg_atomic_init_u64(&qs->window_target, PG_UINT64_MAX);
			ConditionVariableInit(&qs->window_cv);
			lease_slot_init(qs);
		}
		for (int i = 0; i < pgmsg_max_queues * MaxBackends; i++)
			pg_atomic_init_u64(&((pg_atomic_uint64 *) pgmsg_publisher_bounds(&pgmsg_shared->queues[0]))[i], 0);
	}
	lease_shmem_init();
	waiters_shmem_init();
	inflight_shmem_startup();
	launcher_shmem_init();
}

/*
 * pgmsg's LWLock tranche, looked up once per process: the lookup compares
 * tranche names, and the lease map's partition locks are taken several
 * times per message.
 */
static LWLockPadded *
pgmsg_locks(void)
{
	static LWLockPadded *locks = NULL;

	if (locks == NULL)
		locks = GetNamedLWLockTranche(PGMSG_TRANCHE);
	return locks;
}

/*
 * The LWLocks of the lease map partitions follow the queue locks.
 */
LWLock *
pgmsg_partition_lock(int partition)
{
	return &pgmsg_locks()[1 + pgmsg_shared->max_queues + partition].lock;
}

/*
 * The LWLock of the crash floors (inflight.c) comes last.
 */
LWLock *
pgmsg_inflight_lock(void)
{
	return &pgmsg_locks()[1 + pgmsg_shared->max_queues + LEASE_PARTITIONS].lock;
}

/*
 * Raise the error every entry point raises when pgmsg is not preloaded.
 */
void
pgmsg_check_loaded(void)
{
	if (pgmsg_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgmsg must be loaded via shared_preload_libraries"),
				 errhint("Add pgmsg to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * The row of publisher bounds belonging to a queue slot.
 */
pg_atomic_uint64 *
pgmsg_publisher_bounds(QueueShared *qs)
{
	char	   *base;
	int			slotno = qs - pgmsg_shared->queues;

	base = (char *) pgmsg_shared +
		MAXALIGN(offsetof(PgmsgShared, queues) +
				 pgmsg_shared->max_queues * sizeof(QueueShared));
	return (pg_atomic_uint64 *) base + (Size) slotno * pgmsg_shared->max_backends;
}

/*
 * Find the slot of a queue of the current database, setting one up if
 * "create" is true and there is none.  A new slot starts with its cursor
 * before every key, so the first receive after a restart scans the queue
 * from its start once.
 *
 * Returns NULL, with create, if the queue has been dropped: a caller may
 * have looked the queue up before a drop committed.  A slot set up after
 * the drop's commit released the queue's slots would never be released, so
 * a new slot is checked against the catalog afterwards, with a snapshot
 * taken then, and given back if the queue is gone.  The drop's commit is
 * visible before it releases the slots, so either that release comes after
 * the slot was set up and frees it, or the check sees the drop.
 */
QueueShared *
pgmsg_queue_shared(int32 queue_id, bool create)
{
	QueueShared *free_slot = NULL;
	QueueShared *result = NULL;
	bool		created = false;

	LWLockAcquire(pgmsg_shared->directory_lock, LW_SHARED);
	for (int i = 0; i < pgmsg_shared->max_queues; i++)
	{
		QueueShared *qs = &pgmsg_shared->queues[i];

		if (qs->in_use && qs->queue_id == queue_id && qs->dbid == MyDatabaseId)
		{
			result = qs;
			break;
		}
	}
	LWLockRelease(pgmsg_shared->directory_lock);
	if (result != NULL || !create)
		return result;

	LWLockAcquire(pgmsg_shared->directory_lock, LW_EXCLUSIVE);
	for (int i = 0; i < pgmsg_shared->max_queues; i++)
	{
		QueueShared *qs = &pgmsg_shared->queues[i];

		if (qs->in_use && qs->queue_id == queue_id && qs->dbid == MyDatabaseId)
		{
			result = qs;
			break;
		}
		if (!qs->in_use && free_slot == NULL)
			free_slot = qs;
	}
	if (result == NULL && free_slot != NULL)
	{
		/* a slot given back has nothing left in it */
		PGMSG_CHECK(lease_count(free_slot) == 0);
		result = free_slot;
		SpinLockAcquire(&result->mutex);
		result->clock = 0;
		result->cursor_at = DT_NOBEGIN;
		result->cursor_id = PG_INT64_MIN;
		SpinLockRelease(&result->mutex);
		stats_count_forget(result);
		pg_atomic_write_u64(&result->sent, 0);
		pg_atomic_write_u64(&result->received, 0);
		pg_atomic_write_u64(&result->deleted, 0);
		pg_atomic_write_u64(&result->dead_lettered, 0);
		pg_atomic_write_u32(&result->push_proc, 0);
		lease_slot_init(result);
		cursor_ahead_clear(result);
		result->dbid = MyDatabaseId;
		result->queue_id = queue_id;
		result->in_use = true;
		created = true;
		check_slots();
	}
	LWLockRelease(pgmsg_shared->directory_lock);

	if (created && !pgmsg_queue_id_exists(queue_id))
	{
		pgmsg_release_slots(MyDatabaseId, queue_id, queue_id);
		return NULL;
	}

	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many active pgmsg queues"),
				 errdetail("All %d queue slots in shared memory are in use.",
						   pgmsg_shared->max_queues),
				 errhint("Raise pgmsg.max_queues and restart the server.")));
	return result;
}

/*
 * The greatest queue id of the current database that has a slot or a
 * crash floor (inflight.c), or 0.  create_queue hands out ids above it, so
 * a queue never inherits the slot or the floors of an older queue (one of
 * an extension dropped and created again in the same transaction, whose
 * slots go away only when that commits).
 */
int32
pgmsg_max_slot_queue_id(void)
{
	int32		result = 0;

	LWLockAcquire(pgmsg_shared->directory_lock, LW_SHARED);
	for (int i = 0; i < pgmsg_shared->max_queues; i++)
	{
		QueueShared *qs = &pgmsg_shared->queues[i];

		if (qs->in_use && qs->dbid == MyDatabaseId && qs->queue_id > result)
			result = qs->queue_id;
	}
	result = Max(result, inflight_max_queue_id(MyDatabaseId));
	LWLockRelease(pgmsg_shared->directory_lock);
	return result;
}

/*
 * Give back the slots of database "dbid" whose queue ids lie in
 * [first_id, last_id], with every lease and crash floor of those queues:
 * once the drop of a
 * queue, of the extension or of the database has committed, or once the
 * creation of a queue has rolled back.  Called from transaction callbacks,
 * so it only takes LWLocks: the directory lock, then each slot's queue lock
 * (lease.c takes the partition locks after that).  Nobody takes the
 * directory lock while holding a queue lock.
 */
void
pgmsg_release_slots(Oid dbid, int32 first_id, int32 last_id)
{
	LWLockAcquire(pgmsg_shared->directory_lock, LW_EXCLUSIVE);
	for (int i = 0; i < pgmsg_shared->max_queues; i++)
	{
		QueueShared *qs = &pgmsg_shared->queues[i];

		if (!qs->in_use || qs->dbid != dbid ||
			qs->queue_id < first_id || qs->queue_id > last_id)
			continue;
		LWLockAcquire(qs->lock, LW_EXCLUSIVE);
		lease_remove_queue(qs, dbid, qs->queue_id, PG_INT64_MAX);
		LWLockRelease(qs->lock);
		/* long polls end: their queue is gone (receive.c) */
		if (pg_atomic_read_u32(&qs->nwaiters) > 0)
			waiters_wake_all(qs);
		if (pg_atomic_read_u32(&qs->nwindow) > 0)
			ConditionVariableBroadcast(&qs->window_cv);
		PGMSG_CHECK(lease_count(qs) == 0);
		qs->in_use = false;
		qs->queue_id = 0;
		qs->dbid = InvalidOid;
	}
	check_slots();
	inflight_forget_floors(dbid, first_id, last_id, PG_INT64_MAX);
	LWLockRelease(pgmsg_shared->directory_lock);
}
