/*-------------------------------------------------------------------------
 *
 * receive.c
 *		receive: handing out messages under leases.
 *
 * A receive works in three steps.
 *
 * 1. Under the queue lock it takes expired leases from the redelivery heap
 *	  (lease.c), then messages an earlier scan read ahead (cursor.c), then
 *	  scans the queue's index forward from the cursor for messages that have
 *	  no lease, and leases them.  The scan uses a fresh snapshot taken after
 *	  the cursor limit was computed (cursor.c), never the transaction
 *	  snapshot, which may be older.  The cursor then moves to the last key it
 *	  passed below the limit: every message before it has now been handed
 *	  out at least once.  A scan that has what it came for reads ahead.
 * 2. With the lock released, each leased row is fetched again by its TID
 *	  and checked against what has committed by now (SnapshotSelf): a delete
 *	  that committed after the scan's snapshot has dropped its lease only
 *	  after it became visible, so a message deleted in between is caught
 *	  here and its lease dropped.
 * 3. A message received for the second time or more gets its durable
 *	  receive_count (and first_received_at) written, a HOT update of
 *	  unindexed columns.  First receives of fresh messages write nothing, so
 *	  a transaction that only receives them needs no WAL.
 *
 * Leases are taken in state RECEIVING (lease.c) and recorded in xact.c,
 * whose commit makes them HELD and whose abort releases them.
 *
 * receive's planner support (pgmsg_receive_support) is here too: it leaves
 * trailing default arguments out of planned calls, and pgmsg_receive takes
 * the arguments it is not given as their defaults.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/supportnodes.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "ack.h"
#include "acl.h"
#include "catalog.h"
#include "cursor.h"
#include "inflight.h"
#include "lease.h"
#include "pgmsg.h"
#include "qtable.h"
#include "receipt.h"
#include "receive.h"
#include "send.h"
#include "shmem.h"
#include "waiters.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(pgmsg_receive);
PG_FUNCTION_INFO_V1(pgmsg_receive_support);

/*
 * How many messages a FIFO receive's scan looks at, from the cursor.  The
 * scan runs under the queue lock with interrupts held off, and messages of
 * busy groups do not stop it, so without a bound a backlog of busy groups
 * would be walked whole by every receive while the queue's committers wait
 * for the lock.  Groups whose first message lies further on wait until the
 * backlog before them shrinks (SQS looks at a FIFO queue's first 120,000
 * messages in the same way).
 */
#define FIFO_SCAN_LIMIT 10000

/*
 * The part of a scanned row that lease_take_fresh needs; "group_hash" is
 * its FIFO group's, 0 on a standard queue.
 */
static void
fresh_from_slot(TupleTableSlot *slot, TimestampTz visible_at, int64 msg_id,
				uint64 group_hash, FreshMessage *m)
{
	bool		isnull;
	Datum		first;

	m->visible_at = visible_at;
	m->msg_id = msg_id;
	m->receive_count = DatumGetInt32(slot_getattr(slot, Anum_q_receive_count, &isnull));
	first = slot_getattr(slot, Anum_q_first_received_at, &isnull);
	m->has_first = !isnull;
	m->first_received_at = isnull ? 0 : DatumGetTimestampTz(first);
	m->tid = slot->tts_tid;
	m->group_hash = group_hash;
}

/*
 * Fresh messages from the read-ahead (cursor.c), in key order.  A standard
 * queue takes them from the first on, each moving the cursor to itself.  A
 * FIFO receive takes those whose group it may take and leaves the others
 * for later receives; the cursor follows only while none has been left.
 */
