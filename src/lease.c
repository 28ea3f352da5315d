/*-------------------------------------------------------------------------
 *
 * lease.c
 *		The in-flight map: leases of received messages, and each queue's
 *		redelivery heap.
 *
 * A lease says that a message has been handed out and until when; it lives
 * in a shared hash table keyed by (database, queue, msg_id) and sized by
 * pgmsg.max_leases.  Taking a lease writes nothing to the queue's table, so
 * receiving fresh messages generates no WAL.
 *
 * Lease states:
 *	RECEIVING	taken by a transaction still in progress.  Its commit makes
 *				it HELD; its abort makes it HELD with an expiry of "now", so
 *				the message is handed out again at once (xact.c).
 *	HELD		committed; the lease is in its queue's redelivery heap,
 *				ordered by expires_at.  A receive takes expired leases from
 *				the top of the heap before it scans for fresh messages.
 *	DELETING	a transaction in progress has deleted the row.  Commit drops
 *				the lease; abort puts it back in the heap, still held.
 *
 * Every lease's receive count is also kept where a crash does not lose it
 * (inflight.c); lease_set_receive_count changes both.
 *
 * A queue's leases keep TIDs into its table's current relfilenode, which
 * the queue slot records; a rewrite of the table drops them all
 * (lease_check_table).
 *
 * Each queue also lists its leases and its group entries, so dropping
 * them all (a drop, a purge, a rewrite of the table) walks only its own.
 *
 * Every change to a lease, a group entry, a queue's heap or its lease count
 * is made here.  Receives take leases through lease_take_* and
 * lease_retake_expired, deletes and visibility changes begin through
 * lease_begin_* and lease_set_expiry, and xact.c finishes or undoes each at
 * commit or abort through lease_commit_* and lease_abort_*, with the
 * LeaseUndo record the forward verb produced.
 *
 * Locking: see shmem.c.  Everything here is under the queue lock; the
 * partition locks are held only around hash_search calls.  Lease entries
 * do not move once entered, so the heap links between them are plain
 * pointers, valid in every backend because shared memory and this library
 * are mapped at the same addresses in all of them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "storage/shmem.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cursor.h"
#include "inflight.h"
#include "lease.h"
#include "pgmsg.h"
#include "shmem.h"

/*
 * A FIFO message group with messages in flight: its leases, in key order.
 */
typedef struct GroupEntry
{
	GroupKey	key;			/* hash key: must be first */
	dlist_head	leases;
#ifdef PGMSG_CHECKS
	int32		nleases;		/* length of leases, for check_group */
#endif
	TimestampTz last_key;		/* greatest delayed key sent to the group */
	dlist_node	queue_node;		/* in its queue's list */
} GroupEntry;

static HTAB *lease_hash = NULL;
static HTAB *group_hash = NULL;

static void lease_remove(QueueShared *qs, Lease *lease);
static void group_forget_if_idle(GroupEntry *group, TimestampTz now);
static GroupEntry *group_lookup(const GroupKey *key);

/*
 * The redelivery heap.  A node taken out is cleared, so that whether a
 * lease is in the heap can be told from the lease alone (lease_in_heap).
 */
static void
heap_add(QueueShared *qs, Lease *lease)
{
	pairingheap_add(&qs->redelivery, &lease->node);
}

static void
heap_remove(QueueShared *qs, Lease *lease)
{
	pairingheap_remove(&qs->redelivery, &lease->node);
	lease->node.prev_or_parent = NULL;
}

static inline bool
lease_in_heap(QueueShared *qs, const Lease *lease)
{
	return qs->redelivery.ph_root == &lease->node ||
		lease->node.prev_or_parent != NULL;
}

/*
 * The invariants of one lease, checked wherever it changes (PGMSG_CHECKS):
 * it is changed under its queue's lock, belongs to the queue whose slot it
 * is counted in, is in the heap exactly when it is held, and has been
 * handed out at least once.
 */
static void
check_lease(QueueShared *qs, const Lease *lease)
{
	PGMSG_CHECK(LWLockHeldByMeInMode(qs->lock, LW_EXCLUSIVE));
	PGMSG_CHECK(qs->in_use && lease->key.dbid == qs->dbid &&
				lease->key.queue_id == qs->queue_id);
	PGMSG_CHECK((lease->state == LEASE_HELD) == lease_in_heap(qs, lease));
	PGMSG_CHECK(lease->receive_count >= 1);
	PGMSG_CHECK(qs->nleases >= 1 && qs->nleases <= pgmsg_max_leases);
}

/*
 * The invariants of a group entry: its count is the length of its list,
 * and every lease on the list is a lease of its group and queue.
 */
static void
check_group(QueueShared *qs, const GroupEntry *group)
{
#ifdef PGMSG_CHECKS
	dlist_iter	iter;
	int32		n = 0;

	PGMSG_CHECK(LWLockHeldByMeInMode(qs->lock, LW_EXCLUSIVE));
	PGMSG_CHECK(group->key.dbid == qs->dbid && group->key.queue_id == qs->queue_id);
	dlist_foreach(iter, (dlist_head *) &group->leases)
	{
		Lease	   *lease = dlist_container(Lease, group_node, iter.cur);

		PGMSG_CHECK(lease->group == group);
		PGMSG_CHECK(lease->key.dbid == qs->dbid && lease->key.queue_id == qs->queue_id);
		n++;
	}
	PGMSG_CHECK(n == group->nleases);
#endif
}

