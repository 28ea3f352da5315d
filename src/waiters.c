/*-------------------------------------------------------------------------
 *
 * waiters.c
 *		The long-poll receives waiting on a queue for messages, newest
 *		first.
 *
 * A receive that finds no message joins its queue's waiter list and sleeps
 * on its latch; a commit that makes n messages visible wakes n waiters
 * (xact.c).  The list is kept newest first, and a wake takes waiters from
 * the front: the receive that began to wait last is woken first.  With
 * fewer messages than waiting consumers, the same few backends are woken
 * again and again, with their caches warm, while the others sleep on until
 * their waits end.  A receive earns no claim to a message by having waited
 * longer; SQS makes no such promise either.  (PostgreSQL's condition
 * variables wake the oldest waiter first, hence this file.)
 *
 * The protocol is a condition variable's:
 *	- waiters_join puts the backend at the front of the list before its
 *	  last scan, so that a commit after that scan's snapshot finds it;
 *	- a wake takes a waiter off the list and then sets its latch;
 *	- waiters_sleep returns once the backend has been taken off so, and it
 *	  is then no longer a waiter: while it scans, the next wakes go to the
 *	  waiters still asleep.  If it finds nothing, it joins again before its
 *	  next scan;
 *	- waiters_sleep also returns once its timeout has passed, the backend
 *	  still a waiter;
 *	- waiters_leave takes it off.  One that was taken off while awake
 *	  (during its last scan before sleeping) and leaves without sleeping
 *	  (it found other messages, or its wait ended, or it failed) wakes
 *	  another in its place, so that no wake is lost on a receive that did
 *	  not use it.
 * waiters_wake_all wakes every backend that was on the list when it began.
 * A backend joins with the queue's current generation; a wake of all first
 * moves the generation on, then takes waiters off the back, one at a time,
 * while theirs is older.  So the spinlock is held for a few instructions at
 * a time, and a waiter that joins again meanwhile is not taken twice.
 *
 * The count of waiters (QueueShared.nwaiters, an atomic) is kept here too:
 * a committer reads it, after its barrier, to decide whether to wake one
 * waiter per message or all of them (xact.c).
 *
 * A backend waits on one queue at a time.  It leaves its list on every way
 * out of a receive: normally, on an error (receive.c's PG_CATCH), and on
 * exit (a FATAL error, such as pg_terminate_backend, unwinds nothing), so
 * that no wake is spent on a backend that is gone.
 *
 * Locking: a queue's list, the links of the backends on it and its
 * generation are protected by the queue's wait_mutex, a spinlock held for
 * a few instructions and never together with another spinlock (shmem.c).
 * Latches are set after it is released.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"

#include "waiters.h"

/* a backend's links, indexed by pgprocno; under its queue's wait_mutex */
typedef struct Waiter
{
	int32		prev;			/* pgprocno nearer the front, or -1 */
	int32		next;			/* pgprocno nearer the back, or -1 */
	uint64		gen;			/* the queue's generation when it joined */
	bool		listed;
} Waiter;

static Waiter *waiter_links = NULL;

/* the queue this backend waits on (it has joined and not left), or NULL */
static QueueShared *joined = NULL;

Size
waiters_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(Waiter));
}

void
waiters_shmem_init(void)
{
	bool		found;

	waiter_links = ShmemInitStruct("pgmsg waiters", waiters_shmem_size(), &found);
	if (!found)
		memset(waiter_links, 0, waiters_shmem_size());
}

void
waiters_slot_init(QueueShared *qs)
{
	SpinLockInit(&qs->wait_mutex);
	qs->wait_front = -1;
	qs->wait_back = -1;
	qs->wait_gen = 0;
	pg_atomic_init_u32(&qs->nwaiters, 0);
}

/* Caller holds qs->wait_mutex (for all four). */
static void
link_front(QueueShared *qs, int32 procno)
{
	Waiter	   *w = &waiter_links[procno];

	w->prev = -1;
	w->next = qs->wait_front;
	w->gen = qs->wait_gen;
	w->listed = true;
	if (qs->wait_front >= 0)
		waiter_links[qs->wait_front].prev = procno;
	else
		qs->wait_back = procno;
	qs->wait_front = procno;
}