static void
take_ahead(LeaseTaking *lt, int32 queue_id)
{
	FreshMessage m;
	int			i = 0;

	while (lt->n < lt->max_messages && cursor_ahead_get(lt->qs, i, &m))
	{
		LeaseKey	key;

		key.dbid = MyDatabaseId;
		key.queue_id = queue_id;
		key.msg_id = m.msg_id;
		/* a message handed out already (it has a lease) loses its entry */
		if (!lt->fifo)
			(void) lease_take_fresh(lt, &key, &m, NULL);
		else if (lease_exists(&key))
			;
		else
		{
			GroupKey	gkey;

			gkey.dbid = MyDatabaseId;
			gkey.queue_id = queue_id;
			gkey.group_hash = m.group_hash;
			if (!lease_take_group(lt, &gkey) || lt->n >= lt->max_messages)
			{
				i++;			/* its group is busy */
				continue;
			}
			lease_take_fresh(lt, &key, &m, &gkey);
		}
		cursor_ahead_remove(lt->qs, i);
		if (i == 0)
			cursor_advance(lt->qs, m.visible_at, m.msg_id);
	}
}

/*
 * The queue's in-flight limit: its max_in_flight, but never more than
 * pgmsg.queue_lease_share percent of the lease map, which every queue of
 * every database shares.
 */
static int64
in_flight_limit(const QueueInfo *qi)
{
	int64		share = (int64) pgmsg_max_leases * pgmsg_queue_lease_share / 100;

	/* at 100 percent, a full map is the lease map's own error (lease.c) */
	if (pgmsg_queue_lease_share >= 100)
		return qi->max_in_flight;
	return Min((int64) qi->max_in_flight, Max(share, 1));
}

/*
 * Step 1: take up to max_messages leases, under the queue lock, using the
 * caller's random nonces.  Returns how many; *next_wakeup is when the next
 * delayed message or lease expiry is due.  A caller that has not opened
 * the queue's index passes none and "need_index": if expired leases and
 * the read-ahead fall short, *need_index is set, the scan is left out,
 * and the caller opens the index and takes the rest in another call.  (The
 * index cannot be opened here: its lock may have to be waited for, and
 * the queue lock must not be held meanwhile.)
 */