/*
 * The invariants of a queue's lease state as a whole, checked where it is
 * all walked anyway (a purge, a drop, a rewrite): its lease count is the
 * length of its lease list, every grouped lease is on the list of a group
 * entry of the queue, and the heap holds exactly the held leases.
 */
static void
check_queue(QueueShared *qs)
{
#ifdef PGMSG_CHECKS
	dlist_iter	iter;
	int64		nleases = 0;
	int64		ngrouped = 0;
	int64		nheld = 0;
	int64		ningroups = 0;

	dlist_foreach(iter, &qs->leases)
	{
		Lease	   *lease = dlist_container(Lease, queue_node, iter.cur);

		check_lease(qs, lease);
		nleases++;
		if (lease->group != NULL)
			ngrouped++;
		if (lease->state == LEASE_HELD)
			nheld++;
	}
	dlist_foreach(iter, &qs->groups)
	{
		GroupEntry *group = dlist_container(GroupEntry, queue_node, iter.cur);

		check_group(qs, group);
		ningroups += group->nleases;
	}
	PGMSG_CHECK(nleases == qs->nleases);
	PGMSG_CHECK(ngrouped == ningroups);
	PGMSG_CHECK((nheld == 0) == pairingheap_is_empty(&qs->redelivery));
#endif
}

Size
lease_shmem_size(void)
{
	return add_size(hash_estimate_size(pgmsg_max_leases, sizeof(Lease)),
					hash_estimate_size(pgmsg_max_leases, sizeof(GroupEntry)));
}

void
lease_shmem_init(void)
{
	HASHCTL		info;

	info.keysize = sizeof(LeaseKey);
	info.entrysize = sizeof(Lease);
	info.num_partitions = LEASE_PARTITIONS;
	lease_hash = ShmemInitHash("pgmsg leases",
							   pgmsg_max_leases, pgmsg_max_leases,
							   &info,
							   HASH_ELEM | HASH_BLOBS | HASH_PARTITION);

	/* as many as leases; group_enter keeps to that (see there) */
	info.keysize = sizeof(GroupKey);
	info.entrysize = sizeof(GroupEntry);
	info.num_partitions = LEASE_PARTITIONS;
	group_hash = ShmemInitHash("pgmsg groups",
							   pgmsg_max_leases, pgmsg_max_leases,
							   &info,
							   HASH_ELEM | HASH_BLOBS | HASH_PARTITION);
}

/*
 * pairingheap keeps its largest element on top: the earliest expiry wins,
 * and of leases expiring together (those one receive took) the message
 * sent first, so redeliveries keep the order of the first delivery.
 */
static int
lease_expiry_cmp(const pairingheap_node *a, const pairingheap_node *b, void *arg)
{
	const Lease *la = pairingheap_const_container(Lease, node, a);
	const Lease *lb = pairingheap_const_container(Lease, node, b);

	if (la->expires_at != lb->expires_at)
		return la->expires_at < lb->expires_at ? 1 : -1;
	if (la->key.msg_id != lb->key.msg_id)
		return la->key.msg_id < lb->key.msg_id ? 1 : -1;
	return 0;
}

/*
 * Set up the lease state of a new queue slot: no leases, no groups, no
 * table seen yet.  Caller holds the directory lock.
 */
void
lease_slot_init(QueueShared *qs)
{
	qs->nleases = 0;
	qs->relfile = InvalidOid;
	qs->groups_loaded = false;
	qs->redelivery.ph_compare = lease_expiry_cmp;
	qs->redelivery.ph_arg = NULL;
	qs->redelivery.ph_root = NULL;
	dlist_init(&qs->leases);
	dlist_init(&qs->groups);
}

static LWLock *
partition_lock_for(const LeaseKey *key, uint32 *hashcode)
{
	*hashcode = get_hash_value(lease_hash, key);
	return pgmsg_partition_lock(*hashcode % LEASE_PARTITIONS);
}

/*
 * Find a lease.  Caller holds the queue lock.
 */
Lease *
lease_lookup(const LeaseKey *key)
{
	uint32		hashcode;
	LWLock	   *plock = partition_lock_for(key, &hashcode);
	Lease	   *lease;

	LWLockAcquire(plock, LW_SHARED);
	lease = hash_search_with_hash_value(lease_hash, key, hashcode, HASH_FIND, NULL);
	LWLockRelease(plock);
	return lease;
}

/*
 * Enter a new lease, or return NULL if the message already has one.  The
 * caller holds the queue lock and fills in every field but the key.
 * Raises an error when the map is full; nothing has changed then.
 */
static Lease *
lease_insert(QueueShared *qs, const LeaseKey *key)
{
	uint32		hashcode;
	LWLock	   *plock = partition_lock_for(key, &hashcode);
	Lease	   *lease;
	bool		found;

	if (pg_atomic_fetch_add_u64(&pgmsg_shared->nleases, 1) >= (uint64) pgmsg_max_leases)
	{
		pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, 1);
		if (lease_lookup(key) != NULL)
			return NULL;		/* leased already: the map is not the matter */
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many messages in flight"),
				 errdetail("All %d leases of pgmsg.max_leases are taken.",
						   pgmsg_max_leases),
				 errhint("Delete received messages, or raise pgmsg.max_leases and restart the server.")));
	}

	LWLockAcquire(plock, LW_EXCLUSIVE);
	lease = hash_search_with_hash_value(lease_hash, key, hashcode, HASH_ENTER_NULL, &found);
	LWLockRelease(plock);

	if (lease == NULL || found)
	{
		pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, 1);
		if (lease == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of shared memory for pgmsg leases"),
					 errhint("Raise pgmsg.max_leases and restart the server.")));
		return NULL;
	}
	lease->group = NULL;
	lease->receive_count = 0;
	lease->node.prev_or_parent = NULL;
	inflight_attach(lease);
	dlist_push_tail(&qs->leases, &lease->queue_node);
	qs->nleases++;
	return lease;
}

