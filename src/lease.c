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
 * A queue's leases keep TIDs into its table's current relfilenode, which
 * the queue slot records; a rewrite of the table drops them all
 * (lease_check_table).
 *
 * Locking: every field of every lease of a queue, that queue's heap, its
 * lease count and the relfilenode are protected by the queue slot's
 * LWLock.  The hash table's own structure is protected by partition locks,
 * always taken after the queue lock and held only around hash_search
 * calls.  Lease entries do not move once entered, so the heap links
 * between them are plain pointers, valid in every backend because shared
 * memory and this library are mapped at the same addresses in all of them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/rel.h"

#include "pgmsg.h"

static HTAB *lease_hash = NULL;
static HTAB *group_hash = NULL;

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

	/* every group entry holds at least one lease, so this many suffice */
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

void
lease_heap_init(QueueShared *qs)
{
	qs->redelivery.ph_compare = lease_expiry_cmp;
	qs->redelivery.ph_arg = NULL;
	qs->redelivery.ph_root = NULL;
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
Lease *
lease_insert(const LeaseKey *key)
{
	uint32		hashcode;
	LWLock	   *plock = partition_lock_for(key, &hashcode);
	Lease	   *lease;
	bool		found;

	if (pg_atomic_fetch_add_u64(&pgmsg_shared->nleases, 1) >= (uint64) pgmsg_max_leases)
	{
		pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, 1);
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
	lease->group_hash = 0;
	return lease;
}

/*
 * FIFO groups.  A group entry exists while any message of the group has a
 * lease, and lists those leases in key order: messages of a group are
 * handed out in key order, and a lease stays in its place when the message
 * is handed out again.  Entries of a queue are protected by the queue lock,
 * the table's structure by the partition locks, as for leases.
 */
GroupEntry *
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
 * Find or create a group entry.  Cannot run out of space in practice: an
 * entry holds a lease or a delayed message, and there are as many entries
 * as leases.
 */
static GroupEntry *
group_enter(const GroupKey *key)
{
	uint32		hashcode = get_hash_value(group_hash, key);
	LWLock	   *plock = pgmsg_partition_lock(hashcode % LEASE_PARTITIONS);
	GroupEntry *group;
	bool		found;

	LWLockAcquire(plock, LW_EXCLUSIVE);
	group = hash_search_with_hash_value(group_hash, key, hashcode, HASH_ENTER_NULL, &found);
	LWLockRelease(plock);
	if (group == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of shared memory for pgmsg message groups"),
				 errhint("Raise pgmsg.max_leases and restart the server.")));
	if (!found)
	{
		dlist_init(&group->leases);
		group->last_key = 0;
	}
	return group;
}

/*
 * Append a newly handed-out lease to its group.
 */
void
group_attach(Lease *lease, const GroupKey *key)
{
	GroupEntry *group = group_enter(key);

	lease->group_hash = key->group_hash;
	dlist_push_tail(&group->leases, &lease->group_node);
}

static void
group_detach(Lease *lease)
{
	GroupKey	key;
	GroupEntry *group;

	key.dbid = lease->key.dbid;
	key.queue_id = lease->key.queue_id;
	key.group_hash = lease->group_hash;
	group = group_lookup(&key);
	dlist_delete(&lease->group_node);
	lease->group_hash = 0;
	if (group != NULL)
		group_forget_if_idle(group, GetCurrentTimestamp());
}

/*
 * The key of a new FIFO message: never before the key of a delayed message
 * sent earlier to the same group, so a group's send order is its key order
 * even when the queue's delay shrinks, while other groups are not held
 * back.  A group whose last message is still delayed keeps an entry for
 * that (without leases) until the message is received.  Caller holds the
 * queue lock.
 */
TimestampTz
group_order_key(const GroupKey *key, TimestampTz msg_key, TimestampTz now)
{
	GroupEntry *group = group_lookup(key);

	if (group != NULL && group->last_key > msg_key)
		msg_key = group->last_key;
	if (msg_key > now)
		group_enter(key)->last_key = msg_key;
	return msg_key;
}

/*
 * Drop a group entry that has no leases and no delayed message pending.
 * Caller holds the queue lock.
 */
