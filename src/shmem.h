/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		The queue slot array in shared memory (shmem.c); the fields of a
 *		slot belong to cursor.c and lease.c, under the locks listed in
 *		shmem.c's header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_SHMEM_H
#define PGMSG_SHMEM_H

#include "pgmsg.h"
#include "lib/ilist.h"
#include "lib/pairingheap.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/itemptr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

/*
 * A fresh message as a receive's index scan found it: its key, where its row
 * is, and the row's durable receive count and first receive time.
 */
typedef struct FreshMessage
{
	TimestampTz visible_at;
	int64		msg_id;
	TimestampTz first_received_at;	/* valid if has_first */
	int32		receive_count;
	bool		has_first;
	ItemPointerData tid;
	uint64		group_hash;		/* FIFO group (group_hash_text), else 0 */
} FreshMessage;

/* fresh messages a scan reads ahead of the cursor, per queue (cursor.c) */
#define PGMSG_READ_AHEAD		64

/*
 * Shared state of one queue (shmem.c owns the array; cursor.c and lease.c
 * own the fields, under the locks described there).
 */
typedef struct QueueShared
{
	/* identity; set and cleared under the pgmsg directory lock */
	Oid			dbid;
	int32		queue_id;
	bool		in_use;

	/* protected by mutex: see cursor.c */
	slock_t		mutex;
	TimestampTz clock;			/* last key timestamp handed out */
	TimestampTz cursor_at;		/* everything <= (cursor_at, cursor_id) */
	int64		cursor_id;		/* ... has been handed out once */
	pg_atomic_uint32 npublishers;	/* backends with a registered bound */

	/* protected by lock: see lease.c */
	LWLock	   *lock;
	pairingheap redelivery;		/* held leases, by expiry */
	int64		nleases;
	dlist_head	leases;			/* every lease of the queue */
	dlist_head	groups;			/* every FIFO group entry of the queue */
	Oid			relfile;		/* relfilenode the leases' TIDs point into */
	bool		groups_loaded;	/* group_load_delayed has run */

	/* protected by lock: see cursor.c */
	int			nahead;			/* read-ahead entries stored ... */
	int			ahead_next;		/* ... and the first not yet taken */
	FreshMessage ahead[PGMSG_READ_AHEAD];

	/* statistics since the slot was set up; atomics, no lock */
	pg_atomic_uint64 sent;
	pg_atomic_uint64 received;
	pg_atomic_uint64 deleted;
	pg_atomic_uint64 dead_lettered;
	/* messages stored, valid once counted; under mutex */
	bool		count_valid;
	int64		count;

	/*
	 * Long-poll waiters that have no message yet (waiters.c): a list of
	 * pgprocnos, newest first, under wait_mutex, and their count.
	 */
	slock_t		wait_mutex;
	int32		wait_front;
	int32		wait_back;
	uint64		wait_gen;
	pg_atomic_uint32 nwaiters;

	/*
	 * Long-poll waiters in their batch window (receive.c): they have
	 * messages and sleep until the queue has had enough arrivals (messages
	 * made visible by commits, counted by xact.c) to fill the smallest of
	 * their batches, window_target, or until their window ends.
	 */
	ConditionVariable window_cv;
	pg_atomic_uint32 nwindow;
	pg_atomic_uint64 arrivals;
	pg_atomic_uint64 window_target;

	/* pgprocno + 1 of the push worker delivering this queue, or 0 */
	pg_atomic_uint32 push_proc;
} QueueShared;

typedef struct PgmsgShared
{
	LWLock	   *directory_lock;	/* queue slot allocation */
	uint64		epoch;			/* changes at every start */
	pg_atomic_uint64 nleases;	/* leases in the map, all queues */
	pg_atomic_uint64 ngroups;	/* FIFO group entries, all queues */
	int			max_queues;
	int			max_backends;
	QueueShared queues[FLEXIBLE_ARRAY_MEMBER];
} PgmsgShared;

#define LEASE_PARTITIONS 16
extern LWLock *pgmsg_partition_lock(int partition);
extern PgmsgShared *pgmsg_shared;
extern void pgmsg_shmem_request(void);
extern void pgmsg_shmem_startup(void);
extern void pgmsg_check_loaded(void);
extern QueueShared *pgmsg_queue_shared(int32 queue_id, bool create);
extern int32 pgmsg_max_slot_queue_id(void);
extern void pgmsg_release_slots(Oid dbid, int32 first_id, int32 last_id);
extern pg_atomic_uint64 *pgmsg_publisher_bounds(QueueShared *qs);
extern LWLock *pgmsg_inflight_lock(void);

#endif							/* PGMSG_SHMEM_H */
