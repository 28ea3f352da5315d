/*-------------------------------------------------------------------------
 *
 * stats.c
 *		The figures of each queue: queue_stats(), behind the pgmsg.queues
 *		view, and pgmsg_queue_figures() for the other monitoring functions
 *		(metrics.c).
 *
 * A read of the view must cost about the same for a queue of ten messages
 * as for one of ten million, and little enough for a thousand queues to be
 * read every second.  So no SQL runs per queue: the queues are listed by
 * one scan of pgmsg.queue_meta, their tables and indexes found through the
 * system caches, and every figure comes from shared memory or from a few
 * entries of the queue's index:
 *
 *	- messages stored: the count the queue slot keeps, which committing
 *	  sends and deletes keep up to date (xact.c).  A slot's count is taken
 *	  once, by counting the index, when it is not valid (the slot was set
 *	  up since the server started, or the queue was purged, or a retention
 *	  sweep deleted messages); the worker takes it again in the background
 *	  too.  A queue without a slot (not used since the server started, or a
 *	  standby's) is counted from its index on every read: reading the view
 *	  claims no slot, so that the slots stay free for the queues in use.
 *	- in flight: every lease of the queue but the held ones that have
 *	  expired, which are found at the top of the redelivery heap without
 *	  visiting the rest.
 *	- delayed: the index entries still in the future, counted, at most
 *	  DELAYED_COUNT_LIMIT of them; past that the entries already visible
 *	  are counted instead (as many at most) and subtracted from the stored
 *	  count.  Only a queue holding more than that many of both at once gets
 *	  DELAYED_COUNT_LIMIT, a lower bound.
 *	- the age of the oldest visible message (SQS's
 *	  ApproximateAgeOfOldestMessage): that of the older of two candidates,
 *	  each one row fetched: among the expired leases (the redeliveries),
 *	  the message sent first; among fresh messages, the first read-ahead
 *	  entry, or else the first message without a lease in the index from
 *	  the cursor on, before which every message has been handed out
 *	  (cursor.c).
 *	- sent, received, deleted and dead-lettered totals: atomics of the
 *	  slot, zero for a queue without one.
 *
 * Leases, the delayed count and the stored count are read at slightly
 * different moments (and a retention sweep may delete a leased row), so
 * in-flight and delayed are capped at what is stored: no count is ever
 * negative.  An empty queue with a valid count and no lease is not opened
 * at all.
 *
 * Locking: a queue's table and index are opened with AccessShareLock,
 * which is given back as soon as the queue has been read, so a read of
 * many queues does not fill the lock table.  A slot's identity and
 * counters are read under the directory lock in shared mode (a slot
 * listed earlier may have been given back or reused since); the queue's
 * lease count, heap, lease list, cursor and read-ahead under the queue
 * lock in shared mode, rows after it is released.  No two pgmsg locks are
 * held at once but the queue lock and the lease map's partition locks,
 * in the order lease.c takes them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "cursor.h"
#include "lease.h"
#include "pgmsg.h"
#include "shmem.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(pgmsg_queue_stats);

/* index entries counted per queue and read for the delayed count */
#define DELAYED_COUNT_LIMIT		10000

/*
 * The stored count is written only here.  Committed sends add to it and
 * committed deletes take from it (xact.c); a purge or a retention sweep
 * makes it invalid, and the next reader counts again.
 */
void
stats_count_add(QueueShared *qs, int64 delta)
{
	SpinLockAcquire(&qs->mutex);
	qs->count += delta;
	SpinLockRelease(&qs->mutex);
}

void
stats_count_forget(QueueShared *qs)
{
	SpinLockAcquire(&qs->mutex);
	qs->count_valid = false;
	qs->count = 0;
	SpinLockRelease(&qs->mutex);
}

bool
stats_count_stale(QueueShared *qs)
{
	bool		stale;

	SpinLockAcquire(&qs->mutex);
	stale = !qs->count_valid;
	SpinLockRelease(&qs->mutex);
	return stale;
}

/* the fresh messages with leases the oldest-message probe steps over */
#define OLDEST_PROBE_LIMIT	64

/* A message found by a probe, not yet fetched. */
typedef struct Candidate
{
	bool		found;
	int64		msg_id;
	ItemPointerData tid;
} Candidate;

/*
 * Order SlotRefs or QueueRows by queue id: both structs begin with it.
 */
static int
queue_id_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/*
 * The queue slots of the current database, sorted by queue id.  A slot
 * listed here may be given back or reused afterwards: users check its
 * identity again under a lock.
 */
