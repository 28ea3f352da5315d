/*-------------------------------------------------------------------------
 *
 * pgmsg.h
 *		Declarations shared by every part of pgmsg.
 *
 * pgmsg keeps each queue as an insert-only table ordered by the key
 * (visible_at, msg_id), plus three structures in shared memory: a per-queue
 * cursor and clock (cursor.c), the in-flight lease map with its per-queue
 * redelivery heap (lease.c), and the per-backend lower bounds of keys that
 * publishers are about to assign (cursor.c).  Transaction-scoped effects on
 * shared memory are queued in xact.c and applied at commit or undone at
 * abort.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_H
#define PGMSG_H

#include "postgres.h"

#include "lib/ilist.h"
#include "lib/pairingheap.h"
#include "storage/condition_variable.h"
#include "storage/itemptr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "port/atomics.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "executor/tuptable.h"
#include "utils/hsearch.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

#define PGMSG_NAME_MAXLEN		48
#define PGMSG_MAX_ATTRIBUTES	10
#define PGMSG_MAX_BATCH			1000
/* the largest message a topic takes, SNS's; subscribed queues take it too */
#define PGMSG_TOPIC_MAX_MESSAGE	262144

/* Limits of the interval arguments, in microseconds. */
#define PGMSG_MAX_VISIBILITY	(12 * USECS_PER_HOUR)
#define PGMSG_MAX_DELAY			(15 * 60 * USECS_PER_SEC)
#define PGMSG_MAX_WAIT			(20 * USECS_PER_SEC)
#define PGMSG_MIN_RETENTION		(60 * USECS_PER_SEC)
#define PGMSG_MAX_RETENTION		(14 * USECS_PER_DAY)

/* Messages in flight per queue: SQS's limits are the defaults. */
#define PGMSG_DEFAULT_IN_FLIGHT		120000
#define PGMSG_DEFAULT_IN_FLIGHT_FIFO 20000
#define PGMSG_MAX_IN_FLIGHT			1000000

/* Column numbers of a queue table, see catalog.c's CREATE TABLE. */
#define Anum_q_msg_id				1
#define Anum_q_visible_at			2
#define Anum_q_sent_at				3
#define Anum_q_receive_count		4
#define Anum_q_first_received_at	5
#define Anum_q_body					6
#define Anum_q_attributes			7
#define Anum_q_source_queue			8
#define Anum_q_group_id				9
#define Anum_q_source_queue_id		10
#define Natts_q						10

/* GUCs (pgmsg.c) */
extern int	pgmsg_max_leases;
extern int	pgmsg_max_queues;
extern bool pgmsg_durable_acks;

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
} FreshMessage;

/* fresh messages a scan reads ahead of the cursor, per queue (cursor.c) */
#define PGMSG_READ_AHEAD		16

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

	/* long-poll waiters */
	ConditionVariable cv;
	pg_atomic_uint32 nwaiters;

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

/* shmem.c */
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

/* cursor.c */
extern TimestampTz cursor_assign_key(QueueShared *qs, bool register_bound,
									 int64 delay, TimestampTz *sent_at);
extern TimestampTz cursor_limit(QueueShared *qs);
extern void cursor_get(QueueShared *qs, TimestampTz *at, int64 *id);
extern void cursor_advance(QueueShared *qs, TimestampTz at, int64 id);
extern void cursor_reset(QueueShared *qs);
extern void cursor_rewind(QueueShared *qs, TimestampTz at, int64 id);
extern void cursor_clear_bound(QueueShared *qs);
extern bool cursor_ahead_peek(QueueShared *qs, FreshMessage *m);
extern void cursor_ahead_consume(QueueShared *qs);
extern bool cursor_ahead_push(QueueShared *qs, const FreshMessage *m);
extern void cursor_ahead_clear(QueueShared *qs);

/* lease.c */
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

/* inflight.c */
extern Size inflight_shmem_size(void);
extern void inflight_shmem_startup(void);
extern void inflight_attach(Lease *lease);
extern void inflight_set_count(Lease *lease);
extern void inflight_detach(Lease *lease);
extern int32 inflight_floor(const LeaseKey *key);
extern void inflight_forget_floor(const LeaseKey *key);
extern void inflight_forget_floors(Oid dbid, int32 first_id, int32 last_id,
								   int64 max_msg_id);
extern int32 inflight_max_queue_id(Oid dbid);

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

/* receipt.c */
typedef struct Receipt
{
	int32		queue_id;
	int64		msg_id;
	uint64		epoch;
	uint64		nonce;
} Receipt;