/*
 * FIFO groups.  A group entry exists while any message of the group has a
 * lease, and lists those leases in key order: messages of a group are
 * handed out in key order, and a lease stays in its place when the message
 * is handed out again.  Entries of a queue are protected by the queue lock,
 * the table's structure by the partition locks, as for leases.
 */
static GroupEntry *
group_lookup(const GroupKey *key)
{
	uint32		hashcode = get_hash_value(group_hash, key);
	LWLock	   *plock = pgmsg_partition_lock(hashcode % LEASE_PARTITIONS);
	GroupEntry *group;

	LWLockAcquire(plock, LW_SHARED);
	group = hash_search_with_hash_value(group_hash, key, hashcode, HASH_FIND, NULL);
	LWLockRelease(plock);
	return group;
}

/*
 * Find or create a group entry, or return NULL if that would take more
 * than pgmsg.max_leases entries.  An entry holds leases or a delayed
 * message (group_order_key), so entries for delayed messages of distinct
 * groups could otherwise take shared memory without bound: the count keeps
 * the table within the size it was given, as nleases does for leases.
 * Changes nothing when it returns NULL.
 */
static GroupEntry *
group_enter(QueueShared *qs, const GroupKey *key)
{
	uint32		hashcode = get_hash_value(group_hash, key);
	LWLock	   *plock = pgmsg_partition_lock(hashcode % LEASE_PARTITIONS);
	GroupEntry *group;
	bool		found;

	LWLockAcquire(plock, LW_EXCLUSIVE);
	group = hash_search_with_hash_value(group_hash, key, hashcode, HASH_FIND, NULL);
	if (group == NULL)
	{
		if (pg_atomic_fetch_add_u64(&pgmsg_shared->ngroups, 1) < (uint64) pgmsg_max_leases)
			group = hash_search_with_hash_value(group_hash, key, hashcode,
												HASH_ENTER_NULL, &found);
		if (group == NULL)
			pg_atomic_fetch_sub_u64(&pgmsg_shared->ngroups, 1);
		else
		{
			dlist_init(&group->leases);
#ifdef PGMSG_CHECKS
			group->nleases = 0;
#endif
			group->last_key = 0;
			dlist_push_tail(&qs->groups, &group->queue_node);
		}
	}
	LWLockRelease(plock);
	return group;
}

static void
report_groups_full(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("too many FIFO message groups in flight"),
			 errdetail("All %d message group entries of pgmsg.max_leases are taken.",
					   pgmsg_max_leases),
			 errhint("Delete received messages, or raise pgmsg.max_leases and restart the server.")));
}

/*
 * Append a newly handed-out lease, counted in its queue but recorded
 * nowhere else yet, to its group.  If the group cannot get an entry the
 * lease is dropped before the error is raised, so shared memory is left as
 * it was before the lease was taken.  Caller holds the queue lock.
 */
static void
group_attach(QueueShared *qs, Lease *lease, const GroupKey *key)
{
	GroupEntry *group = group_enter(qs, key);

	if (group == NULL)
	{
		lease_remove(qs, lease);
		report_groups_full();
	}
	lease->group = group;
	dlist_push_tail(&group->leases, &lease->group_node);
#ifdef PGMSG_CHECKS
	group->nleases++;
#endif
	check_group(qs, group);
}

static void
group_detach(QueueShared *qs, Lease *lease)
{
	/* a group keeps its entry while it has leases */
	GroupEntry *group = lease->group;

	PGMSG_CHECK(group != NULL && group == group_lookup(&group->key));
	dlist_delete(&lease->group_node);
	lease->group = NULL;
#ifdef PGMSG_CHECKS
	group->nleases--;
#endif
	check_group(qs, group);
	group_forget_if_idle(group, GetCurrentTimestamp());
}

/*
 * The key of a new FIFO message: never before the key of a delayed message
 * sent earlier to the same group, so a group's send order is its key order
 * even when the queue's delay shrinks, while other groups are not held
 * back.  A group whose last message is still delayed keeps an entry for
 * that (without leases) until the message is received; after a restart
 * group_load_delayed rebuilds those entries first.  Caller holds the
 * queue lock.
 */
TimestampTz
group_order_key(QueueShared *qs, const GroupKey *key, TimestampTz msg_key,
				TimestampTz now)
{
	GroupEntry *group = group_lookup(key);

	if (group != NULL && group->last_key > msg_key)
		msg_key = group->last_key;
	if (msg_key > now)
	{
		if (group == NULL && (group = group_enter(qs, key)) == NULL)
			report_groups_full();
		group->last_key = msg_key;
	}
	return msg_key;
}

