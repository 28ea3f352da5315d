/*-------------------------------------------------------------------------
 *
 * xact.c
 *		Transaction-scoped effects on shared memory.
 *
 * Leases, cursors and publisher bounds live in shared memory, which does
 * not roll back.  Every entry point that changes them for the current
 * transaction records here what must happen at its end:
 *
 *	receive		commit: the lease becomes HELD (into the redelivery heap)
 *				and the receive is counted in the queue's statistics; a
 *				crash floor it counted from is dropped (inflight.c);
 *				abort: the message is released at once: a redelivered one
 *				gets its previous receipt, receive count and row version
 *				back, a first receive's lease is dropped and the cursor
 *				moved back before the message.
 *	delete		commit: the lease is dropped; abort: it is held again.
 *	visibility	commit: the new expiry takes effect, unless the lease is
 *				a FIFO one that has run out by then (lease_fifo_expired).
 *				A lease taken by this same transaction gets its new
 *				expiry at once, and abort gives it back the previous one.
 *	publish		end: the backend's lower bound for the queue is cleared;
 *				commit: waiting receivers are woken, one per message sent
 *				(all of them when a message is not visible yet, see
 *				wake_for_messages).
 *	create		abort: the queue's slot, if it was used, is released.
 *	drop		commit: the queue's leases are dropped and its slot
 *				released.
 *	purge		commit: the leases and crash floors that existed when the
 *				purge ran (of messages with ids up to the last one
 *				assigned then) are dropped and the cursor reset; leases taken later on newer
 *				messages are kept.
 *	DROP EXTENSION pgmsg, DROP DATABASE
 *				commit: every slot of the database is released (noticed by
 *				an object access hook); for DROP EXTENSION only the slots
 *				that existed when it ran, since the extension may be
 *				created again and used in the same transaction.
 *	dead letter	commit: the move is counted in the queue's statistics.
 *	worker		commit: the database's worker is woken or started.
 *
 * Commit work runs at XACT_EVENT_COMMIT, which comes after
 * ProcArrayEndTransaction: the transaction's rows are visible to every new
 * snapshot by then.  Abort work runs after LWLockReleaseAll.  Both only take
 * LWLocks and never raise errors.  Effects recorded in a subtransaction are
 * undone when it aborts, and handed to the parent when it commits.  A
 * transaction that used pgmsg cannot be prepared for two-phase commit.
 *
 * Each lease effect is checked against the nonce it was recorded with, so
 * an effect that another transaction has overtaken (a purge, a drop) does
 * nothing.
 *
 * Acknowledgements without a flush of their own.  A delete that a crash
 * forgets only means the message is delivered again, which at-least-once
 * delivery allows; so a transaction whose only writes are deletes commits
 * as with synchronous_commit = off (for that transaction alone), unless
 * pgmsg.durable_acks is on.  "Only" is judged by WAL records: this backend's
 * count of records written (pgWalUsage) is read at the end of every
 * top-level transaction, and ack.c adds up the records its deletes write;
 * if at PRE_COMMIT the transaction's records are exactly the deletes', it
 * wrote nothing else.  Anything else it wrote, a row, a send, a receive
 * count, DDL, a heap page pruned on the way, writes records of its own and
 * keeps the user's synchronous_commit; so does a transaction whose start
 * was not seen (the library was loaded during it).  The switch writes the
 * setting's variable at PRE_COMMIT and puts the user's value back at the
 * transaction's end, commit or abort: the same effect on the commit as
 * SET LOCAL synchronous_commit = off, and nothing else can run between
 * the two.  SET LOCAL itself costs more than the rest of a delete's
 * commit: it stacks the setting, and the end of the transaction then
 * walks every setting of the server.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cursor.h"
#include "inflight.h"
#include "launcher.h"
#include "lease.h"
#include "shmem.h"
#include "stats.h"
#include "waiters.h"
#include "xact.h"

typedef enum ActionKind
{
	ACT_RECEIVE,
	ACT_DELETE,
	ACT_VISIBILITY
} ActionKind;

typedef struct LeaseAction
{
	ActionKind	kind;
	int			nestlevel;
	QueueShared *qs;
	LeaseUndo	undo;			/* key and nonce are set for every kind */
	TimestampTz expires_at;		/* ACT_VISIBILITY; if undo.prev_state is
								 * RECEIVING it took effect at once, and
								 * undo.prev_expires_at is the one before */
} LeaseAction;