int
pgmsg_take_leases(QueueInfo *qi, QueueShared *qs, Relation rel, Relation index,
				  int max_messages, int64 visibility_timeout, Taken *taken,
				  uint64 *nonces, TimestampTz *next_wakeup, bool *need_index)
{
	LeaseTaking lt;
	TimestampTz limit;
	int64		nleases;

	limit = cursor_limit(qs);

	lease_taking_begin(&lt, qs, qi->fifo, max_messages, taken, nonces,
					   visibility_timeout, xact_track_receive);
	*next_wakeup = DT_NOEND;

	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease_check_table(qs, rel);

	lease_retake_expired(&lt);

	/* the queue's in-flight limit bounds the fresh messages taken */
	nleases = lease_count(qs);
	if (nleases + (max_messages - lt.n) > in_flight_limit(qi))
		max_messages = lt.max_messages =
			lt.n + (int) Max(in_flight_limit(qi) - nleases, 0);

	take_ahead(&lt, qi->queue_id);

	if (need_index != NULL)
		*need_index = (index == NULL && lt.n < max_messages);

	/*
	 * Then fresh messages, scanning from the cursor, or from the last entry
	 * of the read-ahead if a FIFO receive left entries there.
	 */
	if (lt.n < max_messages && index != NULL)
	{
		Snapshot	snapshot;
		TimestampTz start_at;
		int64		start_id;
		ScanKeyData keys[1];
		IndexScanDesc scan;
		TupleTableSlot *slot;
		bool		left;
		bool		passing;
		bool		storing = true;
		bool		advanced = false;
		int			nscanned = 0;
		TimestampTz pass_at = 0;
		int64		pass_id = 0;

		/* taken after the limit: see cursor.c */
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		left = cursor_ahead_last(qs, &start_at, &start_id);
		if (!left)
			cursor_get(qs, &start_at, &start_id);
		passing = !left;
		ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
					TimestampTzGetDatum(start_at));
		slot = table_slot_create(rel, NULL);
		scan = index_beginscan(rel, index, snapshot, 1, 0);
		index_rescan(scan, keys, 1, NULL, 0);

		while (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			TimestampTz visible_at;
			int64		msg_id;
			LeaseKey	key;
			GroupKey	gkey;
			FreshMessage m;
			bool		handed_out = true;

			visible_at = DatumGetTimestampTz(slot_getattr(slot, Anum_q_visible_at, &isnull));
			msg_id = DatumGetInt64(slot_getattr(slot, Anum_q_msg_id, &isnull));
			if (visible_at > lt.now)
			{
				/* delayed: a long poll wakes up when it becomes visible */
				*next_wakeup = visible_at;
				break;
			}
			if (visible_at == start_at && msg_id <= start_id)
				continue;
			if (qi->fifo && ++nscanned > FIFO_SCAN_LIMIT)
				break;

			key.dbid = MyDatabaseId;
			key.queue_id = qi->queue_id;
			key.msg_id = msg_id;
			if (lt.n >= max_messages)
			{
				/*
				 * Done; read ahead: on a standard queue while the cursor
				 * could follow, on a FIFO queue while there is room.
				 */
				if (qi->fifo ? !storing : (!passing || visible_at >= limit))
					break;
				if (!qi->fifo)
				{
					if (lease_exists(&key))
						continue;
					fresh_from_slot(slot, visible_at, msg_id, 0, &m);
					if (!cursor_ahead_push(qs, &m))
						break;
					continue;
				}
			}

			/* a message handed out already (it has a lease) is passed */
			if (!qi->fifo)
			{
				fresh_from_slot(slot, visible_at, msg_id, 0, &m);
				(void) lease_take_fresh(&lt, &key, &m, NULL);
			}
			else if (!lease_exists(&key))
			{
				Datum		group_id = slot_getattr(slot, Anum_q_group_id, &isnull);
				text	   *gtext = isnull ? NULL : DatumGetTextPP(group_id);

				gkey.dbid = MyDatabaseId;
				gkey.queue_id = qi->queue_id;
				gkey.group_hash = gtext == NULL ? 1 :
					group_hash_text(VARDATA_ANY(gtext), VARSIZE_ANY_EXHDR(gtext));
				if (lt.n < max_messages && lease_take_group(&lt, &gkey) &&
					lt.n < max_messages)
				{
					fresh_from_slot(slot, visible_at, msg_id,
									gkey.group_hash, &m);
					lease_take_fresh(&lt, &key, &m, &gkey);
				}
				else
				{
					/*
					 * Not handed out: stored for later receives, or, once
					 * the read-ahead is full, the end of what it holds.
					 */
					handed_out = false;
					if (storing && visible_at < limit)
					{
						fresh_from_slot(slot, visible_at, msg_id,
										gkey.group_hash, &m);
						storing = cursor_ahead_push(qs, &m);
					}
					else
						storing = false;
				}
			}

			if (passing && handed_out && visible_at < limit)
			{
				pass_at = visible_at;
				pass_id = msg_id;
				advanced = true;
			}
			else
				passing = false;
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		UnregisterSnapshot(snapshot);
		if (advanced)
			cursor_advance(qs, pass_at, pass_id);
	}

	*next_wakeup = Min(*next_wakeup, lease_next_expiry(qs));
	LWLockRelease(qs->lock);
	return lt.n;
}

/*
 * Drop a lease this receive took for a message that turned out to be gone.
 */
static void
drop_taken(QueueInfo *qi, QueueShared *qs, Taken *t)
{
	LeaseKey	key;

	key.dbid = MyDatabaseId;
	key.queue_id = qi->queue_id;
	key.msg_id = t->msg_id;
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease_drop_taken(qs, &key, t->nonce);
	LWLockRelease(qs->lock);
}

/*
 * Step 3: make a redelivery's receive count durable, and keep the lease
 * pointing at the new row version.
 */