/*
 * Give the groups of a FIFO queue back the keys of their delayed messages,
 * which group_order_key needs and which shared memory lost at the last
 * restart: without them a message sent now could get a key before that of
 * a message sent earlier to its group, after the queue's delay was lowered
 * or with keys from a clock that ran ahead of the wall clock before the
 * restart.  Runs once per queue slot, before the slot's first FIFO key;
 * the caller holds the queue lock and has the table and its index open.
 * Every row there is committed or will never be: keys assigned since the
 * slot was set up come after this.
 */
void
group_load_delayed(QueueShared *qs, Relation rel, Relation index, TimestampTz now)
{
	Snapshot	snapshot;
	ScanKeyData keys[1];
	IndexScanDesc scan;
	TupleTableSlot *slot;

	if (qs->groups_loaded)
		return;
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	slot = table_slot_create(rel, NULL);

	ScanKeyInit(&keys[0], 1, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT,
				TimestampTzGetDatum(now));
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, keys, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		TimestampTz visible_at;
		Datum		group_id;
		text	   *gtext;
		GroupKey	gkey;
		GroupEntry *group;

		visible_at = DatumGetTimestampTz(slot_getattr(slot, Anum_q_visible_at, &isnull));
		group_id = slot_getattr(slot, Anum_q_group_id, &isnull);
		if (isnull)
			continue;
		gtext = DatumGetTextPP(group_id);
		gkey.dbid = qs->dbid;
		gkey.queue_id = qs->queue_id;
		gkey.group_hash = group_hash_text(VARDATA_ANY(gtext), VARSIZE_ANY_EXHDR(gtext));
		if ((group = group_enter(qs, &gkey)) == NULL)
			report_groups_full();
		if (visible_at > group->last_key)
			group->last_key = visible_at;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	qs->groups_loaded = true;
}

/*
 * Drop a group entry that has no leases and no delayed message pending.
 * Caller holds the queue lock.
 */
static void
group_forget_if_idle(GroupEntry *group, TimestampTz now)
{
	uint32		hashcode;
	LWLock	   *plock;
	GroupKey	key = group->key;

	PGMSG_CHECK((group->nleases == 0) == dlist_is_empty(&group->leases));
	if (!dlist_is_empty(&group->leases) || group->last_key > now)
		return;
	dlist_delete(&group->queue_node);
	hashcode = get_hash_value(group_hash, &key);
	plock = pgmsg_partition_lock(hashcode % LEASE_PARTITIONS);
	LWLockAcquire(plock, LW_EXCLUSIVE);
	if (hash_search_with_hash_value(group_hash, &key, hashcode, HASH_REMOVE, NULL) != NULL)
		pg_atomic_fetch_sub_u64(&pgmsg_shared->ngroups, 1);
	LWLockRelease(plock);
}

/*
 * A group is busy while any of its messages is in flight: taken or being
 * deleted by a transaction in progress, or held with an unexpired lease.
 */
static bool
group_busy(GroupEntry *group, TimestampTz now)
{
	dlist_iter	iter;

	dlist_foreach(iter, &group->leases)
	{
		Lease	   *lease = dlist_container(Lease, group_node, iter.cur);

		if (lease->state != LEASE_HELD || lease->expires_at > now)
			return true;
	}
	return false;
}

/*
 * Whether a FIFO lease has run out: held, and its visibility timeout has
 * passed by "now", read under the queue lock.  Its group may then have been
 * handed to another receiver, starting again from an earlier message, so
 * the receipt no longer lets its holder delete the message or extend the
 * lease: that could process a message before one earlier in its group.  A
 * lease a transaction in progress is receiving or deleting has not run out,
 * since no other receiver can take its group meanwhile.  Standard queues'
 * leases never run out in this sense; their late receipts work until the
 * message is received again, as SQS's do.
 */
static bool
lease_fifo_expired(const Lease *lease, TimestampTz now)
{
	return lease->group != NULL && lease->state == LEASE_HELD &&
		lease->expires_at <= now;
}

/*
 * The hash of a group id; never 0, which means "no group".
 */
uint64
group_hash_text(const char *group_id, int len)
{
	uint64		h = hash_bytes_extended((const unsigned char *) group_id, len, 0x70676d7367);

	return h == 0 ? 1 : h;
}

/*
 * Drop a lease, taking it out of the heap first if it is there.  Caller
 * holds the queue lock.
 */
static void
lease_remove(QueueShared *qs, Lease *lease)
{
	uint32		hashcode;
	LWLock	   *plock;
	LeaseKey	key = lease->key;

	PGMSG_CHECK(LWLockHeldByMeInMode(qs->lock, LW_EXCLUSIVE));
	PGMSG_CHECK((lease->state == LEASE_HELD) == lease_in_heap(qs, lease));
	if (lease->state == LEASE_HELD)
		heap_remove(qs, lease);
	if (lease->group != NULL)
		group_detach(qs, lease);
	inflight_detach(lease);
	dlist_delete(&lease->queue_node);
	qs->nleases--;

	plock = partition_lock_for(&key, &hashcode);
	LWLockAcquire(plock, LW_EXCLUSIVE);
	hash_search_with_hash_value(lease_hash, &key, hashcode, HASH_REMOVE, NULL);
	LWLockRelease(plock);
	pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, 1);
}

/*
 * Set a lease's receive count, in the lease and in its record of the
 * in-flight file (inflight.c).  Caller holds the queue lock.
 */