typedef enum QueueActionKind
{
	QACT_PUBLISH,
	QACT_CREATE,
	QACT_DROP,
	QACT_PURGE,
	QACT_RELEASE,
	QACT_DEAD_LETTER,
	QACT_SENT,
	QACT_RECEIVED,
	QACT_WAKE_WORKER,
	QACT_START_WORKER
} QueueActionKind;

typedef struct QueueAction
{
	QueueActionKind kind;
	int			nestlevel;
	QueueShared *qs;			/* QACT_PUBLISH, QACT_DEAD_LETTER, QACT_SENT,
								 * QACT_RECEIVED */
	int32		queue_id;		/* QACT_CREATE, QACT_DROP, QACT_PURGE; for
								 * QACT_RELEASE the greatest id released */
	Oid			dbid;			/* QACT_RELEASE */
	int64		count;			/* QACT_SENT, QACT_RECEIVED: messages;
								 * QACT_PUBLISH: messages sent in the whole
								 * transaction, rolled back or not;
								 * QACT_PURGE: last message id when it ran */
	bool		delayed;		/* QACT_PUBLISH: a message sent is not
								 * visible at once */
} QueueAction;

static LeaseAction *lease_actions = NULL;
static int	n_lease_actions = 0;
static int	max_lease_actions = 0;
static QueueAction *queue_actions = NULL;
static int	n_queue_actions = 0;
static int	max_queue_actions = 0;

static object_access_hook_type prev_object_access_hook = NULL;

/* WAL records: this backend's count when the last transaction ended, and
 * those this transaction's deletes wrote */
static int64 wal_records_at_start = 0;
static bool wal_start_known = false;
static int64 ack_wal_records = 0;
static int	user_synchronous_commit = -1;	/* -1: not switched */

/*
 * Make room for n more lease actions, so that recording them later cannot
 * fail while shared state is half changed.
 */
void
xact_reserve(int n)
{
	if (n_lease_actions + n <= max_lease_actions)
		return;
	if (lease_actions == NULL)
	{
		max_lease_actions = Max(64, n);
		lease_actions = MemoryContextAlloc(TopMemoryContext,
										   max_lease_actions * sizeof(LeaseAction));
	}
	else
	{
		max_lease_actions = Max(max_lease_actions * 2, n_lease_actions + n);
		lease_actions = repalloc(lease_actions,
								 max_lease_actions * sizeof(LeaseAction));
	}
}