static void
record_redelivery(QueueInfo *qi, QueueShared *qs, Taken *t)
{
	LeaseKey	key;

	if (!qtable_set_receive_count(qi, &t->tid, t->msg_id, t->receive_count,
								  t->first_received_at))
		return;					/* not visible to this transaction's snapshot */

	key.dbid = MyDatabaseId;
	key.queue_id = qi->queue_id;
	key.msg_id = t->msg_id;
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease_set_tid(qs, &key, t->nonce, &t->tid);
	LWLockRelease(qs->lock);
}

/*
 * Receipt nonces, from pg_strong_random.  They are drawn NONCE_POOL at a
 * time: one call costs more than the rest of a one-message receive's lease
 * bookkeeping.  A nonce handed out is wiped from the pool.
 */
#define NONCE_POOL 64

void
pgmsg_fill_nonces(uint64 *nonces, int n)
{
	static uint64 pool[NONCE_POOL];
	static int	left = 0;

	while (n > 0)
	{
		int			k;

		if (left == 0)
		{
			if (!pg_strong_random(pool, sizeof(pool)))
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("could not generate random receipt nonces")));
			left = NONCE_POOL;
		}
		k = Min(n, left);
		memcpy(nonces, &pool[NONCE_POOL - left], sizeof(uint64) * k);
		memset(&pool[NONCE_POOL - left], 0, sizeof(uint64) * k);
		left -= k;
		nonces += k;
		n -= k;
	}
}

/*
 * Step 2 for one lease: fetch its row as committed after the lease.
 * The row must still be there and still be this message: once a message is
 * deleted by retention or by hand and vacuumed, its TID can hold another
 * message.  If it is gone, the lease is dropped and false returned.
 */
bool
pgmsg_fetch_taken(QueueInfo *qi, QueueShared *qs, Relation rel,
				  Snapshot snapshot, Taken *t, TupleTableSlot *slot)
{
	if (qtable_fetch(rel, &t->tid, t->msg_id, snapshot, slot))
		return true;
	drop_taken(qi, qs, t);
	return false;
}

/*
 * A message received more often than its queue's max_receive_count moves to
 * the dead-letter queue, in the receiving transaction: its row there keeps
 * body, attributes, original send time, receive count and source queue,
 * and its row here is deleted under the lease (ack.c), so both happen at
 * commit or neither.  Caller is connected to SPI as the extension owner.
 */
static void
move_to_dead_letter_queue(QueueInfo *qi, QueueShared *qs, Relation rel,
						  Taken *t, TupleTableSlot *slot)
{
	QueueInfo  *dlq = pgmsg_queue_lookup(qi->dead_letter_queue, false);
	QueueShared *dqs = pgmsg_queue_slot(dlq);
	bool		isnull;
	bool		attrs_null;
	bool		source_null;
	bool		source_id_null;
	bool		group_null;
	Datum		attrs;
	Datum		source;
	Datum		source_id;
	Datum		group;
	LeaseKey	key;

	/* the row must still be ours to delete: a purge may have taken it */
	key.dbid = MyDatabaseId;
	key.queue_id = qi->queue_id;
	key.msg_id = t->msg_id;
	slot_getallattrs(slot);
	if (!pgmsg_delete_leased(qs, rel, &key, t->nonce))
		return;

	attrs = slot_getattr(slot, Anum_q_attributes, &attrs_null);
	source = slot_getattr(slot, Anum_q_source_queue, &source_null);
	/* a table made by version 1.0 has no source_queue_id until updated */
	source_id_null = true;
	if (slot->tts_tupleDescriptor->natts >= Anum_q_source_queue_id)
		source_id = slot_getattr(slot, Anum_q_source_queue_id, &source_id_null);
	else
		source_id = (Datum) 0;
	group = slot_getattr(slot, Anum_q_group_id, &group_null);
	pgmsg_send_moved(dlq, dqs,
					 DatumGetJsonbP(slot_getattr(slot, Anum_q_body, &isnull)),
					 attrs_null ? NULL : DatumGetJsonbP(attrs),
					 DatumGetTimestampTz(slot_getattr(slot, Anum_q_sent_at, &isnull)),
					 t->receive_count - 1,
					 source_null ? qi->name : TextDatumGetCString(source),
					 source_null ? qi->queue_id :
					 source_id_null ? 0 : DatumGetInt32(source_id),
					 group_null ? NULL : DatumGetTextPP(group));
	xact_track_dead_letter(qs);
}

