/*-------------------------------------------------------------------------
 *
 * lease.h
 *		The in-flight map: leases, FIFO group entries and each queue's
 *		redelivery heap (lease.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_LEASE_H
#define PGMSG_LEASE_H

#include "shmem.h"
#include "utils/relcache.h"

typedef enum LeaseState
{
	LEASE_RECEIVING,			/* taken by a transaction still in progress */
	LEASE_HELD,					/* committed; in the redelivery heap */
	LEASE_DELETING				/* a transaction in progress deletes it */
} LeaseState;

typedef struct LeaseKey
{
	Oid			dbid;
	int32		queue_id;
	int64		msg_id;
} LeaseKey;

typedef struct Lease
{
	LeaseKey	key;			/* hash key: must be first */
	pairingheap_node node;		/* in the queue's heap iff state is HELD */
	LeaseState	state;
	uint64		nonce;			/* of the latest receipt */
	TimestampTz expires_at;
	TimestampTz first_received_at;
	int32		receive_count;
	ItemPointerData tid;		/* current row version */
	uint64		group_hash;		/* FIFO message group, 0 if none */
	dlist_node	group_node;		/* in its group's list, in key order */
	int32		record;			/* in the in-flight file, -1 if none */
	dlist_node	queue_node;		/* in its queue's list */
} Lease;

/*
 * A FIFO message group with messages in flight: its leases, in key order
 * (lease.c).
 */
typedef struct GroupKey
{
	Oid			dbid;
	int32		queue_id;
	uint64		group_hash;
} GroupKey;

typedef struct GroupEntry
{
	GroupKey	key;			/* hash key: must be first */
	dlist_head	leases;
	TimestampTz last_key;		/* greatest delayed key sent to the group */
	dlist_node	queue_node;		/* in its queue's list */
} GroupEntry;

/* What a receiving transaction must remember to undo a lease. */
typedef struct LeaseUndo
{
	LeaseKey	key;
	uint64		nonce;			/* the nonce this transaction issued */
	bool		existed;		/* lease existed before (redelivery) */
	LeaseState	prev_state;
	uint64		prev_nonce;
	TimestampTz prev_expires_at;
	int32		prev_receive_count;
	ItemPointerData prev_tid;
	TimestampTz visible_at;		/* the message's key, for a first receive */
	bool		crash_floor;	/* counted on from a crash floor */
} LeaseUndo;

extern Size lease_shmem_size(void);
extern void lease_shmem_init(void);
extern void lease_heap_init(QueueShared *qs);
extern void lease_check_table(QueueShared *qs, Relation rel);
extern Lease *lease_lookup(const LeaseKey *key);
extern Lease *lease_insert(QueueShared *qs, const LeaseKey *key);
extern void lease_remove(QueueShared *qs, Lease *lease);
extern void lease_set_receive_count(Lease *lease, int32 receive_count);
extern void lease_heap_push(QueueShared *qs, Lease *lease);
extern Lease *lease_heap_pop_expired(QueueShared *qs, TimestampTz now);
extern TimestampTz lease_next_expiry(QueueShared *qs);
extern void lease_remove_queue(QueueShared *qs, Oid dbid, int32 queue_id,
							   int64 max_msg_id);
extern GroupEntry *group_lookup(const GroupKey *key);
extern void group_attach(QueueShared *qs, Lease *lease, const GroupKey *key);
extern bool group_busy(GroupEntry *group, TimestampTz now);
extern bool lease_fifo_expired(const Lease *lease, TimestampTz now);
extern TimestampTz group_order_key(QueueShared *qs, const GroupKey *key, TimestampTz msg_key,
								   TimestampTz now);
extern void group_load_delayed(QueueShared *qs, Relation rel, Relation index,
							   TimestampTz now);
extern void group_forget_if_idle(GroupEntry *group, TimestampTz now);
extern uint64 group_hash_text(const char *group_id, int len);

#endif							/* PGMSG_LEASE_H */
