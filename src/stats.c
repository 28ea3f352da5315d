/*-------------------------------------------------------------------------
 *
 * stats.c
 *		queue_stats(), behind the pgmsg.queues view.
 *
 * Counts come from shared memory, not from scanning message tables: the
 * number of stored messages is counted once per server start (or after a
 * purge) and then kept up to date by committing sends and deletes
 * (xact.c); delayed messages are an index range count of keys still in
 * the future.  A message is in flight while a lease on it is valid: every
 * lease of the queue counts but the held ones that have expired, which
 * are found at the top of the redelivery heap without visiting the rest.
 * Leases, the delayed count and the stored count are read at slightly
 * different moments (and a retention sweep may delete a leased row), so
 * in-flight and delayed are capped at what is stored: no count is ever
 * negative.
 *
 * The age of the oldest visible message (SQS's
 * ApproximateAgeOfOldestMessage) is that of the older of two candidates,
 * each one row fetched: among the expired leases (the redeliveries), the
 * message sent first; among fresh messages, the first read-ahead entry,
 * or else the first message without a lease in the index from the cursor
 * on, before which every message has been handed out (cursor.c).
 *
 * Reading the view takes no queue slot: a queue without one (unused since
 * the server started) is counted from its table, with no lease and zero
 * totals.
 *
 * Locking: the queue's lease count, heap, cursor and read-ahead are read
 * under the queue lock in shared mode, rows after it is released.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
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

static int64
count_query(const char *sql)
{
	bool		isnull;
	int			ret = SPI_execute(sql, true, 1);

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count messages: %s", SPI_result_code_string(ret));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * The number of messages stored in a queue: the count kept in shared
 * memory, counted first if it is not valid (after a start, a purge or a
 * retention sweep).  Caller is connected to SPI as the extension owner.
 */
