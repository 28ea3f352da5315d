/*-------------------------------------------------------------------------
 *
 * cursor.c
 *		The per-queue key clock, the publishers' lower bounds and the
 *		delivery cursor.
 *
 * Every message has the key (visible_at, msg_id).  Publishers take
 * visible_at from a per-queue monotonic clock (never below the last value
 * handed out, whatever the wall clock does), plus any delay.  The cursor is
 * the key up to which every message has been handed out at least once;
 * receivers scan forward from it, so neither deleted rows awaiting vacuum
 * nor messages in flight are read again.
 *
 * Publishers commit in any order, so the cursor must never pass a key whose
 * transaction may still be in progress.  The protocol:
 *
 *	- Before a backend's first key for a queue in a transaction, it stores
 *	  the clock value it is given as its lower bound, in its own entry of the
 *	  queue's bound array, while holding the queue's mutex.  Every key it
 *	  assigns afterwards in that transaction is at or above the bound.  The
 *	  bound is cleared by the end-of-transaction callback, which runs after
 *	  ProcArrayEndTransaction, so the rows are visible to new snapshots by
 *	  then.
 *	- A receiver advances the clock to the wall clock and reads it as the
 *	  limit under the same mutex, then lowers the limit to the smallest
 *	  registered bound, and only then takes its snapshot.  A publisher that
 *	  registers after the mutex was released gets a key at or above the
 *	  limit; one that registered before is seen in the array.  So every key
 *	  below the limit belongs to a transaction that ended before the
 *	  snapshot, and the cursor may pass it.
 *
 * The read-ahead.  An index scan reads a whole leaf page at a time, so a
 * receive that has taken what it asked for goes on through the scan and
 * stores up to PGMSG_READ_AHEAD more fresh messages in the queue's slot; the
 * next receives take them from there without scanning.  The entries are in
 * key order and, between the cursor and the last entry, every message that
 * is not an entry has been handed out already: the scan stores only
 * messages with no lease and a key below the limit, passes the leased ones,
 * and stops at the first it can neither store nor pass.  Taking an entry
 * moves the cursor to it.  Limits never decrease, so an entry stays below
 * every later receiver's limit.  Whatever moves the cursor back
 * (cursor_rewind, cursor_reset) empties the read-ahead, and so does a
 * rewrite of the table (lease_check_table).  An entry's row may have been
 * deleted since it was stored (purge, retention); the receive's fetch by
 * TID finds that out, as it does for a scanned row.
 *
 * On a FIFO queue an entry also carries its group, and a receive takes the
 * entries whose group it may take, wherever they stand, leaving those of
 * busy groups.  The rule above still holds: the cursor moves only over the
 * entries taken before the first one left, and a scan that finds entries
 * left starts after the last of them (cursor_ahead_last).  Since every
 * message of a group before an entry of it is an entry or handed out, a
 * group's messages still go out in key order.
 *
 * Locking: see shmem.c.  The clock, the cursor and the count of registered
 * bounds are under the slot's spinlock, the read-ahead under the queue lock;
 * cursor_rewind and cursor_reset are called with the queue lock held.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/proc.h"
#include "utils/timestamp.h"

#include "cursor.h"
#include "shmem.h"

/*
 * Hand out the timestamp part of a new key for this queue: the clock's
 * current value (returned in *sent_at) plus the delay.  If "register_bound"
 * is set, this is the backend's first key for the queue in the current
 * transaction and its lower bound is recorded; the caller has already
 * arranged (xact_track_publish) for the bound to be cleared at the end of
 * the transaction.  (FIFO groups keep their own order: group_order_key.)
 */
TimestampTz
cursor_assign_key(QueueShared *qs, bool register_bound, int64 delay,
				  TimestampTz *sent_at)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz ts;
	TimestampTz key;

	SpinLockAcquire(&qs->mutex);
	ts = Max(now, qs->clock);
	qs->clock = ts;
	key = ts + delay;
	if (register_bound)
	{
		pg_atomic_write_u64(&pgmsg_publisher_bounds(qs)[MyProc->pgprocno], (uint64) ts);
		pg_atomic_fetch_add_u32(&qs->npublishers, 1);
	}
	SpinLockRelease(&qs->mutex);
	*sent_at = ts;
	return key;
}

/*
 * Clear this backend's bound for a queue at the end of its transaction.
 */
void
cursor_clear_bound(QueueShared *qs)
{
	pg_atomic_uint64 *bound = &pgmsg_publisher_bounds(qs)[MyProc->pgprocno];

	if (pg_atomic_read_u64(bound) != 0)
	{
		pg_atomic_write_u64(bound, 0);
		pg_atomic_fetch_sub_u32(&qs->npublishers, 1);
	}
}

/*
 * The key timestamp below which the cursor may move: the smaller of the
 * current time and every registered publisher bound.  Must be called
 * before the receiver takes its snapshot.
 */
TimestampTz
cursor_limit(QueueShared *qs)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz limit;

	SpinLockAcquire(&qs->mutex);
	if (now > qs->clock)
		qs->clock = now;
	limit = qs->clock;
	SpinLockRelease(&qs->mutex);

	if (pg_atomic_read_u32(&qs->npublishers) > 0)
	{
		pg_atomic_uint64 *bounds = pgmsg_publisher_bounds(qs);

		for (int i = 0; i < pgmsg_shared->max_backends; i++)
		{
			uint64		b = pg_atomic_read_u64(&bounds[i]);

			if (b != 0 && (TimestampTz) b < limit)
				limit = (TimestampTz) b;
		}
	}
	return limit;
}

