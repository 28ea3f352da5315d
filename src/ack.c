/*-------------------------------------------------------------------------
 *
 * ack.c
 *		delete and change_visibility: what a receipt lets its holder do.
 *
 * A receipt is honoured only if its epoch is the server's and its nonce is
 * that of the message's current lease; otherwise it is stale (a later
 * receive has taken the message, the message is gone, or the server has
 * restarted) and the call returns false having changed nothing.  On a FIFO
 * queue a receipt is also stale once its visibility timeout has passed
 * (lease_fifo_expired): its group may have been handed out again from an
 * earlier message.  That is judged under the queue lock, with the time read
 * there, so a receive that takes the group and a late delete are ordered by
 * the lock.
 *
 * delete marks the lease DELETING, removing it from the redelivery heap so
 * no receive can take the message, and deletes the row by the TID kept in
 * the lease.  Commit drops the lease; abort makes it held again (xact.c).
 * Receive, business writes and delete in one transaction therefore process
 * a message exactly once.  The WAL records a delete writes are counted
 * (xact_note_ack_wal): a transaction that wrote nothing else need not wait
 * for its flush (xact.c).  change_visibility sets a new expiry at commit,
 * or at once for a lease taken by the same transaction, in which case a
 * rollback (of the transaction or to a savepoint) restores the expiry it
 * replaced.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/instrument.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ack.h"
#include "acl.h"
#include "catalog.h"
#include "lease.h"
#include "pgmsg.h"
#include "qtable.h"
#include "receipt.h"
#include "send.h"
#include "shmem.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(pgmsg_delete);
PG_FUNCTION_INFO_V1(pgmsg_delete_batch);
PG_FUNCTION_INFO_V1(pgmsg_change_visibility);
PG_FUNCTION_INFO_V1(pgmsg_change_visibility_batch);

/*
 * Parse a receipt and tell whether it can still belong to this queue's
 * current leases.
 */
static bool
receipt_current(QueueInfo *qi, text *receipt, LeaseKey *key, uint64 *nonce)
{
	Receipt		r;

	receipt_decode(receipt, &r);
	if (r.queue_id != qi->queue_id || r.epoch != pgmsg_shared->epoch)
		return false;
	key->dbid = MyDatabaseId;
	key->queue_id = r.queue_id;
	key->msg_id = r.msg_id;
	*nonce = r.nonce;
	return true;
}

/*
 * Delete a leased message if "nonce" is still its lease's: mark the lease
 * DELETING (out of the heap, so no receive takes it), record that for
 * commit or abort, and delete the row.  Caller has the table open.  Used by
 * delete and by moves to a dead-letter queue or out of one.
 */
bool
pgmsg_delete_leased(QueueShared *qs, Relation rel, const LeaseKey *key,
					uint64 nonce)
{
	ItemPointerData tid;
	LeaseState	prev_state;
	bool		begun;

	xact_reserve(1);
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease_check_table(qs, rel);
	begun = lease_begin_delete(qs, key, nonce, GetCurrentTimestamp(),
							   &prev_state, &tid);
	if (begun)
		xact_track_delete(qs, key, nonce, prev_state);
	LWLockRelease(qs->lock);
	if (!begun)
		return false;

	/* if the row is gone already, commit still drops the lease */
	return qtable_delete(rel, &tid, key->msg_id);
}

/*
 * Retire the held lease of a message whose row this transaction deleted
 * without a receipt (retention, worker.c): as for a delete, the lease
 * leaves the heap, commit drops it and abort makes it held again.  A lease
 * that a transaction in progress is taking or deleting is left to it: its
 * fetch or delete finds the row gone.
 */
void
pgmsg_retire_lease(QueueShared *qs, const LeaseKey *key)
{
	uint64		nonce;

	xact_reserve(1);
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	if (lease_begin_retire(qs, key, &nonce))
		xact_track_delete(qs, key, nonce, LEASE_HELD);
	LWLockRelease(qs->lock);
}

static bool
delete_one(QueueInfo *qi, QueueShared *qs, Relation rel, text *receipt)
{
	LeaseKey	key;
	uint64		nonce;

	if (!receipt_current(qi, receipt, &key, &nonce))
		return false;
	return pgmsg_delete_leased(qs, rel, &key, nonce);
}

/*
 * Look up and check the queue of a delete or change_visibility call, whose
 * error during recovery is "recovery_message" (see pgmsg_refuse_in_recovery),
 * and whose second
 * argument, "what" ("receipt" or "receipts"), must not be null.
 */
static QueueInfo *
ack_setup(FunctionCallInfo fcinfo, const char *recovery_message, const char *what)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	QueueInfo  *qi;

	pgmsg_refuse_in_recovery(recovery_message, name);
	qi = pgmsg_queue_lookup(name, false);

	pgmsg_check_privilege(qi, PGMSG_PRIV_RECEIVE);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return qi;
}