SlotRef *
pgmsg_db_slots(int *nslots)
{
	SlotRef    *slots = palloc(sizeof(SlotRef) * Max(pgmsg_shared->max_queues, 1));
	int			n = 0;

	LWLockAcquire(pgmsg_shared->directory_lock, LW_SHARED);
	for (int i = 0; i < pgmsg_shared->max_queues; i++)
	{
		QueueShared *qs = &pgmsg_shared->queues[i];

		if (qs->in_use && qs->dbid == MyDatabaseId)
		{
			slots[n].queue_id = qs->queue_id;
			slots[n].qs = qs;
			n++;
		}
	}
	LWLockRelease(pgmsg_shared->directory_lock);
	qsort(slots, n, sizeof(SlotRef), queue_id_cmp);
	*nslots = n;
	return slots;
}

/* The slot of "queue_id" among "slots", or NULL. */
QueueShared *
pgmsg_find_slot(SlotRef *slots, int nslots, int32 queue_id)
{
	SlotRef		key = {.queue_id = queue_id};
	SlotRef    *found = bsearch(&key, slots, nslots, sizeof(SlotRef), queue_id_cmp);

	return found ? found->qs : NULL;
}

/* Is "qs" still the slot of "queue_id"?  Caller holds a lock on the slot. */
static inline bool
slot_is(QueueShared *qs, int32 queue_id)
{
	return qs->in_use && qs->dbid == MyDatabaseId && qs->queue_id == queue_id;
}

/*
 * Count the entries of a queue's index visible to "snapshot" whose key
 * lies on one side of "bound" ("after": visible_at > bound, else
 * visible_at <= bound), or all of them if "bound" is DT_NOBEGIN; stop
 * after "limit" (0: none).  Entries on pages the visibility map shows as
 * all-visible are counted without visiting the table, as an index-only
 * scan does.
 */
static int64
count_index(Relation rel, Relation index, Snapshot snapshot,
			TimestampTz bound, bool after, int64 limit)
{
	ScanKeyData keys[1];
	int			nkeys = 0;
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	Buffer		vmbuffer = InvalidBuffer;
	ItemPointer tid;
	int64		n = 0;

	if (bound != DT_NOBEGIN)
	{
		ScanKeyInit(&keys[0], 1,
					after ? BTGreaterStrategyNumber : BTLessEqualStrategyNumber,
					after ? F_TIMESTAMPTZ_GT : F_TIMESTAMPTZ_LE,
					TimestampTzGetDatum(bound));
		nkeys = 1;
	}
	scan = index_beginscan(rel, index, snapshot, nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (!VM_ALL_VISIBLE(rel, ItemPointerGetBlockNumber(tid), &vmbuffer))
		{
			if (!index_fetch_heap(scan, slot))
				continue;
			ExecClearTuple(slot);
		}
		if (++n == limit)
			break;
	}
	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return n;
}

/*
 * The messages of a queue still delayed at "now", given how many are
 * stored; see the header comment for the limit.
 */
static int64
count_delayed(Relation rel, Relation index, Snapshot snapshot, TimestampTz now,
			  int64 stored)
{
	int64		delayed;
	int64		due;

	delayed = count_index(rel, index, snapshot, now, true, DELAYED_COUNT_LIMIT + 1);
	if (delayed <= DELAYED_COUNT_LIMIT)
		return delayed;
	due = count_index(rel, index, snapshot, now, false, DELAYED_COUNT_LIMIT + 1);
	if (due <= DELAYED_COUNT_LIMIT)
		return Max(stored - due, DELAYED_COUNT_LIMIT);
	return DELAYED_COUNT_LIMIT;
}

/*
 * Store a count just taken in a slot whose count is still not valid, and
 * return the slot's count; or return "count" if the slot is no longer the
 * queue's.
 */
static int64
cache_count(QueueShared *qs, int32 queue_id, int64 count)
{
	LWLockAcquire(pgmsg_shared->directory_lock, LW_SHARED);
	if (slot_is(qs, queue_id))
	{
		SpinLockAcquire(&qs->mutex);
		if (!qs->count_valid)
		{
			qs->count = count;
			qs->count_valid = true;
		}
		count = qs->count;
		SpinLockRelease(&qs->mutex);
	}
	LWLockRelease(pgmsg_shared->directory_lock);
	return count;
}

/*
 * The number of messages stored in a queue whose table is locked: the
 * count kept in shared memory, counted first if it is not valid.  The
 * retention sweep (worker.c) calls this to take stale counts again.
 */
