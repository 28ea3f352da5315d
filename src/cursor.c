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
 * Locking: the clock, the cursor and a queue's count of registered bounds
 * are protected by the slot's spinlock (mutex).  Bound entries are 64-bit
 * atomics written only by their own backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/proc.h"

#include "pgmsg.h"

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

/*
 * Move the cursor forward to (at, id); it never moves back.
 */
void
cursor_advance(QueueShared *qs, TimestampTz at, int64 id)
{
	SpinLockAcquire(&qs->mutex);
	if (at > qs->cursor_at || (at == qs->cursor_at && id > qs->cursor_id))
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
	SpinLockAcquire(&qs->mutex);
	if (at < qs->cursor_at || (at == qs->cursor_at && id <= qs->cursor_id))
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
	SpinLockAcquire(&qs->mutex);
	qs->cursor_at = DT_NOBEGIN;
	qs->cursor_id = PG_INT64_MIN;
	SpinLockRelease(&qs->mutex);
}