/*
 * Set up a receive's result: a tuplestore for rows of the caller's
 * expected descriptor, which is the declared pgmsg.message.  Unlike
 * InitMaterializedSRF this leaves setDesc unset, which the executor allows
 * when it knows the row type: it then neither checks nor frees a copy of
 * the descriptor, and the copy is not made, on every receive.
 */
static void
begin_result(ReturnSetInfo *rsinfo)
{
	MemoryContext old;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (!(rsinfo->allowedModes & SFRM_Materialize) ||
		rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("materialize mode required, but it is not allowed in this context")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	rsinfo->setResult =
		tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
							  false, work_mem);
	MemoryContextSwitchTo(old);
	rsinfo->returnMode = SFRM_Materialize;
}

/*
 * Step 2 for one lease in deliver: pgmsg_fetch_taken into a tuple and its
 * columns (qtable_fetch_tuple) rather than a slot.  With "*buffer" pinned
 * on true; the lease dropped on false.
 */
static bool
fetch_taken_tuple(QueueInfo *qi, QueueShared *qs, Relation rel, Taken *t,
				  HeapTuple tuple, Buffer *buffer, Datum *cols, bool *nulls)
{
	if (qtable_fetch_tuple(rel, &t->tid, t->msg_id, SnapshotSelf, tuple, buffer,
						   cols, nulls))
		return true;
	drop_taken(qi, qs, t);
	return false;
}

/*
 * Step 2 and 3 for each lease taken: recheck the row, move it to the
 * dead-letter queue or record a redelivery, and return the message.
 * Returns how many were returned.
 */
static int
deliver(QueueInfo *qi, QueueShared *qs, Relation rel, Taken *taken, int n,
		ReturnSetInfo *rsinfo)
{
	TupleTableSlot *slot = NULL;	/* made for the dead-letter queue only */
	bool		connected = false;
	int			delivered = 0;
	Datum	   *cols = palloc(sizeof(Datum) * RelationGetDescr(rel)->natts);
	bool	   *colnulls = palloc(sizeof(bool) * RelationGetDescr(rel)->natts);

	for (int i = 0; i < n; i++)
	{
		Taken	   *t = &taken[i];
		HeapTupleData tuple;
		Buffer		buffer;
		Datum		values[8];
		bool		nulls[8];
		Receipt		r;

		if (!fetch_taken_tuple(qi, qs, rel, t, &tuple, &buffer, cols, colnulls))
			continue;
		if (t->receive_count >= 2 && !connected)
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			connected = true;
		}
		if (qi->max_receive_count > 0 && qi->dead_letter_ok &&
			t->receive_count > qi->max_receive_count)
		{
			if (slot == NULL)
				slot = table_slot_create(rel, NULL);
			/* the slot takes a pin of its own */
			ExecStoreBufferHeapTuple(&tuple, slot, buffer);
			ReleaseBuffer(buffer);
			move_to_dead_letter_queue(qi, qs, rel, t, slot);
			continue;
		}

		/*
		 * A redelivery updates the row; the version fetched stays in the
		 * page, which the pin keeps from being pruned, and "cols" point
		 * into it.
		 */
		if (t->receive_count >= 2)
			record_redelivery(qi, qs, t);

		r.queue_id = qi->queue_id;
		r.msg_id = t->msg_id;
		r.epoch = pgmsg_shared->epoch;
		r.nonce = t->nonce;

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int64GetDatum(t->msg_id);
		values[1] = PointerGetDatum(receipt_encode(&r));
		values[2] = cols[Anum_q_body - 1];
		values[3] = cols[Anum_q_attributes - 1];
		nulls[3] = colnulls[Anum_q_attributes - 1];
		values[4] = Int32GetDatum(t->receive_count);
		values[5] = cols[Anum_q_sent_at - 1];
		values[6] = TimestampTzGetDatum(t->first_received_at);
		values[7] = cols[Anum_q_group_id - 1];
		nulls[7] = colnulls[Anum_q_group_id - 1];
		tuplestore_putvalues(rsinfo->setResult, rsinfo->expectedDesc, values, nulls);
		ReleaseBuffer(buffer);
		delivered++;
	}
	if (slot != NULL)
		ExecDropSingleTupleTableSlot(slot);
	if (connected)
		SPI_finish();
	return delivered;
}