int64
pgmsg_stored_messages(QueueShared *qs, const char *name)
{
	bool		valid;
	int64		count;
	Oid			nsp;
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	char	   *tabname = pgmsg_table_name(name);

	SpinLockAcquire(&qs->mutex);
	valid = qs->count_valid;
	count = qs->count;
	SpinLockRelease(&qs->mutex);
	if (valid)
		return Max(count, 0);

	nsp = get_namespace_oid("pgmsg", false);
	rel = table_open(get_relname_relid(tabname, nsp), AccessShareLock);
	index = index_open(get_relname_relid(psprintf("%s_key", tabname), nsp),
					   AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	count = count_index(rel, index, snapshot, DT_NOBEGIN, false, 0);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);

	SpinLockAcquire(&qs->mutex);
	if (!qs->count_valid)
	{
		qs->count = count;
		qs->count_valid = true;
	}
	count = qs->count;
	SpinLockRelease(&qs->mutex);
	return Max(count, 0);
}

/*
 * The held leases of a queue that have expired, and among them the message
 * sent first (the smallest id).  The heap orders leases by expiry, so the
 * subtree under an unexpired lease holds no expired one and is not
 * visited.  Caller holds the queue lock.
 */
static int64
expired_leases(QueueShared *qs, TimestampTz now, Candidate *oldest)
{
	pairingheap_node **stack;
	int			depth = 0;
	int			size = 64;
	int64		n = 0;

	if (pairingheap_is_empty(&qs->redelivery))
		return 0;
	stack = palloc(sizeof(pairingheap_node *) * size);
	stack[depth++] = qs->redelivery.ph_root;
	while (depth > 0)
	{
		pairingheap_node *node = stack[--depth];
		Lease	   *lease = pairingheap_container(Lease, node, node);

		if (lease->expires_at > now)
			continue;
		n++;
		if (!oldest->found || lease->key.msg_id < oldest->msg_id)
		{
			oldest->found = true;
			oldest->msg_id = lease->key.msg_id;
			oldest->tid = lease->tid;
		}
		for (pairingheap_node *child = node->first_child; child != NULL;
			 child = child->next_sibling)
		{
			if (depth == size)
			{
				size *= 2;
				stack = repalloc(stack, sizeof(pairingheap_node *) * size);
			}
			stack[depth++] = child;
		}
	}
	pfree(stack);
	return n;
}

/*
 * Among every lease of a queue, in flight or not, the message sent first.
 * Caller holds the queue lock.
 */
static void
oldest_lease(QueueShared *qs, Candidate *oldest)
{
	dlist_iter	iter;

	dlist_foreach(iter, &qs->leases)
	{
		Lease	   *lease = dlist_container(Lease, queue_node, iter.cur);

		if (!oldest->found || lease->key.msg_id < oldest->msg_id)
		{
			oldest->found = true;
			oldest->msg_id = lease->key.msg_id;
			oldest->tid = lease->tid;
		}
	}
}

/*
 * The first fresh message that is visible and has no lease: the first
 * read-ahead entry if there is one, else a probe of the index from the
 * cursor on.  Without "use_leases" (there are none, or they point into a
 * table since rewritten) the probe starts at the beginning and every
 * message counts as fresh.  Caller holds the queue lock if "use_leases".
 */
static void
first_fresh(int32 queue_id, QueueShared *qs, Relation rel, Relation index,
			Snapshot snapshot, TimestampTz now, bool use_leases,
			Candidate *fresh)
{
	FreshMessage m;
	TimestampTz cursor_at = DT_NOBEGIN;
	int64		cursor_id = PG_INT64_MIN;
	ScanKeyData keys[1];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int			leased = 0;

	if (use_leases && cursor_ahead_peek(qs, &m))
	{
		fresh->found = true;
		fresh->msg_id = m.msg_id;
		fresh->tid = m.tid;
		return;
	}

	if (use_leases)
		cursor_get(qs, &cursor_at, &cursor_id);
	ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
				TimestampTzGetDatum(cursor_at));
	slot = table_slot_create(rel, NULL);
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, keys, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		TimestampTz visible_at = DatumGetTimestampTz(slot_getattr(slot, Anum_q_visible_at, &isnull));
		LeaseKey	key;

		if (visible_at > now)
			break;
		key.dbid = MyDatabaseId;
		key.queue_id = queue_id;
		key.msg_id = DatumGetInt64(slot_getattr(slot, Anum_q_msg_id, &isnull));
		if (visible_at == cursor_at && key.msg_id <= cursor_id)
			continue;
		if (!use_leases || lease_lookup(&key) == NULL)
		{
			fresh->found = true;
			fresh->msg_id = key.msg_id;
			fresh->tid = slot->tts_tid;
			break;
		}
		if (++leased >= OLDEST_PROBE_LIMIT)
			break;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