static void
receipt_array(FunctionCallInfo fcinfo, Datum **elems, int *nelems)
{
	bool	   *nulls;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), TEXTOID, -1, false, TYPALIGN_INT,
					  elems, &nulls, nelems);
	for (int i = 0; i < *nelems; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("receipts must not contain null")));
}

/*
 * pgmsg.delete(queue, receipt) returns false for a stale receipt.
 */
Datum
pgmsg_delete(PG_FUNCTION_ARGS)
{
	QueueShared *qs;
	QueueInfo  *qi = ack_setup(fcinfo, gettext_noop("cannot delete from queue \"%s\" during recovery"), "receipt");
	Oid			save_userid;
	int			save_sec;
	bool		result;
	int64		wal_before;
	Relation	rel;

	pgmsg_become_owner(&save_userid, &save_sec);
	rel = pgmsg_queue_open(qi);
	qs = pgmsg_queue_slot_opened(qi);
	wal_before = pgWalUsage.wal_records;
	result = delete_one(qi, qs, rel, PG_GETARG_TEXT_PP(1));
	xact_note_ack_wal(pgWalUsage.wal_records - wal_before);
	table_close(rel, NoLock);
	pgmsg_restore_user(save_userid, save_sec);
	PG_RETURN_BOOL(result);
}

/*
 * pgmsg.delete(queue, receipts[]) returns how many were deleted.
 */
Datum
pgmsg_delete_batch(PG_FUNCTION_ARGS)
{
	QueueShared *qs;
	QueueInfo  *qi = ack_setup(fcinfo, gettext_noop("cannot delete from queue \"%s\" during recovery"), "receipts");
	Datum	   *elems;
	int			nelems;
	Oid			save_userid;
	int			save_sec;
	int64		deleted = 0;
	int64		wal_before;
	Relation	rel;

	receipt_array(fcinfo, &elems, &nelems);
	/* reject malformed receipts before deleting anything */
	for (int i = 0; i < nelems; i++)
	{
		Receipt		r;

		receipt_decode(DatumGetTextPP(elems[i]), &r);
	}
	pgmsg_become_owner(&save_userid, &save_sec);
	rel = pgmsg_queue_open(qi);
	qs = pgmsg_queue_slot_opened(qi);
	wal_before = pgWalUsage.wal_records;
	for (int i = 0; i < nelems; i++)
		if (delete_one(qi, qs, rel, DatumGetTextPP(elems[i])))
			deleted++;
	xact_note_ack_wal(pgWalUsage.wal_records - wal_before);
	table_close(rel, NoLock);
	pgmsg_restore_user(save_userid, save_sec);
	PG_RETURN_INT64(deleted);
}

static bool
change_one(QueueInfo *qi, QueueShared *qs, text *receipt, int64 timeout)
{
	LeaseKey	key;
	uint64		nonce;
	LeaseState	state;
	TimestampTz prev_expires_at;
	bool		result = true;
	TimestampTz expires_at = GetCurrentTimestamp() + timeout;

	if (!receipt_current(qi, receipt, &key, &nonce))
		return false;

	xact_reserve(1);
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	/* a lease taken by this very transaction changes at once */
	if (lease_set_expiry(qs, &key, nonce, expires_at, GetCurrentTimestamp(),
						 &state, &prev_expires_at))
		xact_track_visibility(qs, &key, nonce, expires_at, state,
							  prev_expires_at);
	else
		result = false;
	LWLockRelease(qs->lock);
	return result;
}

/*
 * pgmsg.change_visibility(queue, receipt, visibility_timeout)
 */
Datum
pgmsg_change_visibility(PG_FUNCTION_ARGS)
{
	QueueInfo  *qi = ack_setup(fcinfo, gettext_noop("cannot change visibility in queue \"%s\" during recovery"), "receipt");
	QueueShared *qs = pgmsg_queue_slot(qi);
	int64		timeout = pgmsg_interval_arg(fcinfo, 2, "visibility_timeout",
											 0, PGMSG_MAX_VISIBILITY, -1);

	PG_RETURN_BOOL(change_one(qi, qs, PG_GETARG_TEXT_PP(1), timeout));
}

/*
 * pgmsg.change_visibility(queue, receipts[], visibility_timeout)
 */
Datum
pgmsg_change_visibility_batch(PG_FUNCTION_ARGS)
{
	QueueInfo  *qi = ack_setup(fcinfo, gettext_noop("cannot change visibility in queue \"%s\" during recovery"), "receipts");
	QueueShared *qs = pgmsg_queue_slot(qi);
	int64		timeout = pgmsg_interval_arg(fcinfo, 2, "visibility_timeout",
											 0, PGMSG_MAX_VISIBILITY, -1);
	Datum	   *elems;
	int			nelems;
	int64		changed = 0;

	receipt_array(fcinfo, &elems, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		Receipt		r;

		receipt_decode(DatumGetTextPP(elems[i]), &r);
	}
	for (int i = 0; i < nelems; i++)
		if (change_one(qi, qs, DatumGetTextPP(elems[i]), timeout))
			changed++;
	PG_RETURN_INT64(changed);
}