static LeaseAction *
new_lease_action(ActionKind kind, QueueShared *qs)
{
	LeaseAction *a;

	Assert(n_lease_actions < max_lease_actions);
	a = &lease_actions[n_lease_actions++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->nestlevel = GetCurrentTransactionNestLevel();
	a->qs = qs;
	return a;
}

void
xact_track_receive(QueueShared *qs, const LeaseUndo *undo)
{
	LeaseAction *a = new_lease_action(ACT_RECEIVE, qs);

	a->undo = *undo;
}

void
xact_track_delete(QueueShared *qs, const LeaseKey *key, uint64 nonce,
				  LeaseState prev_state)
{
	LeaseAction *a = new_lease_action(ACT_DELETE, qs);

	a->undo.key = *key;
	a->undo.nonce = nonce;
	a->undo.prev_state = prev_state;
}

/*
 * A visibility change.  "state" is the lease's state when it was made: for
 * a lease this transaction took (RECEIVING) the caller has already set the
 * new expiry, and prev_expires_at is restored if the change is rolled back.
 */
void
xact_track_visibility(QueueShared *qs, const LeaseKey *key, uint64 nonce,
					  TimestampTz expires_at, LeaseState state,
					  TimestampTz prev_expires_at)
{
	LeaseAction *a = new_lease_action(ACT_VISIBILITY, qs);

	a->undo.key = *key;
	a->undo.nonce = nonce;
	a->undo.prev_state = state;
	a->undo.prev_expires_at = prev_expires_at;
	a->expires_at = expires_at;
}

static QueueAction *
new_queue_action(QueueActionKind kind)
{
	QueueAction *a;

	if (n_queue_actions >= max_queue_actions)
	{
		if (queue_actions == NULL)
		{
			max_queue_actions = 16;
			queue_actions = MemoryContextAlloc(TopMemoryContext,
											   max_queue_actions * sizeof(QueueAction));
		}
		else
		{
			max_queue_actions *= 2;
			queue_actions = repalloc(queue_actions,
									 max_queue_actions * sizeof(QueueAction));
		}
	}
	a = &queue_actions[n_queue_actions++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	a->nestlevel = GetCurrentTransactionNestLevel();
	return a;
}

/*
 * Add n to a per-queue count of kind QACT_SENT or QACT_RECEIVED, applied at
 * commit.  The count is kept at the current nesting level, so a rolled-back
 * savepoint takes it back.
 */
static void
add_count(QueueActionKind kind, QueueShared *qs, int64 n)
{
	QueueAction *a = n_queue_actions > 0 ? &queue_actions[n_queue_actions - 1] : NULL;

	if (a == NULL || a->kind != kind || a->qs != qs ||
		a->nestlevel != GetCurrentTransactionNestLevel())
	{
		a = new_queue_action(kind);
		a->qs = qs;
	}
	a->count += n;
}

/*
 * Note that this transaction sends nsent messages to a queue.  Returns true
 * the first time for a queue, when the caller must register its lower
 * bound (cursor_assign_key); the bound is cleared at the end of the
 * top-level transaction, whatever happens to subtransactions.
 */
bool
xact_track_publish(QueueShared *qs, int64 nsent)
{
	QueueAction *a;
	bool		first = true;

	for (int i = 0; i < n_queue_actions; i++)
	{
		a = &queue_actions[i];
		if (a->kind == QACT_PUBLISH && a->qs == qs)
		{
			first = false;
			break;
		}
	}
	if (first)
	{
		a = new_queue_action(QACT_PUBLISH);
		a->qs = qs;
		a->nestlevel = 1;
	}
	a->count += nsent;

	add_count(QACT_SENT, qs, nsent);
	return first;
}

/*
 * Note that a message this transaction sends to a queue becomes visible
 * only later (a delay, or a FIFO group's order): every waiting receiver is
 * then woken at commit, so that each sleeps until it is due.  Called after
 * xact_track_publish for the queue.
 */
void
xact_track_delayed(QueueShared *qs)
{
	for (int i = 0; i < n_queue_actions; i++)
	{
		QueueAction *a = &queue_actions[i];

		if (a->kind == QACT_PUBLISH && a->qs == qs)
		{
			a->delayed = true;
			return;
		}
	}
}

/*
 * Count n messages received from a queue, once this transaction commits.
 */
void
xact_track_received(QueueShared *qs, int64 n)
{
	add_count(QACT_RECEIVED, qs, n);
}

/*
 * Count a message moved to a dead-letter queue, once this transaction
 * commits.
 */
void
xact_track_dead_letter(QueueShared *qs)
{
	new_queue_action(QACT_DEAD_LETTER)->qs = qs;
}

/*
 * Wake this database's worker (it has new work), or ask the launcher to
 * start it, once this transaction commits.
 */
void
xact_track_worker(bool start)
{
	new_queue_action(start ? QACT_START_WORKER : QACT_WAKE_WORKER);
}

void
xact_track_drop(int32 queue_id)
{
	new_queue_action(QACT_DROP)->queue_id = queue_id;
}

/*
 * A purge, run when max_msg_id was the last message id assigned (0 if
 * none): the leases of messages up to it go when the purge commits.
 * Messages sent later have greater ids, so leases taken on them after the
 * purge, by this transaction or another, are kept.
 */
void
xact_track_purge(int32 queue_id, int64 max_msg_id)
{
	QueueAction *a = new_queue_action(QACT_PURGE);

	a->queue_id = queue_id;
	a->count = max_msg_id;
}

/*
 * A queue created by this transaction: if it rolls back, the queue's slot,
 * set up if the queue was used meanwhile, is released.
 */
void
xact_track_create(int32 queue_id)
{
	new_queue_action(QACT_CREATE)->queue_id = queue_id;
}

/*
 * Release the slots of database dbid with queue ids up to last_id once
 * this transaction commits.
 */
static void
track_release(Oid dbid, int32 last_id)
{
	QueueAction *a = new_queue_action(QACT_RELEASE);

	a->dbid = dbid;
	a->queue_id = last_id;
}

/*
 * Count WAL records written by deletes (ack.c) in this transaction.
 */
void
xact_note_ack_wal(int64 records)
{
	ack_wal_records += records;
}

/*
 * At PRE_COMMIT: if every WAL record this transaction wrote was a delete's,
 * let it commit without waiting for the flush, as SET LOCAL
 * synchronous_commit = off would; restore_synchronous_commit puts the
 * user's setting back.
 */
static void
commit_acks_async(void)
{
	if (pgmsg_durable_acks || !wal_start_known || ack_wal_records <= 0 ||
		synchronous_commit <= SYNCHRONOUS_COMMIT_OFF)
		return;
	if (pgWalUsage.wal_records - wal_records_at_start != ack_wal_records)
		return;
	user_synchronous_commit = synchronous_commit;
	synchronous_commit = SYNCHRONOUS_COMMIT_OFF;
}

/*
 * At the end of a top-level transaction, first of all: the user's
 * synchronous_commit is back.
 */
static void
restore_synchronous_commit(void)
{
	if (user_synchronous_commit >= 0)
	{
		synchronous_commit = user_synchronous_commit;
		user_synchronous_commit = -1;
	}
}

/*
 * At the end of a top-level transaction: the next one starts counting WAL
 * records from here.
 */
static void
reset_wal_count(void)
{
	wal_records_at_start = pgWalUsage.wal_records;
	wal_start_known = true;
	ack_wal_records = 0;
}

static bool
xact_uses_pgmsg(void)
{
	return n_lease_actions > 0 || n_queue_actions > 0;
}

/*
 * Lock a queue for a run of actions, switching locks only when the queue
 * changes.
 */
static void
switch_queue_lock(QueueShared **held, QueueShared *want)
{
	if (*held == want)
		return;
	if (*held != NULL)
		LWLockRelease((*held)->lock);
	if (want != NULL)
		LWLockAcquire(want->lock, LW_EXCLUSIVE);
	*held = want;
}

/*
 * Wake the receivers that can take n new messages.  Of the waiters that have
 * no message yet, one per message, the newest first, or every one if there
 * are at least as many messages, or if "all" (the messages are not visible
 * yet, and each waiter must learn when they will be).  The barrier orders
 * the read of the waiter count after this transaction's effects became
 * visible (receive.c joins the waiters before its last scan).  A waiter
 * woken that then leaves without sleeping again (it found other messages,
 * or its wait ended) passes the wake on to another (waiters.c), so a wake
 * is not lost; one woken while it scans scans again.
 *
 * Waiters in their batch window already have messages: they are woken only
 * once the arrivals since their last scan could fill the smallest of their
 * batches (window_target), or for "all".  The first committer to reach the
 * target puts it back to "none" and wakes them all; each then scans and, if
 * its batch is still not full, sets a new target.  The atomic add is a full
 * barrier, as receive.c's setting of the target is, so either the waiter
 * sees these arrivals or this commit sees its target.
 */
static void
wake_for_messages(QueueShared *qs, int64 n, bool all)
{
	uint32		nwaiters;
	uint32		push_proc;
	uint64		arrived = 0;

	if (!all)
		arrived = pg_atomic_add_fetch_u64(&qs->arrivals, n);
	else
		pg_memory_barrier();
	nwaiters = pg_atomic_read_u32(&qs->nwaiters);
	if (nwaiters > 0)
	{
		if (all || n >= nwaiters)
			waiters_wake_all(qs);
		else
			waiters_wake(qs, n);
	}
	if (pg_atomic_read_u32(&qs->nwindow) > 0)
	{
		uint64		target = pg_atomic_read_u64(&qs->window_target);

		if (all ||
			(arrived >= target &&
			 pg_atomic_compare_exchange_u64(&qs->window_target, &target,
											PG_UINT64_MAX)))
			ConditionVariableBroadcast(&qs->window_cv);
	}
	push_proc = pg_atomic_read_u32(&qs->push_proc);
	if (push_proc != 0)
		SetLatch(&ProcGlobal->allProcs[push_proc - 1].procLatch);
}

/*
 * Wake every receiver waiting on a queue, if any: a lease was released or
 * its expiry moved, or a FIFO group may be free.
 */
static void
wake_waiters(QueueShared *qs)
{
	wake_for_messages(qs, 0, true);
}

static void
commit_lease_actions(void)
{
	QueueShared *held = NULL;

	for (int i = 0; i < n_lease_actions; i++)
	{
		LeaseAction *a = &lease_actions[i];
		bool		grouped;

		switch_queue_lock(&held, a->qs);
		switch (a->kind)
		{
			case ACT_RECEIVE:
				lease_commit_receive(a->qs, &a->undo);
				break;
			case ACT_DELETE:
				if (lease_commit_delete(a->qs, &a->undo, &grouped))
				{
					/* a FIFO group may be free now */
					if (grouped)
						wake_waiters(a->qs);
					pg_atomic_fetch_add_u64(&a->qs->deleted, 1);
					stats_count_add(a->qs, -1);
				}
				break;
			case ACT_VISIBILITY:
				if (lease_commit_expiry(a->qs, &a->undo, a->expires_at,
										GetCurrentTimestamp()))
					wake_waiters(a->qs);
				break;
		}
	}
	switch_queue_lock(&held, NULL);
}

/*
 * Undo the lease actions recorded at nesting level "level" or deeper, in
 * reverse order, and forget them.
 */
static void
abort_lease_actions(int level)
{
	QueueShared *held = NULL;
	TimestampTz now = GetCurrentTimestamp();

	while (n_lease_actions > 0 &&
		   lease_actions[n_lease_actions - 1].nestlevel >= level)
	{
		LeaseAction *a = &lease_actions[--n_lease_actions];

		switch_queue_lock(&held, a->qs);
		switch (a->kind)
		{
			case ACT_RECEIVE:
				if (lease_abort_receive(a->qs, &a->undo, now))
					wake_waiters(a->qs);
				break;
			case ACT_DELETE:
				lease_abort_delete(a->qs, &a->undo);
				break;
			case ACT_VISIBILITY:
				lease_abort_expiry(a->qs, &a->undo);
				break;
		}
	}
	switch_queue_lock(&held, NULL);
}

static void
commit_queue_actions(void)
{
	for (int i = 0; i < n_queue_actions; i++)
	{
		QueueAction *a = &queue_actions[i];
		QueueShared *qs;

		switch (a->kind)
		{
			case QACT_PUBLISH:
				cursor_clear_bound(a->qs);
				wake_for_messages(a->qs, Max(a->count, 1), a->delayed);
				break;
			case QACT_SENT:
				pg_atomic_fetch_add_u64(&a->qs->sent, a->count);
				stats_count_add(a->qs, a->count);
				break;
			case QACT_RECEIVED:
				pg_atomic_fetch_add_u64(&a->qs->received, a->count);
				break;
			case QACT_DEAD_LETTER:
				pg_atomic_fetch_add_u64(&a->qs->dead_lettered, 1);
				break;
			case QACT_WAKE_WORKER:
				pgmsg_worker_wake();
				break;
			case QACT_START_WORKER:
				pgmsg_worker_request_start();
				break;
			case QACT_CREATE:
				break;
			case QACT_DROP:
				pgmsg_release_slots(MyDatabaseId, a->queue_id, a->queue_id);
				break;
			case QACT_RELEASE:
				pgmsg_release_slots(a->dbid, PG_INT32_MIN, a->queue_id);
				break;
			case QACT_PURGE:
				inflight_forget_floors(MyDatabaseId, a->queue_id, a->queue_id, a->count);
				qs = pgmsg_queue_shared(a->queue_id, false);
				if (qs == NULL)
					break;
				LWLockAcquire(qs->lock, LW_EXCLUSIVE);
				lease_remove_queue(qs, MyDatabaseId, a->queue_id, a->count);
				cursor_reset(qs);
				LWLockRelease(qs->lock);
				stats_count_forget(qs);
				break;
		}
	}
}

static void
abort_queue_actions(int level)
{
	int			kept = 0;

	for (int i = 0; i < n_queue_actions; i++)
	{
		QueueAction *a = &queue_actions[i];

		if (a->kind == QACT_PUBLISH)
		{
			if (level <= 1)
				cursor_clear_bound(a->qs);
			else
				queue_actions[kept++] = *a;
		}
		else if (a->nestlevel < level)
			queue_actions[kept++] = *a;
		else if (a->kind == QACT_CREATE)
			pgmsg_release_slots(MyDatabaseId, a->queue_id, a->queue_id);
	}
	n_queue_actions = kept;
}

static void
pgmsg_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (xact_uses_pgmsg())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has used pgmsg")));
			break;
		case XACT_EVENT_PRE_COMMIT:
			if (ack_wal_records > 0)
				commit_acks_async();
			break;
		case XACT_EVENT_COMMIT:
			restore_synchronous_commit();
			if (n_lease_actions > 0)
				commit_lease_actions();
			if (n_queue_actions > 0)
				commit_queue_actions();
			n_lease_actions = 0;
			n_queue_actions = 0;
			reset_wal_count();
			break;
		case XACT_EVENT_ABORT:
			restore_synchronous_commit();
			if (n_lease_actions > 0)
				abort_lease_actions(0);
			if (n_queue_actions > 0)
				abort_queue_actions(0);
			n_lease_actions = 0;
			n_queue_actions = 0;
			reset_wal_count();
			break;
		case XACT_EVENT_PREPARE:
			reset_wal_count();
			break;
		default:
			break;
	}
}