/*
 * Open a queue's table again after a long poll's sleep, which holds no
 * lock on it.  The queue may have been dropped meanwhile.
 */
static Relation
reopen_queue_table(QueueInfo *qi)
{
	Relation	rel = pgmsg_queue_try_open(qi);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", qi->name),
				 errdetail("It was dropped while the receive waited.")));
	return rel;
}

/* Where a long-polling receive is registered (the counts in QueueShared) */
typedef enum WaitState
{
	WAIT_NONE,					/* nowhere */
	WAIT_EMPTY,					/* a waiter (waiters.c): no message yet */
	WAIT_WINDOW					/* nwindow, on window_cv: in its batch window */
} WaitState;

static void
stop_waiting(QueueShared *qs, WaitState waiting)
{
	if (waiting == WAIT_EMPTY)
		waiters_leave();
	else if (waiting == WAIT_WINDOW)
		pg_atomic_fetch_sub_u32(&qs->nwindow, 1);
}

/*
 * pgmsg.receive(queue, max_messages, visibility_timeout, wait, batch_window)
 *
 * With a wait, a receive that finds nothing joins the queue's waiters
 * (waiters.c) and sleeps until a commit that sends to the queue or releases
 * a lease wakes it (xact.c), or until the next delayed message or lease
 * expiry is due, and scans again with a fresh snapshot.  Without a batch
 * window it returns as soon as it has a message; with one, it goes on
 * taking messages, in the same way, until it has max_messages or the window
 * has passed since it took its first (or the wait is over).  Before its
 * first sleep, and again after a wake that left it nothing, it joins the
 * waiters and scans once more: a publisher that commits after that scan's
 * snapshot sees the waiter count and wakes a waiter.  While it sleeps it holds no lock on the queue's table (locks the
 * transaction took before stay), so drop_queue does not wait for it; the
 * drop's commit wakes it, and it ends with an error saying the queue was
 * dropped.
 */