extern text *receipt_encode(const Receipt *r);
extern void receipt_decode(const text *t, Receipt *r);

/* catalog.c */
typedef struct QueueInfo
{
	char		name[PGMSG_NAME_MAXLEN + 1];	/* hash key: must be first */
	int32		queue_id;
	Oid			relid;
	Oid			indexid;
	Oid			owner;
	int64		visibility_timeout; /* microseconds */
	int64		delay;			/* microseconds */
	int64		retention;		/* microseconds */
	int32		max_message_size;
	bool		notify;			/* NOTIFY pgmsg_<name> on commit */
	int32		max_receive_count;	/* 0: no dead-letter queue */
	bool		dead_letter_ok; /* the owner may still send to it (acl.c) */
	bool		fifo;
	bool		content_based_dedup;
	int32		max_in_flight;	/* leases the queue may hold at once */
	char		dead_letter_queue[PGMSG_NAME_MAXLEN + 1];

	/* privileges of privs_role, computed on demand (acl.c) */
	Oid			privs_role;
	uint32		privs;

	QueueShared *shared;		/* cached slot, rechecked on use */

	/* cached for this queue's table (send.c, receive.c) */
	Oid			sequenceid;		/* of msg_id */
	struct IndexInfo *index_info;
	void	   *update_plan;
} QueueInfo;

extern void pgmsg_validate_name(const char *kind, const char *name);
extern void pgmsg_refuse_in_recovery(const char *action, const char *name);
extern char *pgmsg_text_arg(FunctionCallInfo fcinfo, int argno, const char *what);
extern int64 pgmsg_interval_arg(FunctionCallInfo fcinfo, int argno,
								const char *what, int64 min, int64 max,
								int64 dflt);
extern QueueInfo *pgmsg_queue_lookup(const char *name, bool missing_ok);
extern QueueShared *pgmsg_queue_slot(QueueInfo *qi);
extern bool pgmsg_queue_id_exists(int32 queue_id);
extern void pgmsg_catalog_init(void);
extern void pgmsg_catalog_invalidate(void);
extern void pgmsg_cache_retire(HTAB *cache, void (*destroy) (HTAB *cache));
extern void pgmsg_cache_release_retired(void);
extern uint64 pgmsg_catalog_generation(void);
extern Oid	pgmsg_owner(void);
extern bool pgmsg_catalog_has_in_flight(void);
extern void pgmsg_become_owner(Oid *save_userid, int *save_sec);
extern void pgmsg_restore_user(Oid save_userid, int save_sec);
extern char *pgmsg_table_name(const char *queue);
extern void pgmsg_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *args,
						   int expected);

/* acl.c */
#define PGMSG_PRIV_SEND		(1 << 0)
#define PGMSG_PRIV_RECEIVE	(1 << 1)
#define PGMSG_PRIV_MANAGE	(1 << 2)
#define PGMSG_PRIV_PUBLISH	(1 << 3)
#define PGMSG_PRIV_SUBSCRIBE (1 << 4)

extern void pgmsg_check_privilege(QueueInfo *qi, uint32 priv);
extern uint32 pgmsg_load_privileges(QueueInfo *qi, Oid roleid);
struct TopicInfo;
extern void pgmsg_check_topic_privilege(struct TopicInfo *ti, uint32 priv);
extern bool pgmsg_has_topic_privilege(struct TopicInfo *ti, uint32 priv);

/* xact.c */
extern void pgmsg_xact_init(void);
extern void xact_track_receive(QueueShared *qs, const LeaseUndo *undo);
extern void xact_track_delete(QueueShared *qs, const LeaseKey *key,
							  uint64 nonce, LeaseState prev_state);
extern void xact_track_visibility(QueueShared *qs, const LeaseKey *key,
								  uint64 nonce, TimestampTz expires_at,
								  LeaseState state, TimestampTz prev_expires_at);
extern bool xact_track_publish(QueueShared *qs, int64 nsent);
extern void xact_track_delayed(QueueShared *qs);
extern void xact_track_drop(int32 queue_id);
extern void xact_track_dead_letter(QueueShared *qs);
extern void xact_track_worker(bool start);
extern void xact_track_purge(int32 queue_id, int64 max_msg_id);
extern void xact_track_create(int32 queue_id);
extern void xact_track_received(QueueShared *qs, int64 n);
extern void xact_reserve(int n);
extern bool xact_uses_pgmsg(void);
extern void xact_note_ack_wal(int64 records);

/* stats.c */
extern int64 pgmsg_stored_messages(QueueShared *qs, const char *name);

