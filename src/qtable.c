/*-------------------------------------------------------------------------
 *
 * qtable.c
 *		The message log: every read and write of a row of a queue's table
 *		by its TID, the appends and the retention deletes.
 *
 * A queue's table (pgmsg.q_<name>, made by queue.c) is an append-only log
 * ordered by its one index on (visible_at, msg_id); Anum_q_* in pgmsg.h
 * number its columns.  Rows are appended here (send.c decides their keys),
 * fetched and deleted by the TIDs leases keep (receive.c, ack.c, redrive.c
 * decide which), updated once per redelivery to make the receive count
 * durable, and deleted in batches by retention (worker.c).  The hot paths,
 * append, fetch and delete, go through the heap and table AM directly: the
 * executor would cost more than the row.  The others use SPI.
 *
 * A TID can come to hold another row once the row it named is deleted and
 * vacuumed, so every access by TID checks the row's msg_id.
 *
 * Locking: callers open the table through pgmsg_queue_open (or
 * pgmsg_queue_try_open, or lock it through pgmsg_queue_lock), which takes
 * RowExclusiveLock and reports a queue dropped meanwhile as missing.  No pgmsg shared-memory lock is held
 * here (see shmem.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "pgmsg.h"
#include "qtable.h"

/*
 * Lock a queue's table for writing and open it, or return NULL, with the
 * lock released, if the queue is gone: the caller decides what a missing
 * queue means.  A queue dropped by a transaction that committed while this
 * backend held its cached description is gone once the lock is granted.
 * Taking the lock processed the invalidations of every drop committed
 * before it, so a dropped table has neither a relcache entry left nor a
 * catalog row to build one from, and RelationIdGetRelation says so by
 * returning NULL, with no catalog probe of its own.
 */
Relation
pgmsg_queue_try_open(QueueInfo *qi)
{
	Relation	rel;

	LockRelationOid(qi->relid, RowExclusiveLock);
	rel = RelationIdGetRelation(qi->relid);
	if (!RelationIsValid(rel))
	{
		UnlockRelationOid(qi->relid, RowExclusiveLock);
		return NULL;
	}
	/* what relation_open does besides: count the table's accesses */
	pgstat_init_relation(rel);
	return rel;
}

/*
 * Lock a queue's table for writing, and report whether it still exists
 * (pgmsg_queue_try_open).
 */
bool
pgmsg_queue_lock(QueueInfo *qi)
{
	Relation	rel = pgmsg_queue_try_open(qi);

	if (rel == NULL)
		return false;
	table_close(rel, NoLock);
	return true;
}

/*
 * Open a queue's table for writing: the one way every entry point opens
 * it, so a queue dropped by a transaction that committed while this one
 * waited for the lock is reported as missing rather than as an unknown
 * relation.
 */
Relation
pgmsg_queue_open(QueueInfo *qi)
{
	Relation	rel = pgmsg_queue_try_open(qi);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", qi->name),
				 errdetail("It was dropped by a concurrent transaction.")));
	return rel;
}

/*
 * Open a queue's index for an append, and cache what appends need: the
 * index's IndexInfo and the msg_id sequence.  Caller has the table open.
 */
Relation
qtable_open_index(QueueInfo *qi)
{
	Relation	index;

	if (!OidIsValid(qi->sequenceid))
		qi->sequenceid = getIdentitySequence(qi->relid, Anum_q_msg_id, false);
	index = index_open(qi->indexid, RowExclusiveLock);
	if (qi->index_info == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

		qi->index_info = BuildIndexInfo(index);
		MemoryContextSwitchTo(old);
	}
	return index;
}

/*
 * Append a row to a queue's log, directly through the heap and its one
 * index.  The queue table has no triggers, constraints other than NOT
 * NULL, or other indexes, so nothing is skipped; heap_insert toasts,
 * WAL-logs and counts the row as an INSERT would.  Returns the message's
 * id, from the table's identity sequence.
 */