static void
lease_set_receive_count(Lease *lease, int32 receive_count)
{
	lease->receive_count = receive_count;
	inflight_set_count(lease);
}

/*
 * Make a lease HELD and put it in the heap.  Caller holds the queue lock.
 */
static void
lease_heap_push(QueueShared *qs, Lease *lease)
{
	lease->state = LEASE_HELD;
	heap_add(qs, lease);
}

/*
 * When the next held lease of a queue expires, or DT_NOEND if none is held.
 * Caller holds the queue lock.
 */
TimestampTz
lease_next_expiry(QueueShared *qs)
{
	if (pairingheap_is_empty(&qs->redelivery))
		return DT_NOEND;
	return pairingheap_container(Lease, node,
								 pairingheap_first(&qs->redelivery))->expires_at;
}

/*
 * Called under the queue lock before a lease is taken or its TID used, with
 * the queue's table.  A rewrite of the table (VACUUM FULL, CLUSTER, a
 * TRUNCATE by hand, a move to another tablespace) gives it a new
 * relfilenode, and every TID kept for it then points at another row or
 * past the end.  The queue then starts over as after a restart: its leases
 * are dropped, so the receipts issued before are stale, and its cursor goes
 * back to the start, so every message not deleted is delivered again.  A
 * rewrite waits for every transaction using the table, so no lease is being
 * taken or used while it runs.
 */
void
lease_check_table(QueueShared *qs, Relation rel)
{
	Oid			relfile = rel->rd_node.relNode;

	if (qs->relfile == relfile)
		return;
	if (OidIsValid(qs->relfile))
	{
		lease_remove_queue(qs, qs->dbid, qs->queue_id, PG_INT64_MAX);
		cursor_reset(qs);
		ereport(LOG,
				(errmsg("pgmsg queue table \"%s\" was rewritten",
						RelationGetRelationName(rel)),
				 errdetail("Its messages in flight will be delivered again, and their receipts are stale.")));
	}
	qs->relfile = relfile;
}

/*
 * Drop the leases of a queue whose message ids are at most max_msg_id:
 * every lease when its queue is dropped (PG_INT64_MAX), the leases that
 * existed when a committed purge ran otherwise.  Caller holds the queue
 * lock.  This walks the queue's own lists, not the shared tables, and
 * takes each partition lock only around the one entry it removes, so it
 * holds up no other queue.
 */
void
lease_remove_queue(QueueShared *qs, Oid dbid, int32 queue_id, int64 max_msg_id)
{
	dlist_mutable_iter iter;
	int			nremoved = 0;
	int			ngroups_removed = 0;

	check_queue(qs);
	dlist_foreach_modify(iter, &qs->leases)
	{
		Lease	   *lease = dlist_container(Lease, queue_node, iter.cur);
		LeaseKey	key = lease->key;
		uint32		hashcode;
		LWLock	   *plock;

		Assert(key.dbid == dbid && key.queue_id == queue_id);
		if (key.msg_id > max_msg_id)
			continue;
		if (lease->state == LEASE_HELD)
			heap_remove(qs, lease);
		if (lease->group != NULL)
			dlist_delete(&lease->group_node);
		dlist_delete(&lease->queue_node);
		inflight_detach(lease);
		plock = partition_lock_for(&key, &hashcode);
		LWLockAcquire(plock, LW_EXCLUSIVE);
		hash_search_with_hash_value(lease_hash, &key, hashcode, HASH_REMOVE, NULL);
		LWLockRelease(plock);
		nremoved++;
	}
	dlist_foreach_modify(iter, &qs->groups)
	{
		GroupEntry *group = dlist_container(GroupEntry, queue_node, iter.cur);
		GroupKey	key = group->key;
		uint32		hashcode;
		LWLock	   *plock;

		/* a group that still has leases keeps its entry (recounted) */
		if (!dlist_is_empty(&group->leases))
		{
#ifdef PGMSG_CHECKS
			dlist_iter	liter;

			group->nleases = 0;
			dlist_foreach(liter, &group->leases)
				group->nleases++;
#endif
			continue;
		}
		dlist_delete(&group->queue_node);
		hashcode = get_hash_value(group_hash, &key);
		plock = pgmsg_partition_lock(hashcode % LEASE_PARTITIONS);
		LWLockAcquire(plock, LW_EXCLUSIVE);
		hash_search_with_hash_value(group_hash, &key, hashcode, HASH_REMOVE, NULL);
		LWLockRelease(plock);
		ngroups_removed++;
	}

	pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, nremoved);
	pg_atomic_fetch_sub_u64(&pgmsg_shared->ngroups, ngroups_removed);
	qs->nleases -= nremoved;
	check_queue(qs);
	PGMSG_CHECK(max_msg_id != PG_INT64_MAX ||
				(qs->nleases == 0 && dlist_is_empty(&qs->leases) &&
				 dlist_is_empty(&qs->groups) &&
				 pairingheap_is_empty(&qs->redelivery)));
}

/*
 * Whether a message has a lease.  Caller holds the queue lock.
 */
bool
lease_exists(const LeaseKey *key)
{
	return lease_lookup(key) != NULL;
}

/*
 * The number of leases a queue holds.  Exact under the queue lock; a guess
 * without it.
 */
int64
lease_count(QueueShared *qs)
{
	return qs->nleases;
}

/*
 * Find the lease of "key" if "nonce" is still its own.
 */