/* The send time of a candidate, if its row is still there. */
static bool
candidate_sent_at(Relation rel, Snapshot snapshot, const Candidate *c,
				  TimestampTz *sent_at)
{
	TupleTableSlot *slot;
	ItemPointerData tid = c->tid;
	bool		isnull;
	bool		found;

	if (!c->found)
		return false;
	slot = table_slot_create(rel, NULL);
	found = table_tuple_fetch_row_version(rel, &tid, snapshot, slot) &&
		DatumGetInt64(slot_getattr(slot, Anum_q_msg_id, &isnull)) == c->msg_id;
	if (found)
		*sent_at = DatumGetTimestampTz(slot_getattr(slot, Anum_q_sent_at, &isnull));
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

/* The older of two candidates' send times, if either is found. */
static bool
older_of(Relation rel, Snapshot snapshot, const Candidate *a, const Candidate *b,
		 TimestampTz *oldest)
{
	TimestampTz sent_at;
	bool		found = false;

	if (candidate_sent_at(rel, snapshot, a, &sent_at))
	{
		*oldest = sent_at;
		found = true;
	}
	if (candidate_sent_at(rel, snapshot, b, &sent_at) && (!found || sent_at < *oldest))
	{
		*oldest = sent_at;
		found = true;
	}
	return found;
}

/*
 * Messages in flight, the oldest visible message and, if "want_stored",
 * the oldest message stored, in flight or not, of a queue whose table is
 * open; "qs" is NULL for a queue without a slot, which has no lease.
 */
static void
lease_figures(int32 queue_id, QueueShared *qs, Relation rel, Relation index,
			  Snapshot snapshot, TimestampTz now, bool want_stored,
			  QueueFigures *f)
{
	Candidate	redelivery = {0};
	Candidate	leased = {0};
	Candidate	fresh = {0};
	bool		use_leases = false;

	if (qs != NULL)
	{
		LWLockAcquire(qs->lock, LW_SHARED);

		/*
		 * Leases into a table since rewritten are dropped by the next
		 * receive; until then none of them is in flight.
		 */
		use_leases = slot_is(qs, queue_id) &&
			(!OidIsValid(qs->relfile) || qs->relfile == rel->rd_node.relNode);
		if (use_leases)
		{
			f->in_flight = qs->nleases - expired_leases(qs, now, &redelivery);
			if (want_stored)
				oldest_lease(qs, &leased);
			first_fresh(queue_id, qs, rel, index, snapshot, now, true, &fresh);
		}
		LWLockRelease(qs->lock);
	}
	if (!use_leases)
	{
		f->in_flight = 0;
		first_fresh(queue_id, NULL, rel, index, snapshot, now, false, &fresh);
	}

	f->has_oldest = older_of(rel, snapshot, &redelivery, &fresh, &f->oldest_sent_at);
	if (want_stored)
		f->has_oldest_stored = older_of(rel, snapshot, &leased, &fresh,
										&f->oldest_stored_sent_at);
}

/*
 * Fill "f" with the figures of queue "queue_id" named "name", whose slot
 * was listed as "qs" (NULL: it had none).  With "want_stored", also the
 * send time of the oldest message stored, in flight or not.  Returns false
 * if the queue's table is gone (a drop committed since the queue was
 * listed).  Caller must be able to read the queue's table: this opens it
 * without a privilege check.
 */
bool
pgmsg_queue_figures(int32 queue_id, const char *name, QueueShared *qs,
					bool want_stored, QueueFigures *f)
{
	Oid			nsp = get_namespace_oid("pgmsg", false);
	char	   *tabname = pgmsg_table_name(name);
	Oid			relid;
	Oid			indexid;
	bool		count_valid = false;
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	TimestampTz now;

	memset(f, 0, sizeof(*f));
	relid = get_relname_relid(tabname, nsp);
	if (!OidIsValid(relid))
		return false;

	/* the slot's counters, if it is still the queue's */
	if (qs != NULL)
	{
		LWLockAcquire(pgmsg_shared->directory_lock, LW_SHARED);
		if (slot_is(qs, queue_id))
		{
			f->sent = pg_atomic_read_u64(&qs->sent);
			f->received = pg_atomic_read_u64(&qs->received);
			f->deleted = pg_atomic_read_u64(&qs->deleted);
			f->dead_lettered = pg_atomic_read_u64(&qs->dead_lettered);
			SpinLockAcquire(&qs->mutex);
			count_valid = qs->count_valid;
			f->messages = Max(qs->count, 0);
			SpinLockRelease(&qs->mutex);
			/* racy, and only a shortcut: an empty queue is not opened */
			if (count_valid && f->messages == 0 && qs->nleases == 0)
			{
				LWLockRelease(pgmsg_shared->directory_lock);
				return true;
			}
		}
		else
			qs = NULL;
		LWLockRelease(pgmsg_shared->directory_lock);
	}

	LockRelationOid(relid, AccessShareLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
	{
		UnlockRelationOid(relid, AccessShareLock);
		return false;
	}
	rel = table_open(relid, NoLock);
	indexid = get_relname_relid(psprintf("%s_key", tabname), nsp);
	if (!OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("index of queue \"%s\" is missing", name),
				 errhint("Drop the queue and create it again.")));
	index = index_open(indexid, AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	now = GetCurrentTimestamp();

	if (!count_valid)
	{
		f->messages = count_index(rel, index, snapshot, DT_NOBEGIN, false, 0);
		/* a standby's slots, if any, are not kept up to date */
		if (qs != NULL && !RecoveryInProgress())
			f->messages = Max(cache_count(qs, queue_id, f->messages), 0);
	}
	lease_figures(queue_id, qs, rel, index, snapshot, now, want_stored, f);
	f->delayed = count_delayed(rel, index, snapshot, now, f->messages);

	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);

	f->in_flight = Min(Max(f->in_flight, 0), f->messages);
	f->delayed = Min(f->delayed, f->messages - f->in_flight);
	return true;
}

/* A queue as listed from pgmsg.queue_meta. */
typedef struct QueueRow
{
	int32		queue_id;		/* first, for queue_id_cmp */
	char	   *name;
} QueueRow;

/*
 * The queues of this database as of now, by queue id, read from
 * pgmsg.queue_meta with the latest snapshot: a queue whose drop has
 * committed is left out even if the transaction's snapshot still lists
 * it (its table is gone).
 */
static QueueRow *
list_queues(int *nqueues)
{
	Oid			nsp = get_namespace_oid("pgmsg", false);
	Oid			relid = get_relname_relid("queue_meta", nsp);
	Relation	rel;
	AttrNumber	id_att;
	AttrNumber	name_att;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tup;
	int			size = 64;
	int			n = 0;
	QueueRow   *rows = palloc(sizeof(QueueRow) * size);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pgmsg\" is not installed in this database")));
	rel = table_open(relid, AccessShareLock);
	id_att = get_attnum(relid, "queue_id");
	name_att = get_attnum(relid, "name");
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		name = heap_getattr(tup, name_att, RelationGetDescr(rel), &isnull);

		if (n == size)
		{
			size *= 2;
			rows = repalloc(rows, sizeof(QueueRow) * size);
		}
		rows[n].queue_id = DatumGetInt32(heap_getattr(tup, id_att, RelationGetDescr(rel), &isnull));
		rows[n].name = TextDatumGetCString(name);
		n++;
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	qsort(rows, n, sizeof(QueueRow), queue_id_cmp);
	*nqueues = n;
	return rows;
}

