/*-------------------------------------------------------------------------
 *
 * ack.c
 *		delete and change_visibility: what a receipt lets its holder do.
 *
 * A receipt is honoured only if its epoch is the server's and its nonce is
 * that of the message's current lease; otherwise it is stale (a later
 * receive has taken the message, the message is gone, or the server has
 * restarted) and the call returns false having changed nothing.
 *
 * delete marks the lease DELETING, removing it from the redelivery heap so
 * no receive can take the message, and deletes the row by the TID kept in
 * the lease.  Commit drops the lease; abort makes it held again (xact.c).
 * Receive, business writes and delete in one transaction therefore process
 * a message exactly once.  change_visibility sets a new expiry at commit,
 * or at once for a lease taken by the same transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "pgmsg.h"

PG_FUNCTION_INFO_V1(pgmsg_delete);
PG_FUNCTION_INFO_V1(pgmsg_delete_batch);
PG_FUNCTION_INFO_V1(pgmsg_change_visibility);
PG_FUNCTION_INFO_V1(pgmsg_change_visibility_batch);

static SPIPlanPtr
delete_plan(QueueInfo *qi)
{
	if (qi->delete_plan == NULL)
	{
		Oid			argtypes[2] = {TIDOID, INT8OID};
		SPIPlanPtr	plan;

		plan = SPI_prepare(psprintf("DELETE FROM pgmsg.%s"
									" WHERE ctid OPERATOR(pg_catalog.=) $1"
									"   AND msg_id OPERATOR(pg_catalog.=) $2",
									quote_identifier(pgmsg_table_name(qi->name))),
						   2, argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		qi->delete_plan = plan;
	}
	return (SPIPlanPtr) qi->delete_plan;
}

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
 * Delete the message a receipt names.  Caller is connected to SPI as the
 * extension owner.
 */
static bool
delete_one(QueueInfo *qi, QueueShared *qs, text *receipt)
{
	LeaseKey	key;
	uint64		nonce;
	Lease	   *lease;
	ItemPointerData tid;
	Datum		args[2];
	int			ret;

	if (!receipt_current(qi, receipt, &key, &nonce))
		return false;

	xact_reserve(1);
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease = lease_lookup(&key);
	if (lease == NULL || lease->nonce != nonce || lease->state == LEASE_DELETING)
	{
		LWLockRelease(qs->lock);
		return false;
	}
	xact_track_delete(qs, &key, nonce, lease->state);
	if (lease->state == LEASE_HELD)
		pairingheap_remove(&qs->redelivery, &lease->node);
	lease->state = LEASE_DELETING;
	tid = lease->tid;
	LWLockRelease(qs->lock);

	args[0] = PointerGetDatum(&tid);
	args[1] = Int64GetDatum(key.msg_id);
	ret = SPI_execute_plan(delete_plan(qi), args, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not delete from queue \"%s\": %s", qi->name,
			 SPI_result_code_string(ret));
	/* zero rows: the message was purged meanwhile; commit drops the lease */
	return SPI_processed == 1;
}

static QueueInfo *
ack_setup(FunctionCallInfo fcinfo, QueueShared **qs)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	QueueInfo  *qi = pgmsg_queue_lookup(name, false);

	pgmsg_check_privilege(qi, PGMSG_PRIV_RECEIVE);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("receipt must not be null")));
	*qs = pgmsg_queue_slot(qi);
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
	QueueInfo  *qi = ack_setup(fcinfo, &qs);
	Oid			save_userid;
	int			save_sec;
	bool		result;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = delete_one(qi, qs, PG_GETARG_TEXT_PP(1));
	SPI_finish();
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
	QueueInfo  *qi = ack_setup(fcinfo, &qs);
	Datum	   *elems;
	int			nelems;
	Oid			save_userid;
	int			save_sec;
	int64		deleted = 0;

	receipt_array(fcinfo, &elems, &nelems);
	/* reject malformed receipts before deleting anything */
	for (int i = 0; i < nelems; i++)
	{
		Receipt		r;

		receipt_decode(DatumGetTextPP(elems[i]), &r);
	}
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < nelems; i++)
		if (delete_one(qi, qs, DatumGetTextPP(elems[i])))
			deleted++;
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	PG_RETURN_INT64(deleted);
}

static bool
change_one(QueueInfo *qi, QueueShared *qs, text *receipt, int64 timeout)
{
	LeaseKey	key;
	uint64		nonce;
	Lease	   *lease;
	bool		result = true;
	TimestampTz expires_at = GetCurrentTimestamp() + timeout;

	if (!receipt_current(qi, receipt, &key, &nonce))
		return false;

	xact_reserve(1);
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease = lease_lookup(&key);
	if (lease == NULL || lease->nonce != nonce || lease->state == LEASE_DELETING)
		result = false;
	else if (lease->state == LEASE_RECEIVING)
		lease->expires_at = expires_at; /* taken by this very transaction */
	else
		xact_track_visibility(qs, &key, nonce, expires_at);
	LWLockRelease(qs->lock);
	return result;
}

/*
 * pgmsg.change_visibility(queue, receipt, visibility_timeout)
 */
Datum
pgmsg_change_visibility(PG_FUNCTION_ARGS)
{
	QueueShared *qs;
	QueueInfo  *qi = ack_setup(fcinfo, &qs);
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
	QueueShared *qs;
	QueueInfo  *qi = ack_setup(fcinfo, &qs);
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
