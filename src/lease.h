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

/*
 * A lease, in the shared map.  Only lease.c changes leases (and inflight.c,
 * called by lease.c, their record); stats.c and metrics.c read them, under
 * the queue lock.
 */
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
	struct GroupEntry *group;	/* its FIFO message group, NULL if none */
	dlist_node	group_node;		/* in its group's list, in key order */
	int32		record;			/* in the in-flight file, -1 if none */
	dlist_node	queue_node;		/* in its queue's list */
} Lease;

/* A FIFO message group of a queue. */
typedef struct GroupKey
{
	Oid			dbid;
	int32		queue_id;
	uint64		group_hash;
} GroupKey;

/*
 * What a transaction must remember to finish or undo its change to a lease
 * at commit or abort (xact.c keeps it, lease.c fills it in and uses it).
 */
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

/* A message taken by a receive: what the receive goes on with. */
typedef struct Taken
{
	int64		msg_id;
	uint64		nonce;
	int32		receive_count;
	TimestampTz first_received_at;
	ItemPointerData tid;
} Taken;

/*
 * A receive taking leases under the queue lock (lease_take_*).  Each lease
 * taken is appended to taken[] with the next of nonces[], and its undo
 * record is handed to "track" at once, so that an error later in the
 * receive finds it recorded.
 */
typedef struct LeaseTaking
{
	QueueShared *qs;
	bool		fifo;
	int			max_messages;	/* leases wanted */
	int			n;				/* leases taken so far */
	Taken	   *taken;
	const uint64 *nonces;
	TimestampTz now;
	TimestampTz expires_at;
	uint64	   *groups;			/* FIFO groups this receive has taken */
	int			ngroups;
	void		(*track) (QueueShared *qs, const LeaseUndo *undo);
} LeaseTaking;

extern Size lease_shmem_size(void);
extern void lease_shmem_init(void);
extern void lease_slot_init(QueueShared *qs);
extern void lease_check_table(QueueShared *qs, Relation rel);
extern Lease *lease_lookup(const LeaseKey *key);
extern bool lease_exists(const LeaseKey *key);
extern int64 lease_count(QueueShared *qs);
extern TimestampTz lease_next_expiry(QueueShared *qs);
extern void lease_remove_queue(QueueShared *qs, Oid dbid, int32 queue_id,
							   int64 max_msg_id);

/* receiving */
extern void lease_taking_begin(LeaseTaking *lt, QueueShared *qs, bool fifo,
							   int max_messages, Taken *taken,
							   const uint64 *nonces, int64 visibility_timeout,
							   void (*track) (QueueShared *qs, const LeaseUndo *undo));
extern void lease_retake_expired(LeaseTaking *lt);
extern bool lease_take_group(LeaseTaking *lt, const GroupKey *key);
extern bool lease_take_fresh(LeaseTaking *lt, const LeaseKey *key,
							 const FreshMessage *m, const GroupKey *group);
extern void lease_drop_taken(QueueShared *qs, const LeaseKey *key, uint64 nonce);
extern void lease_release_taken(QueueShared *qs, const LeaseKey *key,
								uint64 nonce, TimestampTz now);
extern void lease_set_tid(QueueShared *qs, const LeaseKey *key, uint64 nonce,
						  ItemPointer tid);

/* deleting and changing visibility */
extern bool lease_begin_delete(QueueShared *qs, const LeaseKey *key,
							   uint64 nonce, TimestampTz now,
							   LeaseState *prev_state, ItemPointer tid);
extern bool lease_begin_retire(QueueShared *qs, const LeaseKey *key,
							   uint64 *nonce);
extern bool lease_set_expiry(QueueShared *qs, const LeaseKey *key,
							 uint64 nonce, TimestampTz expires_at,
							 TimestampTz now, LeaseState *state,
							 TimestampTz *prev_expires_at);

/* at commit and abort (xact.c) */
extern void lease_commit_receive(QueueShared *qs, const LeaseUndo *undo);
extern bool lease_commit_delete(QueueShared *qs, const LeaseUndo *undo,
								bool *grouped);
extern bool lease_commit_expiry(QueueShared *qs, const LeaseUndo *undo,
								TimestampTz expires_at, TimestampTz now);
extern bool lease_abort_receive(QueueShared *qs, const LeaseUndo *undo,
								TimestampTz now);
extern void lease_abort_delete(QueueShared *qs, const LeaseUndo *undo);
extern void lease_abort_expiry(QueueShared *qs, const LeaseUndo *undo);

/* FIFO groups */
extern TimestampTz group_order_key(QueueShared *qs, const GroupKey *key, TimestampTz msg_key,
								   TimestampTz now);
extern void group_load_delayed(QueueShared *qs, Relation rel, Relation index,
							   TimestampTz now);
extern uint64 group_hash_text(const char *group_id, int len);

#endif							/* PGMSG_LEASE_H */