int64
qtable_append(QueueInfo *qi, Relation rel, Relation index, const QueueRow *row)
{
	Datum		values[Natts_q];
	bool		nulls[Natts_q];
	Datum		key_values[2];
	bool		key_nulls[2] = {false, false};
	HeapTuple	tuple;
	int64		msg_id = nextval_internal(qi->sequenceid, false);

	memset(nulls, false, sizeof(nulls));
	values[Anum_q_msg_id - 1] = Int64GetDatum(msg_id);
	values[Anum_q_visible_at - 1] = TimestampTzGetDatum(row->visible_at);
	values[Anum_q_sent_at - 1] = TimestampTzGetDatum(row->sent_at);
	values[Anum_q_receive_count - 1] = Int32GetDatum(row->receive_count);
	nulls[Anum_q_first_received_at - 1] = true;
	values[Anum_q_body - 1] = JsonbPGetDatum(row->body);
	if (row->attributes != NULL)
		values[Anum_q_attributes - 1] = JsonbPGetDatum(row->attributes);
	else
		nulls[Anum_q_attributes - 1] = true;
	if (row->source_queue != NULL)
		values[Anum_q_source_queue - 1] = CStringGetTextDatum(row->source_queue);
	else
		nulls[Anum_q_source_queue - 1] = true;
	/* a table made by version 1.0 has no such column; the tuple omits it */
	if (row->source_queue_id != 0)
		values[Anum_q_source_queue_id - 1] = Int32GetDatum(row->source_queue_id);
	else
		nulls[Anum_q_source_queue_id - 1] = true;
	if (row->group_id != NULL)
		values[Anum_q_group_id - 1] = PointerGetDatum(row->group_id);
	else
		nulls[Anum_q_group_id - 1] = true;

	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	simple_heap_insert(rel, tuple);

	key_values[0] = values[Anum_q_visible_at - 1];
	key_values[1] = values[Anum_q_msg_id - 1];
	index_insert(index, key_values, key_nulls, &tuple->t_self, rel,
				 UNIQUE_CHECK_NO, false, qi->index_info);

	heap_freetuple(tuple);
	return msg_id;
}

/*
 * Fetch the row at "tid" into "slot" if "snapshot" sees it and it is still
 * message "msg_id".
 */
bool
qtable_fetch(Relation rel, ItemPointer tid, int64 msg_id, Snapshot snapshot,
			 TupleTableSlot *slot)
{
	bool		isnull;

	return table_tuple_fetch_row_version(rel, tid, snapshot, slot) &&
		DatumGetInt64(slot_getattr(slot, Anum_q_msg_id, &isnull)) == msg_id;
}

/*
 * Fetch the row at "tid" as qtable_fetch does, but into "tuple" with
 * "*buffer" pinned rather than into a slot, which costs more to make and
 * drop than the rest of a one-message fetch, and deform it into "cols" and
 * "nulls" (as many as the table's columns) in one pass: a row with a null,
 * as a fresh message's is (first_received_at), would be walked again from
 * its start for each column read after the null.  On false nothing is
 * pinned.
 */
bool
qtable_fetch_tuple(Relation rel, ItemPointer tid, int64 msg_id, Snapshot snapshot,
				   HeapTuple tuple, Buffer *buffer, Datum *cols, bool *nulls)
{
	tuple->t_self = *tid;
	if (!heap_fetch(rel, snapshot, tuple, buffer, false))
		return false;
	heap_deform_tuple(tuple, RelationGetDescr(rel), cols, nulls);
	if (DatumGetInt64(cols[Anum_q_msg_id - 1]) == msg_id)
		return true;
	ReleaseBuffer(*buffer);
	return false;
}

/*
 * Is the item at "tid" a live row of message "msg_id"?  Live means
 * committed, or written by this transaction, and not deleted by a
 * committed transaction or this one (SnapshotSelf): a row version left by
 * an aborted redelivery, or one a purge has deleted, is not the message.
 * The caller keeps the buffer pinned from here on: a line pointer is
 * reused only after pruning or vacuum, both of which need the page
 * unpinned by everyone else, so the row checked is the row the caller
 * then deletes.
 */
static bool
row_is_message(Relation rel, Buffer buffer, ItemPointer tid, int64 msg_id)
{
	Page		page;
	OffsetNumber offnum = ItemPointerGetOffsetNumber(tid);
	bool		same = false;

	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buffer);
	if (offnum >= FirstOffsetNumber && offnum <= PageGetMaxOffsetNumber(page))
	{
		ItemId		lp = PageGetItemId(page, offnum);

		if (ItemIdIsNormal(lp))
		{
			HeapTupleData tuple;
			bool		isnull;
			Datum		value;

			tuple.t_data = (HeapTupleHeader) PageGetItem(page, lp);
			tuple.t_len = ItemIdGetLength(lp);
			tuple.t_tableOid = RelationGetRelid(rel);
			tuple.t_self = *tid;
			value = heap_getattr(&tuple, Anum_q_msg_id, RelationGetDescr(rel), &isnull);
			same = !isnull && DatumGetInt64(value) == msg_id &&
				HeapTupleSatisfiesVisibility(&tuple, SnapshotSelf, buffer);
		}
	}
	LockBuffer(buffer, BUFFER_LOCK_UNLOCK);
	return same;
}

/*
 * Delete the row of message "msg_id" at "tid", directly through the table
 * AM.  Returns false if the message is already gone.  No MVCC snapshot is
 * needed: the caller holds the message's lease, so nothing but a purge or
 * retention can have touched the row, and table_tuple_delete reports a
 * row deleted meanwhile (waiting for the deleter if it is still running).
 */