void
cursor_get(QueueShared *qs, TimestampTz *at, int64 *id)
{
	SpinLockAcquire(&qs->mutex);
	*at = qs->cursor_at;
	*id = qs->cursor_id;
	SpinLockRelease(&qs->mutex);
}

#ifdef PGMSG_CHECKS
/*
 * Whether key time "at" lies below the bound of every publisher registered
 * now: the cursor must never pass a key a transaction in progress may
 * still commit.  A bound registered after the mover's limit was read is at
 * or above that limit, and the cursor moves only below it.
 */
static bool
below_every_bound(QueueShared *qs, TimestampTz at)
{
	pg_atomic_uint64 *bounds = pgmsg_publisher_bounds(qs);

	for (int i = 0; i < pgmsg_shared->max_backends; i++)
	{
		uint64		b = pg_atomic_read_u64(&bounds[i]);

		if (b != 0 && at >= (TimestampTz) b)
			return false;
	}
	return true;
}
#endif

/*
 * Whether the key (at, id) comes after the key (than_at, than_id).
 */
static inline bool
key_after(TimestampTz at, int64 id, TimestampTz than_at, int64 than_id)
{
	return at > than_at || (at == than_at && id > than_id);
}

/*
 * Move the cursor forward to (at, id); it never moves back.  Caller holds
 * the queue lock.
 */
void
cursor_advance(QueueShared *qs, TimestampTz at, int64 id)
{
	PGMSG_CHECK(below_every_bound(qs, at));
	/* no entry of the read-ahead is passed: it has not been handed out */
	PGMSG_CHECK(qs->ahead_next >= qs->nahead ||
				key_after(qs->ahead[qs->ahead_next].visible_at,
						  qs->ahead[qs->ahead_next].msg_id, at, id));
	SpinLockAcquire(&qs->mutex);
	if (key_after(at, id, qs->cursor_at, qs->cursor_id))
	{
		qs->cursor_at = at;
		qs->cursor_id = id;
	}
	SpinLockRelease(&qs->mutex);
}

/*
 * Move the cursor back to just before (at, id), if it is past it: the
 * message there is to be handed out again as if it never had been (its
 * first receive rolled back).
 */
void
cursor_rewind(QueueShared *qs, TimestampTz at, int64 id)
{
	cursor_ahead_clear(qs);
	SpinLockAcquire(&qs->mutex);
	if (!key_after(at, id, qs->cursor_at, qs->cursor_id))
	{
		qs->cursor_at = at;
		qs->cursor_id = id - 1;
	}
	SpinLockRelease(&qs->mutex);
}

/*
 * Start scanning from the beginning again (after a purge).
 */
void
cursor_reset(QueueShared *qs)
{
	cursor_ahead_clear(qs);
	SpinLockAcquire(&qs->mutex);
	qs->cursor_at = DT_NOBEGIN;
	qs->cursor_id = PG_INT64_MIN;
	SpinLockRelease(&qs->mutex);
}

/*
 * The read-ahead entry "i" places after the first not yet taken, into *m;
 * false if there is none.  An entry stays until cursor_ahead_remove, so a
 * receive that fails while taking it (a full lease map) leaves it for the
 * next.
 */
bool
cursor_ahead_get(QueueShared *qs, int i, FreshMessage *m)
{
	if (qs->ahead_next + i >= qs->nahead)
		return false;
	*m = qs->ahead[qs->ahead_next + i];
	return true;
}

bool
cursor_ahead_peek(QueueShared *qs, FreshMessage *m)
{
	return cursor_ahead_get(qs, 0, m);
}

/*
 * How many entries the read-ahead holds, read without the queue lock: a
 * hint only, for a receive deciding whether it will need to scan.
 */
int
cursor_ahead_hint(QueueShared *qs)
{
	int			nahead = *(volatile int *) &qs->nahead;
	int			next = *(volatile int *) &qs->ahead_next;

	return Max(nahead - next, 0);
}

/*
 * Remove entry "i" (counted as in cursor_ahead_get); the first is removed
 * in place, a later one (a FIFO receive passing a busy group) by closing
 * the gap.
 */
void
cursor_ahead_remove(QueueShared *qs, int i)
{
	int			at = qs->ahead_next + i;

	Assert(at < qs->nahead);
	if (i == 0)
		qs->ahead_next++;
	else
	{
		memmove(&qs->ahead[at], &qs->ahead[at + 1],
				sizeof(FreshMessage) * (qs->nahead - at - 1));
		qs->nahead--;
	}
	if (qs->ahead_next == qs->nahead)
		cursor_ahead_clear(qs);
}

/*
 * The key of the last entry; false if there is none.  A scan that finds
 * entries left starts after it.
 */
bool
cursor_ahead_last(QueueShared *qs, TimestampTz *at, int64 *id)
{
	if (qs->ahead_next >= qs->nahead)
		return false;
	*at = qs->ahead[qs->nahead - 1].visible_at;
	*id = qs->ahead[qs->nahead - 1].msg_id;
	return true;
}

/*
 * Store a message after the last entry; false if the read-ahead is full.
 * The caller found it past every entry, with no lease, below its limit.
 */
bool
cursor_ahead_push(QueueShared *qs, const FreshMessage *m)
{
	if (qs->nahead >= PGMSG_READ_AHEAD)
		return false;
	PGMSG_CHECK(qs->nahead == 0 ||
				key_after(m->visible_at, m->msg_id,
						  qs->ahead[qs->nahead - 1].visible_at,
						  qs->ahead[qs->nahead - 1].msg_id));
	qs->ahead[qs->nahead++] = *m;
	return true;
}

void
cursor_ahead_clear(QueueShared *qs)
{
	qs->nahead = 0;
	qs->ahead_next = 0;
}