static Lease *
lease_lookup_nonce(const LeaseKey *key, uint64 nonce)
{
	Lease	   *lease = lease_lookup(key);

	if (lease == NULL || lease->nonce != nonce)
		return NULL;
	return lease;
}

/*
 * Room for the leases lease_retake_expired sets aside, allocated before the
 * queue lock is taken: once leases are out of the heap nothing may fail
 * until they are back.
 */
static Lease **aside = NULL;
static int	maxaside = 0;

static void
reserve_aside(QueueShared *qs)
{
	/* read without the lock: a guess, and retaking stops when full */
	int64		want = Max(qs->nleases + 64, 64);

	want = Min(want, (int64) pgmsg_max_leases);
	if (want <= maxaside)
		return;
	if (aside != NULL)
		pfree(aside);
	aside = NULL;
	maxaside = 0;
	aside = MemoryContextAlloc(TopMemoryContext, sizeof(Lease *) * want);
	maxaside = (int) want;
}

/*
 * Start a receive of up to max_messages leases; called before the queue
 * lock is taken, since it allocates.
 */
void
lease_taking_begin(LeaseTaking *lt, QueueShared *qs, bool fifo,
				   int max_messages, Taken *taken, const uint64 *nonces,
				   int64 visibility_timeout,
				   void (*track) (QueueShared *qs, const LeaseUndo *undo))
{
	lt->qs = qs;
	lt->fifo = fifo;
	lt->max_messages = max_messages;
	lt->n = 0;
	lt->taken = taken;
	lt->nonces = nonces;
	lt->now = GetCurrentTimestamp();
	lt->expires_at = lt->now + visibility_timeout;
	lt->groups = fifo ? palloc(sizeof(uint64) * max_messages) : NULL;
	lt->ngroups = 0;
	lt->track = track;
	if (fifo)
		reserve_aside(qs);
}

static void
fill_taken(Taken *t, const Lease *lease)
{
	t->msg_id = lease->key.msg_id;
	t->nonce = lease->nonce;
	t->receive_count = lease->receive_count;
	t->first_received_at = lease->first_received_at;
	t->tid = lease->tid;
}

/*
 * Take a lease that was held: it is out of the heap and RECEIVING now.
 */
static void
retake(LeaseTaking *lt, Lease *lease)
{
	LeaseUndo	undo;

	undo.key = lease->key;
	undo.nonce = lt->nonces[lt->n];
	undo.existed = true;
	undo.prev_state = LEASE_HELD;
	undo.prev_nonce = lease->nonce;
	undo.prev_expires_at = lease->expires_at;
	undo.prev_receive_count = lease->receive_count;
	undo.prev_tid = lease->tid;

	lease->state = LEASE_RECEIVING;
	lease->nonce = lt->nonces[lt->n];
	lease->expires_at = lt->expires_at;
	lease_set_receive_count(lease, lease->receive_count + 1);
	if (lease->first_received_at == 0)
		lease->first_received_at = lt->now;
	check_lease(lt->qs, lease);
	lt->track(lt->qs, &undo);

	fill_taken(&lt->taken[lt->n], lease);
	lt->n++;
}

static bool
group_is_mine(LeaseTaking *lt, uint64 group_hash)
{
	for (int i = 0; i < lt->ngroups; i++)
		if (lt->groups[i] == group_hash)
			return true;
	return false;
}

/*
 * Take a free FIFO group: its messages handed out before come first, in
 * key order.  They are all held and expired, since the group is free.
 */
static void
take_group(LeaseTaking *lt, GroupEntry *group)
{
	dlist_iter	iter;

	lt->groups[lt->ngroups++] = group->key.group_hash;
	dlist_foreach(iter, &group->leases)
	{
		Lease	   *lease = dlist_container(Lease, group_node, iter.cur);

		if (lt->n >= lt->max_messages)
			break;
		if (lease->state != LEASE_HELD)
			continue;
		heap_remove(lt->qs, lease);
		retake(lt, lease);
	}
}

/*
 * Redeliveries: expired leases from the heap.  On a FIFO queue an expired
 * lease of a busy group is set aside (and put back at the end), and a free
 * group is taken whole.  Setting aside costs a receive one step per expired
 * message of a busy group.  When the room reserved for that is full, the
 * scan stops; the rest waits for a later receive.  Caller holds the queue
 * lock.
 */
void
lease_retake_expired(LeaseTaking *lt)
{
	QueueShared *qs = lt->qs;
	int			naside = 0;

	while (lt->n < lt->max_messages && !pairingheap_is_empty(&qs->redelivery))
	{
		Lease	   *lease = pairingheap_container(Lease, node,
												  pairingheap_first(&qs->redelivery));
		GroupEntry *group = lease->group;

		if (lease->expires_at > lt->now)
			break;
		if (!lt->fifo || group == NULL ||
			group_is_mine(lt, group->key.group_hash))
		{
			heap_remove(qs, lease);
			retake(lt, lease);
			continue;
		}
		if (!group_busy(group, lt->now))
		{
			take_group(lt, group);
			continue;
		}
		if (naside == maxaside)
			break;
		heap_remove(qs, lease);
		lease->state = LEASE_RECEIVING;	/* out of the heap for now */
		aside[naside++] = lease;
	}
	for (int i = 0; i < naside; i++)
	{
		lease_heap_push(qs, aside[i]);
		check_lease(qs, aside[i]);
	}
}