Datum
pgmsg_receive(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueInfo  *qi;
	QueueShared *qs;
	int32		max_messages;
	int64		visibility_timeout;
	int64		wait;
	int64		batch_window;
	TimestampTz deadline;
	TimestampTz window_end = 0;	/* 0 until the first message is taken */
	int			got = 0;
	uint64		arrivals = 0;
	Relation	rel;
	Relation	index;
	Taken	   *taken;
	uint64	   *nonces;
	Oid			save_userid;
	int			save_sec;
	volatile WaitState waiting = WAIT_NONE;

	pgmsg_refuse_in_recovery(gettext_noop("cannot receive from queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_RECEIVE);
	/* trailing arguments left out are their defaults (receive_support) */
	if (PG_NARGS() > 1 && PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_messages must not be null")));
	max_messages = PG_NARGS() > 1 ? PG_GETARG_INT32(1) : 1;
	if (max_messages < 1 || max_messages > PGMSG_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_messages %d is out of range", max_messages),
				 errdetail("It must be between 1 and %d.", PGMSG_MAX_BATCH)));
	visibility_timeout = PG_NARGS() > 2 ?
		pgmsg_interval_arg(fcinfo, 2, "visibility_timeout",
						   0, PGMSG_MAX_VISIBILITY, qi->visibility_timeout) :
		qi->visibility_timeout;
	wait = PG_NARGS() > 3 ?
		pgmsg_interval_arg(fcinfo, 3, "wait", 0, PGMSG_MAX_WAIT, -1) : 0;
	/* and version 1.0's receive has no batch_window */
	batch_window = PG_NARGS() > 4 ?
		pgmsg_interval_arg(fcinfo, 4, "batch_window", 0, PGMSG_MAX_WAIT, -1) : 0;
	if (batch_window > 0 && wait == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_window requires a wait"),
				 errdetail("A receive without a wait returns at once, so it has no window to wait for more messages in."),
				 errhint("Give the receive a wait as long as the window, or longer.")));
	deadline = GetCurrentTimestamp() + wait;

	begin_result(rsinfo);

	pgmsg_become_owner(&save_userid, &save_sec);
	rel = pgmsg_queue_open(qi);
	qs = pgmsg_queue_slot_opened(qi);
	index = NULL;				/* opened only for a scan */
	taken = palloc(sizeof(Taken) * max_messages);
	nonces = palloc(sizeof(uint64) * max_messages);

	PG_TRY();
	{
		for (;;)
		{
			TimestampTz next_wakeup;
			TimestampTz now;
			TimestampTz until;
			int			want = max_messages - got;
			int			n;
			long		timeout_ms;
			bool		need_index = false;

			if (rel == NULL)
				rel = reopen_queue_table(qi);

			/*
			 * Most receives of a busy standard queue are served from the
			 * read-ahead and need no index; the hint saves one that will
			 * scan a second round under the queue lock.
			 */
			if (index == NULL && cursor_ahead_hint(qs) < want)
				index = index_open(qi->indexid, AccessShareLock);

			/* everything that can fail for want of memory, before the lock */
			xact_reserve(want);
			pgmsg_fill_nonces(nonces, want);

			/* arrivals from here on may not be seen by this scan */
			arrivals = pg_atomic_read_u64(&qs->arrivals);

			n = pgmsg_take_leases(qi, qs, rel, index, want, visibility_timeout,
								  taken, nonces, &next_wakeup, &need_index);
			if (n > 0)
			{
				xact_track_received(qs, n);
				got += deliver(qi, qs, rel, taken, n, rsinfo);
			}
			if (need_index)
			{
				/* the read-ahead fell short: scan for the rest */
				index = index_open(qi->indexid, AccessShareLock);
				continue;
			}

			/*
			 * As SQS does, a standard queue at its in-flight limit is an
			 * error, and a FIFO queue returns nothing.  A receive that
			 * already has messages returns them.
			 */
			if (n == 0 && got > 0 && lease_count(qs) >= in_flight_limit(qi))
				break;
			if (n == 0 && !qi->fifo && lease_count(qs) >= in_flight_limit(qi))
				ereport(ERROR,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("too many messages in flight in queue \"%s\"", qi->name),
						 in_flight_limit(qi) < qi->max_in_flight ?
						 errdetail("The queue's limit is %lld, pgmsg.queue_lease_share percent of pgmsg.max_leases.",
								   (long long) in_flight_limit(qi)) :
						 errdetail("The queue's limit, max_in_flight, is %d.",
								   qi->max_in_flight),
						 errhint("Delete received messages or let their visibility timeouts expire, or raise the limit with alter_queue.")));

			now = GetCurrentTimestamp();
			if (got > 0)
			{
				if (got >= max_messages || batch_window == 0)
					break;
				if (window_end == 0)
					window_end = Min(now + batch_window, deadline);
			}
			until = got > 0 ? window_end : deadline;
			if (now >= until)
				break;
			if (got == 0 && waiting == WAIT_NONE)
			{
				waiters_join(qs);
				waiting = WAIT_EMPTY;
				continue;
			}
			if (got > 0)
			{
				/*
				 * In the window: sleep until the arrivals since this scan
				 * could fill the batch (xact.c), as a new target if it is
				 * the smallest, unless they already could.
				 */
				uint64		target = arrivals + (max_messages - got);
				uint64		cur;

				if (waiting != WAIT_WINDOW)
				{
					/* passes on a wake this took but does not need */
					stop_waiting(qs, waiting);
					waiting = WAIT_NONE;
					ConditionVariablePrepareToSleep(&qs->window_cv);
					pg_atomic_fetch_add_u32(&qs->nwindow, 1);
					waiting = WAIT_WINDOW;
				}
				cur = pg_atomic_read_u64(&qs->window_target);
				while (target < cur &&
					   !pg_atomic_compare_exchange_u64(&qs->window_target,
													   &cur, target))
					;
				if (pg_atomic_read_u64(&qs->arrivals) >= target)
					continue;
			}
			timeout_ms = (long) ((Min(until, next_wakeup) - now + 999) / 1000);

			/*
			 * Let drop_queue (and any other DDL) have the table while this
			 * sleeps; the release of a dropped queue's slot wakes it
			 * (shmem.c), and it finds the queue gone.
			 */
			if (index != NULL)
				index_close(index, AccessShareLock);
			table_close(rel, RowExclusiveLock);
			rel = NULL;
			index = NULL;
			if (waiting == WAIT_WINDOW)
				ConditionVariableTimedSleep(&qs->window_cv, Max(timeout_ms, 1),
											PG_WAIT_EXTENSION);
			else if (waiters_sleep(qs, Max(timeout_ms, 1)))
				waiting = WAIT_NONE;	/* woken: it joins again to sleep again */
		}
	}
	PG_CATCH();
	{
		stop_waiting(qs, waiting);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (waiting == WAIT_WINDOW)
		ConditionVariableCancelSleep();
	stop_waiting(qs, waiting);

	if (rel != NULL)
	{
		if (index != NULL)
			index_close(index, NoLock);
		table_close(rel, NoLock);
	}
	pgmsg_restore_user(save_userid, save_sec);

	return (Datum) 0;
}

/*
 * Is "arg", pgmsg.receive's argument number "argno" (from 0), a constant
 * equal to that argument's default?  max_messages defaults to 1,
 * visibility_timeout to NULL, wait and batch_window to zero.
 */
static bool
arg_is_default(Node *arg, int argno)
{
	Const	   *c;
	Interval   *iv;

	if (!IsA(arg, Const))
		return false;
	c = (Const *) arg;
	switch (argno)
	{
		case 1:
			return c->consttype == INT4OID && !c->constisnull &&
				DatumGetInt32(c->constvalue) == 1;
		case 2:
			return c->consttype == INTERVALOID && c->constisnull;
		case 3:
		case 4:
			if (c->consttype != INTERVALOID || c->constisnull)
				return false;
			iv = DatumGetIntervalP(c->constvalue);
			return iv->time == 0 && iv->day == 0 && iv->month == 0;
		default:
			return false;
	}
}

/*
 * pgmsg.receive_support(internal): pgmsg.receive's planner support.  A
 * call's trailing arguments that are constants equal to their defaults are
 * left out of the planned call, and pgmsg_receive takes the arguments it
 * is not given as their defaults.  The executor sets up each argument of a
 * function in FROM on every execution of a plan, cached or not, so
 * receive(queue) and receive(queue, 1), which the planner expands to five
 * arguments, save the set-up of four.
 */
Datum
pgmsg_receive_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	FuncExpr   *fcall;
	FuncExpr   *trimmed;
	int			nargs;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	fcall = ((SupportRequestSimplify *) rawreq)->fcall;
	nargs = list_length(fcall->args);
	while (nargs > 1 && arg_is_default(list_nth(fcall->args, nargs - 1), nargs - 1))
		nargs--;
	if (nargs == list_length(fcall->args))
		PG_RETURN_POINTER(NULL);
	trimmed = makeNode(FuncExpr);
	memcpy(trimmed, fcall, sizeof(FuncExpr));
	trimmed->args = list_truncate(list_copy(fcall->args), nargs);
	PG_RETURN_POINTER(trimmed);
}
