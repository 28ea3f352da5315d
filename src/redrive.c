/*-------------------------------------------------------------------------
 *
 * redrive.c
 *		redrive: moving messages out of a dead-letter queue.
 *
 * A redrive receives from the dead-letter queue with the ordinary lease
 * machinery (receive.c), so it never takes a message that is in flight and
 * never races a consumer of the dead-letter queue; then, for each message,
 * it sends a new message (new id, receive count 0) to the destination, or
 * to the queue the message came from, and deletes it under its lease
 * (ack.c).  All of it happens in the caller's transaction.  A message whose
 * source queue no longer exists, and which has no destination, is released
 * again and stays.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "pgmsg.h"

PG_FUNCTION_INFO_V1(pgmsg_redrive);

#define REDRIVE_BATCH 1000

/*
 * Release a lease this transaction took, so the message stays available.
 */
static void
release_taken(QueueShared *qs, int32 queue_id, Taken *t)
{
	LeaseKey	key;
	Lease	   *lease;

	key.dbid = MyDatabaseId;
	key.queue_id = queue_id;
	key.msg_id = t->msg_id;
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease = lease_lookup(&key);
	if (lease != NULL && lease->nonce == t->nonce && lease->state == LEASE_RECEIVING)
		lease->expires_at = GetCurrentTimestamp();
	LWLockRelease(qs->lock);
}

/*
 * Move up to max_messages from dead-letter queue "qi" to "dest" (NULL: each
 * message's source queue).  Returns how many moved.
 */
int64
pgmsg_redrive_batch(QueueInfo *qi, QueueInfo *dest, int64 max_messages)
{
	QueueShared *qs = pgmsg_queue_slot(qi);
	Relation	rel;
	Relation	index;
	Taken	   *taken;
	uint64	   *nonces;
	int64		moved = 0;
	int64		orphaned = 0;
	Oid			save_userid;
	int			save_sec;

	pgmsg_become_owner(&save_userid, &save_sec);
	rel = table_open(qi->relid, RowExclusiveLock);
	index = index_open(qi->indexid, AccessShareLock);
	taken = palloc(sizeof(Taken) * REDRIVE_BATCH);
	nonces = palloc(sizeof(uint64) * REDRIVE_BATCH);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	while (moved < max_messages)
	{
		int			batch = (int) Min(REDRIVE_BATCH, max_messages - moved);
		TimestampTz next_wakeup;
		Snapshot	snapshot;
		TupleTableSlot *slot;
		int			n;

		xact_reserve(batch);
		pgmsg_fill_nonces(nonces, batch);
		n = pgmsg_take_leases(qi, qs, rel, index, batch, 30 * USECS_PER_SEC,
							  taken, nonces, &next_wakeup);
		if (n == 0)
			break;

		snapshot = RegisterSnapshot(GetLatestSnapshot());
		slot = table_slot_create(rel, NULL);
		for (int i = 0; i < n; i++)
		{
			Taken	   *t = &taken[i];
			QueueInfo  *target = dest;
			bool		isnull;
			bool		attrs_null;
			bool		group_null;
			Datum		attrs;
			Datum		group;
			Datum		source;
			LeaseKey	key;

			if (!pgmsg_fetch_taken(qi, qs, rel, snapshot, t, slot))
				continue;
			slot_getallattrs(slot);
			if (target == NULL)
			{
				source = slot_getattr(slot, Anum_q_source_queue, &isnull);
				if (!isnull)
					target = pgmsg_queue_lookup(TextDatumGetCString(source), true);
				if (target == NULL)
				{
					release_taken(qs, qi->queue_id, t);
					orphaned++;
					continue;
				}
				pgmsg_restore_user(save_userid, save_sec);
				pgmsg_check_privilege(target, PGMSG_PRIV_SEND);
				pgmsg_become_owner(&save_userid, &save_sec);
			}

			attrs = slot_getattr(slot, Anum_q_attributes, &attrs_null);
			group = slot_getattr(slot, Anum_q_group_id, &group_null);
			if (target->fifo && group_null)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cannot redrive messages of standard queue \"%s\" into FIFO queue \"%s\"",
								qi->name, target->name)));
			pgmsg_send_moved(target, pgmsg_queue_slot(target),
							 DatumGetJsonbP(slot_getattr(slot, Anum_q_body, &isnull)),
							 attrs_null ? NULL : DatumGetJsonbP(attrs), 0, 0, NULL,
							 target->fifo ? DatumGetTextPP(group) : NULL);

			key.dbid = MyDatabaseId;
			key.queue_id = qi->queue_id;
			key.msg_id = t->msg_id;
			if (pgmsg_delete_leased(qs, rel, &key, t->nonce))
				moved++;
		}
		ExecDropSingleTupleTableSlot(slot);
		UnregisterSnapshot(snapshot);
		if (n < batch)
			break;
	}

	SPI_finish();
	index_close(index, NoLock);
	table_close(rel, NoLock);
	pgmsg_restore_user(save_userid, save_sec);

	if (orphaned > 0)
		ereport(NOTICE,
				(errmsg("%lld messages stay in queue \"%s\" because their source queue no longer exists",
						(long long) orphaned, qi->name),
				 errhint("Name a destination to move them.")));
	return moved;
}

/*
 * pgmsg.redrive(dead_letter_queue, destination, max_messages) returns how
 * many messages it moved, in the caller's transaction.
 */
Datum
pgmsg_redrive(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "dead_letter_queue");
	QueueInfo  *qi;
	QueueInfo  *dest = NULL;
	int64		max_messages = PG_INT64_MAX;

	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_RECEIVE);
	if (!PG_ARGISNULL(1))
	{
		char	   *dest_name = text_to_cstring(PG_GETARG_TEXT_PP(1));

		dest = pgmsg_queue_lookup(dest_name, false);
		if (dest->queue_id == qi->queue_id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot redrive queue \"%s\" into itself", name)));
		pgmsg_check_privilege(dest, PGMSG_PRIV_SEND);
	}
	if (!PG_ARGISNULL(2))
	{
		max_messages = PG_GETARG_INT64(2);
		if (max_messages < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_messages %lld is out of range", (long long) max_messages),
					 errdetail("It must be at least 1, or NULL for all.")));
	}
	PG_RETURN_INT64(pgmsg_redrive_batch(qi, dest, max_messages));
}