/*
 * Whether this receive may take a fresh message of FIFO group "key": the
 * group is this receive's already, or free, and then this receive takes it,
 * its messages handed out before first.  False if the group is busy.
 * Caller holds the queue lock.
 */
bool
lease_take_group(LeaseTaking *lt, const GroupKey *key)
{
	GroupEntry *group;

	if (group_is_mine(lt, key->group_hash))
		return true;
	group = group_lookup(key);
	if (group != NULL && dlist_is_empty(&group->leases))
	{
		group_forget_if_idle(group, lt->now);
		group = NULL;
	}
	if (group == NULL)
		lt->groups[lt->ngroups++] = key->group_hash;
	else if (group_busy(group, lt->now))
		return false;
	else
		take_group(lt, group);
	return true;
}

/*
 * Take a lease on a message handed out for the first time since the
 * server started.  Returns false, changing nothing, if the message has a
 * lease already; a caller that checked that under the queue lock need not
 * look.  Its receive count goes on from the table's, or from the count it
 * was handed out with when the server last stopped, if that is greater
 * (inflight.c); a count of 2 or more is then written to the table by the
 * receive.  "group" is the message's FIFO group, which this receive has
 * taken (lease_take_group), or NULL.
 */
bool
lease_take_fresh(LeaseTaking *lt, const LeaseKey *key, const FreshMessage *m,
				 const GroupKey *group)
{
	Lease	   *lease = lease_insert(lt->qs, key);
	LeaseUndo	undo;
	int32		crash_floor;

	if (lease == NULL)
		return false;
	crash_floor = inflight_floor(key);

	lease->state = LEASE_RECEIVING;
	lease->nonce = lt->nonces[lt->n];
	lease->expires_at = lt->expires_at;
	lease_set_receive_count(lease, Max(m->receive_count, crash_floor) + 1);
	lease->first_received_at = m->has_first ? m->first_received_at : lt->now;
	lease->tid = m->tid;
	/* the last step that can fail: it drops the lease if it does */
	if (group != NULL)
		group_attach(lt->qs, lease, group);
	check_lease(lt->qs, lease);

	memset(&undo, 0, sizeof(undo));
	undo.key = *key;
	undo.nonce = lease->nonce;
	undo.existed = false;
	undo.prev_state = LEASE_HELD;
	undo.prev_receive_count = m->receive_count;
	undo.prev_tid = m->tid;
	undo.visible_at = m->visible_at;
	undo.crash_floor = crash_floor > m->receive_count;
	lt->track(lt->qs, &undo);

	fill_taken(&lt->taken[lt->n], lease);
	lt->n++;
	return true;
}

/*
 * Drop a lease this transaction took for a message that turned out to be
 * gone.  Caller holds the queue lock.
 */
void
lease_drop_taken(QueueShared *qs, const LeaseKey *key, uint64 nonce)
{
	Lease	   *lease = lease_lookup_nonce(key, nonce);

	if (lease != NULL && lease->state == LEASE_RECEIVING)
		lease_remove(qs, lease);
}

/*
 * Let a lease this transaction took expire at "now", so that once the
 * transaction commits the message is available again.  Caller holds the
 * queue lock.
 */
void
lease_release_taken(QueueShared *qs, const LeaseKey *key, uint64 nonce,
					TimestampTz now)
{
	Lease	   *lease = lease_lookup_nonce(key, nonce);

	if (lease != NULL && lease->state == LEASE_RECEIVING)
		lease->expires_at = now;
}

/*
 * Point a lease at its message's new row version.  Caller holds the queue
 * lock.
 */
void
lease_set_tid(QueueShared *qs, const LeaseKey *key, uint64 nonce,
			  ItemPointer tid)
{
	Lease	   *lease = lease_lookup_nonce(key, nonce);

	if (lease != NULL)
		lease->tid = *tid;
}

/*
 * Whether "nonce" lets its holder delete the message or change its
 * visibility: it is the lease's latest, the lease is not being deleted, and
 * it has not run out on a FIFO queue.
 */
static Lease *
lease_usable(const LeaseKey *key, uint64 nonce, TimestampTz now)
{
	Lease	   *lease = lease_lookup_nonce(key, nonce);

	if (lease == NULL || lease->state == LEASE_DELETING ||
		lease_fifo_expired(lease, now))
		return NULL;
	return lease;
}

/*
 * Begin deleting a leased message if "nonce" is still usable: the lease
 * leaves the heap, so no receive takes it, and becomes DELETING; commit
 * drops it (lease_commit_delete) and abort restores *prev_state
 * (lease_abort_delete).  Sets *tid to the row to delete.  Caller holds the
 * queue lock and records the delete for commit or abort.
 */
bool
lease_begin_delete(QueueShared *qs, const LeaseKey *key, uint64 nonce,
				   TimestampTz now, LeaseState *prev_state, ItemPointer tid)
{
	Lease	   *lease = lease_usable(key, nonce, now);

	if (lease == NULL)
		return false;
	*prev_state = lease->state;
	if (lease->state == LEASE_HELD)
		heap_remove(qs, lease);
	lease->state = LEASE_DELETING;
	*tid = lease->tid;
	check_lease(qs, lease);
	return true;
}

/*
 * Begin deleting the held lease of a message whose row is deleted without
 * a receipt, as lease_begin_delete does; sets *nonce to the lease's.  A
 * lease that a transaction in progress is taking or deleting is left to it.
 * Caller holds the queue lock.
 */