int64
pgmsg_stored_messages(QueueShared *qs, const char *name)
{
	bool		valid;
	int64		count;

	SpinLockAcquire(&qs->mutex);
	valid = qs->count_valid;
	count = qs->count;
	SpinLockRelease(&qs->mutex);
	if (valid)
		return Max(count, 0);

	count = count_query(psprintf("SELECT pg_catalog.count(*) FROM pgmsg.%s",
								 quote_identifier(pgmsg_table_name(name))));
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
 * The number of held leases of a queue that have expired, and among them
 * the message sent first (the smallest id).  The heap orders leases by
 * expiry, so the subtree under an unexpired lease holds no expired one and
 * is not visited.  Caller holds the queue lock.
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
 * The first fresh message that is visible and has no lease: the first
 * read-ahead entry if there is one, else a probe of the index from the
 * cursor on.  Without "use_leases" (they point into a table since
 * rewritten) the probe starts at the beginning and every message counts
 * as fresh.  Caller holds the queue lock.
 */
static void
first_fresh(QueueInfo *qi, QueueShared *qs, Relation rel, Relation index,
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
		key.queue_id = qi->queue_id;
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

/*
 * Messages in flight now, and the send time of the oldest visible message
 * (false if there is none), of a queue whose table is locked; "qs" is NULL
 * for a queue without a slot, which has no lease.
 */
static bool
lease_stats(QueueInfo *qi, QueueShared *qs, Relation rel, int64 *in_flight,
			TimestampTz *oldest_sent_at)
{
	Relation	index = index_open(qi->indexid, AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TimestampTz now = GetCurrentTimestamp();
	Candidate	redelivery = {0};
	Candidate	fresh = {0};
	TimestampTz sent_at;
	bool		found = false;

	if (qs == NULL)
	{
		*in_flight = 0;
		first_fresh(qi, qs, rel, index, snapshot, now, false, &fresh);
	}
	else
	{
		LWLockAcquire(qs->lock, LW_SHARED);
		if (!OidIsValid(qs->relfile) || qs->relfile == rel->rd_node.relNode)
		{
			*in_flight = qs->nleases - expired_leases(qs, now, &redelivery);
			first_fresh(qi, qs, rel, index, snapshot, now, true, &fresh);
		}
		else
		{
			/* the table was rewritten: the next receive drops every lease */
			*in_flight = 0;
			first_fresh(qi, qs, rel, index, snapshot, now, false, &fresh);
		}
		LWLockRelease(qs->lock);
	}

	if (candidate_sent_at(rel, snapshot, &redelivery, &sent_at))
	{
		*oldest_sent_at = sent_at;
		found = true;
	}
	if (candidate_sent_at(rel, snapshot, &fresh, &sent_at) &&
		(!found || sent_at < *oldest_sent_at))
	{
		*oldest_sent_at = sent_at;
		found = true;
	}
	UnregisterSnapshot(snapshot);
	index_close(index, NoLock);
	return found;
}

Datum
pgmsg_queue_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			save_userid;
	int			save_sec;
	int			ret;
	SPITupleTable *queues;
	uint64		nqueues;

	pgmsg_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT queue_id, name FROM pgmsg.queue_meta ORDER BY queue_id", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list queues: %s", SPI_result_code_string(ret));
	queues = SPI_tuptable;
	nqueues = SPI_processed;

	for (uint64 i = 0; i < nqueues; i++)
	{
		bool		isnull;
		int32		queue_id = DatumGetInt32(SPI_getbinval(queues->vals[i], queues->tupdesc, 1, &isnull));
		char	   *name = SPI_getvalue(queues->vals[i], queues->tupdesc, 2);
		QueueInfo  *qi;
		QueueShared *qs;
		Relation	rel;
		Datum		values[9];
		bool		nulls[9];
		int64		count;
		int64		in_flight;
		int64		delayed;
		TimestampTz oldest_sent_at;

		/*
		 * A queue dropped since the list was read (or since a repeatable
		 * read snapshot listed it, its table gone) has no row.
		 */
		if (!pgmsg_queue_id_exists(queue_id))
			continue;
		qi = pgmsg_queue_lookup(name, true);
		if (qi == NULL || qi->queue_id != queue_id)
			continue;
		LockRelationOid(qi->relid, AccessShareLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(qi->relid)))
		{
			UnlockRelationOid(qi->relid, AccessShareLock);
			continue;
		}
		rel = table_open(qi->relid, NoLock);
		qs = pgmsg_queue_shared(queue_id, false);

		memset(nulls, 0, sizeof(nulls));
		if (qs != NULL)
			count = pgmsg_stored_messages(qs, name);
		else
			count = count_query(psprintf("SELECT pg_catalog.count(*) FROM pgmsg.%s",
										 quote_identifier(pgmsg_table_name(name))));
		if (lease_stats(qi, qs, rel, &in_flight, &oldest_sent_at))
			values[4] = TimestampTzGetDatum(oldest_sent_at);
		else
			nulls[4] = true;
		delayed = count_query(psprintf("SELECT pg_catalog.count(*) FROM pgmsg.%s"
									   " WHERE visible_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()",
									   quote_identifier(pgmsg_table_name(name))));
		table_close(rel, NoLock);

		in_flight = Min(Max(in_flight, 0), count);
		delayed = Min(delayed, count - in_flight);
		values[0] = Int32GetDatum(queue_id);
		values[1] = Int64GetDatum(count);
		values[2] = Int64GetDatum(in_flight);
		values[3] = Int64GetDatum(delayed);
		values[5] = Int64GetDatum(qs ? (int64) pg_atomic_read_u64(&qs->sent) : 0);
		values[6] = Int64GetDatum(qs ? (int64) pg_atomic_read_u64(&qs->received) : 0);
		values[7] = Int64GetDatum(qs ? (int64) pg_atomic_read_u64(&qs->deleted) : 0);
		values[8] = Int64GetDatum(qs ? (int64) pg_atomic_read_u64(&qs->dead_lettered) : 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	return (Datum) 0;
}