void
group_forget_if_idle(GroupEntry *group, TimestampTz now)
{
	uint32		hashcode;
	LWLock	   *plock;
	GroupKey	key = group->key;

	if (!dlist_is_empty(&group->leases) || group->last_key > now)
		return;
	hashcode = get_hash_value(group_hash, &key);
	plock = pgmsg_partition_lock(hashcode % LEASE_PARTITIONS);
	LWLockAcquire(plock, LW_EXCLUSIVE);
	hash_search_with_hash_value(group_hash, &key, hashcode, HASH_REMOVE, NULL);
	LWLockRelease(plock);
}

/*
 * A group is busy while any of its messages is in flight: taken or being
 * deleted by a transaction in progress, or held with an unexpired lease.
 */
bool
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
void
lease_remove(QueueShared *qs, Lease *lease)
{
	uint32		hashcode;
	LWLock	   *plock;
	LeaseKey	key = lease->key;

	if (lease->state == LEASE_HELD)
		pairingheap_remove(&qs->redelivery, &lease->node);
	if (lease->group_hash != 0)
		group_detach(lease);
	qs->nleases--;

	plock = partition_lock_for(&key, &hashcode);
	LWLockAcquire(plock, LW_EXCLUSIVE);
	hash_search_with_hash_value(lease_hash, &key, hashcode, HASH_REMOVE, NULL);
	LWLockRelease(plock);
	pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, 1);
}

/*
 * Make a lease HELD and put it in the heap.  Caller holds the queue lock.
 */
void
lease_heap_push(QueueShared *qs, Lease *lease)
{
	lease->state = LEASE_HELD;
	pairingheap_add(&qs->redelivery, &lease->node);
}

/*
 * Take the lease that expires first out of the heap if it has expired by
 * "now", leaving its state to the caller.  Caller holds the queue lock.
 */
Lease *
lease_heap_pop_expired(QueueShared *qs, TimestampTz now)
{
	Lease	   *lease;

	if (pairingheap_is_empty(&qs->redelivery))
		return NULL;
	lease = pairingheap_container(Lease, node, pairingheap_first(&qs->redelivery));
	if (lease->expires_at > now)
		return NULL;
	pairingheap_remove_first(&qs->redelivery);
	lease->state = LEASE_RECEIVING;
	return lease;
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
 * lock.  This walks the whole map, which only management commands do.
 */
void
lease_remove_queue(QueueShared *qs, Oid dbid, int32 queue_id, int64 max_msg_id)
{
	HASH_SEQ_STATUS status;
	Lease	   *lease;
	GroupEntry *group;
	int			nremoved = 0;
	bool		all = (max_msg_id == PG_INT64_MAX);

	/*
	 * Take every partition lock, in order, to walk the tables safely.  With
	 * them held, the heap and group links are unlinked here directly
	 * (lease_remove and group_detach would take a partition lock again).
	 */
	for (int i = 0; i < LEASE_PARTITIONS; i++)
		LWLockAcquire(pgmsg_partition_lock(i), LW_EXCLUSIVE);
	hash_seq_init(&status, lease_hash);
	while ((lease = hash_seq_search(&status)) != NULL)
	{
		if (lease->key.dbid != dbid || lease->key.queue_id != queue_id ||
			lease->key.msg_id > max_msg_id)
			continue;
		if (!all)
		{
			if (lease->state == LEASE_HELD)
				pairingheap_remove(&qs->redelivery, &lease->node);
			if (lease->group_hash != 0)
				dlist_delete(&lease->group_node);
		}
		/* removing the entry just returned is allowed during a walk */
		hash_search(lease_hash, &lease->key, HASH_REMOVE, NULL);
		nremoved++;
	}
	hash_seq_init(&status, group_hash);
	while ((group = hash_seq_search(&status)) != NULL)
	{
		if (group->key.dbid != dbid || group->key.queue_id != queue_id)
			continue;
		/* a group that still has leases keeps its entry */
		if (all || dlist_is_empty(&group->leases))
			hash_search(group_hash, &group->key, HASH_REMOVE, NULL);
	}
	for (int i = LEASE_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(pgmsg_partition_lock(i));

	pg_atomic_fetch_sub_u64(&pgmsg_shared->nleases, nremoved);
	if (all)
	{
		qs->nleases = 0;
		lease_heap_init(qs);
	}
	else
		qs->nleases -= nremoved;
}