bool
qtable_delete(Relation rel, ItemPointer tid, int64 msg_id)
{
	Buffer		buffer;
	TM_Result	result;
	TM_FailureData tmfd;

	buffer = ReadBuffer(rel, ItemPointerGetBlockNumber(tid));
	if (!row_is_message(rel, buffer, tid, msg_id))
	{
		ReleaseBuffer(buffer);
		return false;
	}
	result = table_tuple_delete(rel, tid, GetCurrentCommandId(true),
								InvalidSnapshot, InvalidSnapshot, true,
								&tmfd, false);
	ReleaseBuffer(buffer);
	switch (result)
	{
		case TM_Ok:
			return true;
		case TM_SelfModified:
		case TM_Updated:
		case TM_Deleted:
			/* deleted meanwhile, by this transaction or by a purge */
			return false;
		default:
			elog(ERROR, "unexpected table_tuple_delete status: %u", result);
	}
	return false;				/* keep compiler quiet */
}

static SPIPlanPtr
update_plan(QueueInfo *qi)
{
	if (qi->update_plan == NULL)
	{
		Oid			argtypes[4] = {TIDOID, INT8OID, INT4OID, TIMESTAMPTZOID};
		SPIPlanPtr	plan;

		plan = SPI_prepare(psprintf("UPDATE pgmsg.%s SET receive_count = $3,"
									" first_received_at = COALESCE(first_received_at, $4)"
									" WHERE ctid OPERATOR(pg_catalog.=) $1"
									"   AND msg_id OPERATOR(pg_catalog.=) $2"
									" RETURNING ctid",
									quote_identifier(pgmsg_table_name(qi->name))),
						   4, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		qi->update_plan = plan;
	}
	return (SPIPlanPtr) qi->update_plan;
}

/*
 * Write a redelivered message's receive count, and its first receive time
 * if the row has none, to its row at *tid: a HOT update of unindexed
 * columns.  Returns false if this transaction's snapshot does not see the
 * row; otherwise *tid becomes the new row version's.  Caller is connected
 * to SPI.
 */
bool
qtable_set_receive_count(QueueInfo *qi, ItemPointer tid, int64 msg_id,
						 int32 receive_count, TimestampTz first_received_at)
{
	Datum		args[4];
	int			ret;
	bool		isnull;

	args[0] = PointerGetDatum(tid);
	args[1] = Int64GetDatum(msg_id);
	args[2] = Int32GetDatum(receive_count);
	args[3] = TimestampTzGetDatum(first_received_at);
	ret = SPI_execute_plan(update_plan(qi), args, NULL, false, 1);
	if (ret != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not update queue \"%s\": %s", qi->name,
			 SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return false;
	*tid = *(ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc, 1, &isnull));
	return true;
}

/*
 * Delete at most "limit" messages of queue table "table" whose sent_at is
 * before "cutoff", and return their ids (*ndeleted of them).  Ordinary
 * messages have sent_at <= visible_at <= sent_at + 15 minutes, so an index
 * range on visible_at finds them; messages moved to a dead-letter queue
 * keep their original sent_at but have the time of the move as visible_at,
 * so "moved" looks for them with no such bound.  Rows locked by a client
 * transaction (a receive recording a redelivery, a delete, a move) are
 * skipped and left for a later sweep, so retention never waits for a
 * client.  Caller is connected to SPI.
 */
int64 *
qtable_delete_expired(const char *table, TimestampTz cutoff, bool moved,
					  int limit, uint64 *ndeleted)
{
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID};
	Datum		args[3];
	const char *qt = quote_identifier(table);
	char	   *sql;
	int64	   *ids;

	args[0] = TimestampTzGetDatum(cutoff);
	args[1] = TimestampTzGetDatum(cutoff + PGMSG_MAX_DELAY);
	args[2] = Int32GetDatum(limit);
	if (!moved)
		sql = psprintf("DELETE FROM pgmsg.%s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					   "SELECT ctid FROM pgmsg.%s"
					   " WHERE visible_at OPERATOR(pg_catalog.<) $2"
					   "   AND sent_at OPERATOR(pg_catalog.<) $1"
					   " LIMIT $3 FOR UPDATE SKIP LOCKED))", qt, qt);
	else
		sql = psprintf("DELETE FROM pgmsg.%s WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					   "SELECT ctid FROM pgmsg.%s"
					   " WHERE source_queue IS NOT NULL"
					   "   AND visible_at OPERATOR(pg_catalog.>=) $2"
					   "   AND sent_at OPERATOR(pg_catalog.<) $1"
					   " LIMIT $3 FOR UPDATE SKIP LOCKED))", qt, qt);
	sql = psprintf("%s RETURNING msg_id", sql);
	if (SPI_execute_with_args(sql, 3, argtypes, args, NULL, false, 0) != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "could not delete expired messages from \"%s\"", table);

	ids = palloc(sizeof(int64) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
	}
	*ndeleted = SPI_processed;
	return ids;
}