bool
lease_begin_retire(QueueShared *qs, const LeaseKey *key, uint64 *nonce)
{
	Lease	   *lease = lease_lookup(key);

	if (lease == NULL || lease->state != LEASE_HELD)
		return false;
	*nonce = lease->nonce;
	heap_remove(qs, lease);
	lease->state = LEASE_DELETING;
	check_lease(qs, lease);
	return true;
}

/*
 * Change when a lease expires, if "nonce" is still usable.  A lease this
 * very transaction took (RECEIVING) changes at once and an abort takes the
 * change back (lease_abort_expiry); a held lease changes at commit
 * (lease_commit_expiry).  Sets *state and *prev_expires_at for the record
 * the caller keeps.  Caller holds the queue lock.
 */
bool
lease_set_expiry(QueueShared *qs, const LeaseKey *key, uint64 nonce,
				 TimestampTz expires_at, TimestampTz now, LeaseState *state,
				 TimestampTz *prev_expires_at)
{
	Lease	   *lease = lease_usable(key, nonce, now);

	if (lease == NULL)
		return false;
	*state = lease->state;
	*prev_expires_at = lease->expires_at;
	if (lease->state == LEASE_RECEIVING)
		lease->expires_at = expires_at;
	check_lease(qs, lease);
	return true;
}

/*
 * Commit of a receive: the lease becomes held, in the heap.  The table has
 * the receive count now, so a crash floor is no longer needed.  Caller
 * holds the queue lock.
 */
void
lease_commit_receive(QueueShared *qs, const LeaseUndo *undo)
{
	Lease	   *lease;

	if (undo->crash_floor)
		inflight_forget_floor(&undo->key);
	lease = lease_lookup_nonce(&undo->key, undo->nonce);
	if (lease != NULL && lease->state == LEASE_RECEIVING)
	{
		lease_heap_push(qs, lease);
		check_lease(qs, lease);
	}
}

/*
 * Commit of a delete: the lease goes.  Returns whether it did, and sets
 * *grouped if it was in a FIFO group, which may be free now.  Caller holds
 * the queue lock.
 */
bool
lease_commit_delete(QueueShared *qs, const LeaseUndo *undo, bool *grouped)
{
	Lease	   *lease = lease_lookup_nonce(&undo->key, undo->nonce);

	if (lease == NULL || lease->state != LEASE_DELETING)
		return false;
	*grouped = lease->group != NULL;
	lease_remove(qs, lease);
	return true;
}

/*
 * Commit of a visibility change of a held lease: it moves in the heap.
 * A FIFO lease that ran out before this commit may have had its group
 * handed out again: extending it now would let a late holder act on a
 * message behind the new receiver's, so it is left alone.  Returns whether
 * the lease changed.  Caller holds the queue lock.
 */
bool
lease_commit_expiry(QueueShared *qs, const LeaseUndo *undo,
					TimestampTz expires_at, TimestampTz now)
{
	Lease	   *lease = lease_lookup_nonce(&undo->key, undo->nonce);

	if (lease == NULL || lease->state != LEASE_HELD ||
		lease_fifo_expired(lease, now))
		return false;
	heap_remove(qs, lease);
	lease->expires_at = expires_at;
	heap_add(qs, lease);
	check_lease(qs, lease);
	return true;
}

/*
 * Abort of a receive: the message is released at once, as if the receive
 * never happened.  A redelivered lease gets its previous nonce, count and
 * row back and expires "now"; a first receive leaves no lease, and the
 * cursor comes back to the message.  Returns whether the lease was still
 * this transaction's.  Caller holds the queue lock.
 */
bool
lease_abort_receive(QueueShared *qs, const LeaseUndo *undo, TimestampTz now)
{
	Lease	   *lease = lease_lookup_nonce(&undo->key, undo->nonce);

	if (lease == NULL)
		return false;
	Assert(lease->state != LEASE_HELD);
	if (undo->existed)
	{
		lease->nonce = undo->prev_nonce;
		lease_set_receive_count(lease, undo->prev_receive_count);
		lease->tid = undo->prev_tid;
		lease->expires_at = now;
		lease_heap_push(qs, lease);
		check_lease(qs, lease);
	}
	else
	{
		lease_remove(qs, lease);
		cursor_rewind(qs, undo->visible_at, undo->key.msg_id);
	}
	return true;
}

/*
 * Abort of a delete: the lease is back in the state it had.  Caller holds
 * the queue lock.
 */
void
lease_abort_delete(QueueShared *qs, const LeaseUndo *undo)
{
	Lease	   *lease = lease_lookup_nonce(&undo->key, undo->nonce);

	if (lease == NULL || lease->state != LEASE_DELETING)
		return;
	if (undo->prev_state == LEASE_HELD)
		lease_heap_push(qs, lease);
	else
		lease->state = undo->prev_state;
	check_lease(qs, lease);
}

/*
 * Abort of a visibility change: a change made at once is taken back.
 * Caller holds the queue lock.
 */
void
lease_abort_expiry(QueueShared *qs, const LeaseUndo *undo)
{
	Lease	   *lease = lease_lookup_nonce(&undo->key, undo->nonce);

	if (lease != NULL && undo->prev_state == LEASE_RECEIVING &&
		lease->state == LEASE_RECEIVING)
		lease->expires_at = undo->prev_expires_at;
}