Datum
pgmsg_queue_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueRow   *queues;
	int			nqueues;
	SlotRef    *slots;
	int			nslots;
	MemoryContext cxt;
	MemoryContext old;

	pgmsg_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	queues = list_queues(&nqueues);
	slots = pgmsg_db_slots(&nslots);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmsg queue stats",
								ALLOCSET_DEFAULT_SIZES);
	for (int i = 0; i < nqueues; i++)
	{
		QueueFigures f;
		Datum		values[9];
		bool		nulls[9];
		bool		found;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(cxt);
		found = pgmsg_queue_figures(queues[i].queue_id, queues[i].name,
									pgmsg_find_slot(slots, nslots, queues[i].queue_id),
									false, &f);
		MemoryContextSwitchTo(old);
		MemoryContextReset(cxt);
		if (!found)
			continue;

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(queues[i].queue_id);
		values[1] = Int64GetDatum(f.messages);
		values[2] = Int64GetDatum(f.in_flight);
		values[3] = Int64GetDatum(f.delayed);
		values[4] = TimestampTzGetDatum(f.oldest_sent_at);
		nulls[4] = !f.has_oldest;
		values[5] = Int64GetDatum((int64) f.sent);
		values[6] = Int64GetDatum((int64) f.received);
		values[7] = Int64GetDatum((int64) f.deleted);
		values[8] = Int64GetDatum((int64) f.dead_lettered);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