/* launcher.c */
extern void pgmsg_launcher_init(void);
extern Size launcher_shmem_size(void);
extern void launcher_shmem_init(void);
extern void pgmsg_worker_wake(void);
extern void pgmsg_worker_request_start(void);

/* worker.c */
extern void pgmsg_worker_init(void);

/* push_worker.c */
struct BackgroundWorkerHandle;
extern void pgmsg_push_init(void);
extern bool pgmsg_push_worker_check(struct BackgroundWorkerHandle **handle,
									bool have_subscriptions);

/* send.c */
extern void pgmsg_check_attributes(Jsonb *attributes);
extern void pgmsg_check_message(QueueInfo *qi, Jsonb *body, Jsonb *attributes);
extern void pgmsg_check_size(QueueInfo *qi, Jsonb *body, Jsonb *attributes);
extern Size pgmsg_message_size(Jsonb *body, Jsonb *attributes);
extern Datum *pgmsg_batch_bodies(FunctionCallInfo fcinfo, int argno, bool **nulls,
								  int *n);
extern Datum *pgmsg_batch_array(FunctionCallInfo fcinfo, int argno, Oid elemtype,
								 const char *what, int nbodies, bool **nulls);
extern text *pgmsg_content_dedup_id(Jsonb *body);
extern void pgmsg_check_fifo_ids(const char *kind, const char *name, bool fifo,
								 text *group_id, text *dedup_id);
extern bool pgmsg_queue_lock(QueueInfo *qi);
extern Relation pgmsg_queue_open(QueueInfo *qi);
extern int64 pgmsg_send_one(QueueInfo *qi, QueueShared *qs, Jsonb *body,
							Jsonb *attributes, int64 delay, text *group_id,
							text *dedup_id);
extern int64 pgmsg_send_moved(QueueInfo *qi, QueueShared *qs, Jsonb *body,
							  Jsonb *attributes, TimestampTz sent_at,
							  int32 receive_count, const char *source_queue,
							  int32 source_queue_id, text *group_id);

/* topic.c */
typedef struct Subscription
{
	int32		subscription_id;
	char		queue[PGMSG_NAME_MAXLEN + 1];
	struct FilterPolicy *policy;	/* NULL: every message matches */
	bool		raw;			/* false: deliver the SNS JSON envelope */
} Subscription;

typedef struct TopicInfo
{
	char		name[PGMSG_NAME_MAXLEN + 1];	/* hash key: must be first */
	int32		topic_id;
	Oid			owner;
	bool		fifo;
	bool		content_based_dedup;
	Oid			privs_role;		/* privileges of privs_role (acl.c) */
	uint32		privs;
	int			nsubs;
	Subscription *subs;			/* in subscription order, in cxt */
	MemoryContext cxt;			/* owns subs and their compiled policies */
} TopicInfo;

extern TopicInfo *pgmsg_topic_lookup(const char *name, bool missing_ok);
extern void pgmsg_claim_name(const char *kind, const char *name);
extern int	pgmsg_publish_one(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
							  text *group_id, text *dedup_id);
extern void pgmsg_check_publish_args(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
									 text *group_id, text *dedup_id);

/* redrive.c */
extern int64 pgmsg_redrive_batch(QueueInfo *qi, QueueInfo *dest, int64 max_messages);
extern bool pgmsg_redrive_task_step(int64 *task_id);
extern void pgmsg_redrive_task_failed(int64 task_id, int sqlerrcode,
									  const char *message);
extern uint64 pgmsg_dedup_cleanup(int limit);

/* ack.c */
extern bool pgmsg_delete_leased(QueueShared *qs, Relation rel,
								const LeaseKey *key, uint64 nonce);
extern void pgmsg_retire_lease(QueueShared *qs, const LeaseKey *key);

/* receive.c */
typedef struct Taken
{
	int64		msg_id;
	uint64		nonce;
	int32		receive_count;
	TimestampTz first_received_at;
	ItemPointerData tid;
} Taken;

extern int	pgmsg_take_leases(QueueInfo *qi, QueueShared *qs, Relation rel,
							  Relation index, int max_messages,
							  int64 visibility_timeout, Taken *taken,
							  uint64 *nonces, TimestampTz *next_wakeup);
extern bool pgmsg_fetch_taken(QueueInfo *qi, QueueShared *qs, Relation rel,
							  Snapshot snapshot, Taken *t, TupleTableSlot *slot);
extern void pgmsg_fill_nonces(uint64 *nonces, int n);

#endif							/* PGMSG_H */