static void
unlink_waiter(QueueShared *qs, int32 procno)
{
	Waiter	   *w = &waiter_links[procno];

	Assert(w->listed);
	if (w->prev >= 0)
		waiter_links[w->prev].next = w->next;
	else
		qs->wait_front = w->next;
	if (w->next >= 0)
		waiter_links[w->next].prev = w->prev;
	else
		qs->wait_back = w->prev;
	w->listed = false;
}

static PGPROC *
take_front(QueueShared *qs)
{
	int32		procno = qs->wait_front;

	if (procno < 0)
		return NULL;
	unlink_waiter(qs, procno);
	return &ProcGlobal->allProcs[procno];
}

static PGPROC *
take_back_older(QueueShared *qs, uint64 gen)
{
	int32		procno = qs->wait_back;

	if (procno < 0 || waiter_links[procno].gen >= gen)
		return NULL;
	unlink_waiter(qs, procno);
	return &ProcGlobal->allProcs[procno];
}

static void
waiters_at_exit(int code, Datum arg)
{
	waiters_leave();
}

/*
 * Put this backend at the front of the queue's list; it must scan once
 * more before it sleeps.
 */
void
waiters_join(QueueShared *qs)
{
	static bool exit_registered = false;
	int32		me = MyProc->pgprocno;

	Assert(joined == NULL);
	Assert(me >= 0 && me < MaxBackends);
	if (!exit_registered)
	{
		before_shmem_exit(waiters_at_exit, (Datum) 0);
		exit_registered = true;
	}
	SpinLockAcquire(&qs->wait_mutex);
	link_front(qs, me);
	SpinLockRelease(&qs->wait_mutex);
	joined = qs;
	/* a full barrier: the caller's scan comes after it */
	pg_atomic_fetch_add_u32(&qs->nwaiters, 1);
}

/*
 * Sleep until woken (true) or until timeout_ms have passed (false).  Woken,
 * the backend is no longer a waiter, as after waiters_leave.
 */
bool
waiters_sleep(QueueShared *qs, long timeout_ms)
{
	int32		me = MyProc->pgprocno;
	instr_time	start;
	long		left = timeout_ms;

	Assert(joined == qs);
	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		bool		woken;
		instr_time	now;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		SpinLockAcquire(&qs->wait_mutex);
		woken = !waiter_links[me].listed;
		SpinLockRelease(&qs->wait_mutex);
		if (woken)
		{
			joined = NULL;
			pg_atomic_fetch_sub_u32(&qs->nwaiters, 1);
			return true;
		}

		/* the latch was set for something else */
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		left = timeout_ms - (long) INSTR_TIME_GET_MILLISEC(now);
		if (left <= 0)
			return false;
	}
}

/*
 * Leave the list of the queue this backend waits on, if any; a wake it got
 * and did not sleep on goes to another waiter.  Never raises an error.
 */
void
waiters_leave(void)
{
	QueueShared *qs = joined;
	int32		me = MyProc->pgprocno;
	bool		woken;

	if (qs == NULL)
		return;
	joined = NULL;
	SpinLockAcquire(&qs->wait_mutex);
	woken = !waiter_links[me].listed;
	if (!woken)
		unlink_waiter(qs, me);
	SpinLockRelease(&qs->wait_mutex);
	pg_atomic_fetch_sub_u32(&qs->nwaiters, 1);
	if (woken)
		waiters_wake(qs, 1);
}

/*
 * Wake up to n waiters, the newest first.
 */
void
waiters_wake(QueueShared *qs, int64 n)
{
	for (int64 i = 0; i < n; i++)
	{
		PGPROC	   *proc;

		SpinLockAcquire(&qs->wait_mutex);
		proc = take_front(qs);
		SpinLockRelease(&qs->wait_mutex);
		if (proc == NULL)
			break;
		SetLatch(&proc->procLatch);
	}
}

/*
 * Wake every backend on the list now.
 */
void
waiters_wake_all(QueueShared *qs)
{
	uint64		gen;

	SpinLockAcquire(&qs->wait_mutex);
	gen = ++qs->wait_gen;
	SpinLockRelease(&qs->wait_mutex);
	for (;;)
	{
		PGPROC	   *proc;

		SpinLockAcquire(&qs->wait_mutex);
		proc = take_back_older(qs, gen);
		SpinLockRelease(&qs->wait_mutex);
		if (proc == NULL)
			break;
		SetLatch(&proc->procLatch);
	}
}