static void
pgmsg_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			abort_lease_actions(level);
			abort_queue_actions(level);
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			for (int i = 0; i < n_lease_actions; i++)
				if (lease_actions[i].nestlevel >= level)
					lease_actions[i].nestlevel = level - 1;
			for (int i = 0; i < n_queue_actions; i++)
				if (queue_actions[i].nestlevel >= level)
					queue_actions[i].nestlevel = level - 1;
			break;
		default:
			break;
	}
}

/*
 * Notice DROP EXTENSION pgmsg and DROP DATABASE, whose commit must release
 * the slots of the database's queues.  The hook runs in the dropping
 * backend before the object is deleted, so the extension can still be
 * looked up by its OID.
 */
static void
pgmsg_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access != OAT_DROP || pgmsg_shared == NULL)
		return;
	if (classId == DatabaseRelationId)
		track_release(objectId, PG_INT32_MAX);
	else if (classId == ExtensionRelationId)
	{
		char	   *name = get_extension_name(objectId);

		if (name != NULL && strcmp(name, "pgmsg") == 0)
		{
			int32		last_id = pgmsg_max_slot_queue_id();

			if (last_id > 0)
				track_release(MyDatabaseId, last_id);
		}
	}
}

void
pgmsg_xact_init(void)
{
	RegisterXactCallback(pgmsg_xact_callback, NULL);
	RegisterSubXactCallback(pgmsg_subxact_callback, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = pgmsg_object_access;
}
