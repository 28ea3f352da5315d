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
 * (ack.c).  All of it happens in the caller's transaction.  Without a
 * destination the queue must be some queue's dead-letter queue; a message
 * whose source queue no longer exists, or which was sent to the queue
 * rather than dead-lettered, is then released again and stays.
 *
 * start_redrive checks the same privileges as redrive and records a task
 * in pgmsg.redrive_task instead; the database's background worker
 * (worker.c) calls pgmsg_redrive_task_step, which moves one bounded batch
 * of a running task per transaction as the role that started the task,
 * checking its privileges again each time, so a large
 * dead-letter queue is drained while producers and consumers keep running
 * and no transaction stays open long.  A batch that fails is rolled back
 * and its error recorded in the task's last_error by the worker
 * (pgmsg_redrive_task_failed): an error retrying cannot cure (a bad
 * argument, say, or a missing object or privilege) fails the task, any
 * other leaves it running, to be tried again after a pause.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "ack.h"
#include "acl.h"
#include "catalog.h"
#include "lease.h"
#include "pgmsg.h"
#include "qtable.h"
#include "receive.h"
#include "redrive.h"
#include "send.h"
#include "shmem.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(pgmsg_redrive);
PG_FUNCTION_INFO_V1(pgmsg_start_redrive);

#define REDRIVE_BATCH 1000
#define REDRIVE_TASK_BATCH 1000

/*
 * Release a lease this transaction took, so the message stays available.
 */
static void
release_taken(QueueShared *qs, int32 queue_id, Taken *t)
{
	LeaseKey	key;

	key.dbid = MyDatabaseId;
	key.queue_id = queue_id;
	key.msg_id = t->msg_id;
	LWLockAcquire(qs->lock, LW_EXCLUSIVE);
	lease_release_taken(qs, &key, t->nonce, GetCurrentTimestamp());
	LWLockRelease(qs->lock);
}

/*
 * The queue a dead letter came from, or NULL if it no longer exists.  The
 * source is recorded by name and id: a queue dropped and created again
 * under the same name is another queue, and never receives the dead
 * letters of the old one.  Dead letters from before version 1.1 have only
 * the name.
 */
static QueueInfo *
source_queue(TupleTableSlot *slot)
{
	bool		isnull;
	Datum		name;
	Datum		id;
	QueueInfo  *qi;

	name = slot_getattr(slot, Anum_q_source_queue, &isnull);
	if (isnull)
		return NULL;
	qi = pgmsg_queue_lookup(TextDatumGetCString(name), true);
	if (qi == NULL || slot->tts_tupleDescriptor->natts < Anum_q_source_queue_id)
		return qi;
	id = slot_getattr(slot, Anum_q_source_queue_id, &isnull);
	if (!isnull && qi->queue_id != DatumGetInt32(id))
		return NULL;
	return qi;
}

/*
 * Move up to max_messages from dead-letter queue "qi" to "dest" (NULL: each
 * message's source queue).  Returns how many moved.
 */
static int64
pgmsg_redrive_batch(QueueInfo *qi, QueueInfo *dest, int64 max_messages)
{
	QueueShared *qs = pgmsg_queue_slot(qi);
	Relation	rel;
	Relation	index;
	Taken	   *taken;
	uint64	   *nonces;
	int64		moved = 0;
	int64		orphaned = 0;	/* their source queue was dropped */
	int64		unsourced = 0;	/* sent to this queue, not dead-lettered */
	Oid			save_userid;
	int			save_sec;
	MemoryContext batch_cxt;

	pgmsg_become_owner(&save_userid, &save_sec);
	rel = pgmsg_queue_open(qi);
	index = index_open(qi->indexid, AccessShareLock);
	taken = palloc(sizeof(Taken) * REDRIVE_BATCH);
	nonces = palloc(sizeof(uint64) * REDRIVE_BATCH);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* what a batch allocates (bodies, source names) goes with it */
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "pgmsg redrive batch",
									  ALLOCSET_DEFAULT_SIZES);

	while (moved < max_messages)
	{
		int			batch = (int) Min(REDRIVE_BATCH, max_messages - moved);
		TimestampTz next_wakeup;
		Snapshot	snapshot;
		TupleTableSlot *slot;
		MemoryContext old_cxt;
		int			n;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(batch_cxt);
		old_cxt = MemoryContextSwitchTo(batch_cxt);
		xact_reserve(batch);
		pgmsg_fill_nonces(nonces, batch);
		n = pgmsg_take_leases(qi, qs, rel, index, batch, 30 * USECS_PER_SEC,
							  taken, nonces, &next_wakeup, NULL);
		if (n == 0)
		{
			MemoryContextSwitchTo(old_cxt);
			break;
		}

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
			LeaseKey	key;

			/* a cancel rolls back the whole redrive: nothing half-moved */
			CHECK_FOR_INTERRUPTS();
			if (!pgmsg_fetch_taken(qi, qs, rel, snapshot, t, slot))
				continue;
			slot_getallattrs(slot);
			if (target == NULL)
			{
				target = source_queue(slot);
				if (target == NULL)
				{
					release_taken(qs, qi->queue_id, t);
					(void) slot_getattr(slot, Anum_q_source_queue, &isnull);
					if (isnull)
						unsourced++;
					else
						orphaned++;
					continue;
				}
				pgmsg_restore_user(save_userid, save_sec);
				pgmsg_check_privilege(target, PGMSG_PRIV_SEND);
				pgmsg_become_owner(&save_userid, &save_sec);
			}

			group = slot_getattr(slot, Anum_q_group_id, &group_null);
			if (target->fifo && group_null)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cannot redrive messages of standard queue \"%s\" into FIFO queue \"%s\"",
								qi->name, target->name)));

			/* delete first: a concurrent purge may have taken the message */
			key.dbid = MyDatabaseId;
			key.queue_id = qi->queue_id;
			key.msg_id = t->msg_id;
			if (!pgmsg_delete_leased(qs, rel, &key, t->nonce))
				continue;
			attrs = slot_getattr(slot, Anum_q_attributes, &attrs_null);
			pgmsg_send_moved(target, pgmsg_queue_slot(target),
							 DatumGetJsonbP(slot_getattr(slot, Anum_q_body, &isnull)),
							 attrs_null ? NULL : DatumGetJsonbP(attrs), 0, 0, NULL, 0,
							 target->fifo ? DatumGetTextPP(group) : NULL);
			moved++;
		}
		ExecDropSingleTupleTableSlot(slot);
		UnregisterSnapshot(snapshot);
		MemoryContextSwitchTo(old_cxt);
		if (n < batch)
			break;
	}

	MemoryContextDelete(batch_cxt);
	SPI_finish();
	index_close(index, NoLock);
	table_close(rel, NoLock);
	pgmsg_restore_user(save_userid, save_sec);

	if (orphaned > 0)
		ereport(NOTICE,
				(errmsg("%lld messages stay in queue \"%s\" because their source queue no longer exists",
						(long long) orphaned, qi->name),
				 errhint("Name a destination to move them.")));
	if (unsourced > 0)
		ereport(NOTICE,
				(errmsg("%lld messages stay in queue \"%s\" because they were sent to it, not dead-lettered",
						(long long) unsourced, qi->name),
				 errhint("Name a destination to move them.")));
	return moved;
}

/*
 * Is some queue's dead-letter queue "qi"?  Read with a fresh snapshot, as
 * the extension owner.
 */
static bool
is_dead_letter_queue(QueueInfo *qi)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	Oid			save_userid;
	int			save_sec;
	bool		isnull;
	bool		result;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int32GetDatum(qi->queue_id);
	pgmsg_spi_exec("SELECT EXISTS (SELECT FROM pgmsg.queue_meta"
				   " WHERE dead_letter_queue_id OPERATOR(pg_catalog.=) $1)",
				   1, argtypes, args, SPI_OK_SELECT);
	result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	return result;
}

/*
 * Check redrive's arguments and privileges; returns the dead-letter queue
 * and sets *dest (NULL: each message's source queue) and *max_messages.
 */
static QueueInfo *
redrive_args(FunctionCallInfo fcinfo, QueueInfo **dest, int64 *max_messages)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "dead_letter_queue");
	QueueInfo  *qi;

	pgmsg_refuse_in_recovery(gettext_noop("cannot redrive queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_RECEIVE);
	*dest = NULL;
	if (!PG_ARGISNULL(1))
	{
		char	   *dest_name = text_to_cstring(PG_GETARG_TEXT_PP(1));

		*dest = pgmsg_queue_lookup(dest_name, false);
		if ((*dest)->queue_id == qi->queue_id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot redrive queue \"%s\" into itself", name)));
		pgmsg_check_privilege(*dest, PGMSG_PRIV_SEND);
	}
	else if (!is_dead_letter_queue(qi))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("queue \"%s\" is not a dead-letter queue", name),
				 errdetail("No queue names it as its dead_letter_queue, so its messages have no source queue to return to."),
				 errhint("Name a destination to move its messages to another queue.")));
	*max_messages = PG_INT64_MAX;
	if (!PG_ARGISNULL(2))
	{
		*max_messages = PG_GETARG_INT64(2);
		if (*max_messages < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_messages %lld is out of range", (long long) *max_messages),
					 errdetail("It must be at least 1, or NULL for all.")));
	}
	return qi;
}

/*
 * pgmsg.redrive(dead_letter_queue, destination, max_messages) returns how
 * many messages it moved, in the caller's transaction.
 */
Datum
pgmsg_redrive(PG_FUNCTION_ARGS)
{
	QueueInfo  *dest;
	int64		max_messages;
	QueueInfo  *qi = redrive_args(fcinfo, &dest, &max_messages);

	PG_RETURN_INT64(pgmsg_redrive_batch(qi, dest, max_messages));
}

/*
 * Raise an error unless the current user may send to every queue that
 * messages now in dead-letter queue "qi" would go back to.  redrive checks
 * this as it moves each message; start_redrive checks it up front, so that
 * a role is refused at once what it could not do itself.
 */
static void
check_source_privileges(QueueInfo *qi)
{
	Oid			save_userid;
	int			save_sec;
	List	   *sources = NIL;
	ListCell   *lc;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	pgmsg_spi_exec(psprintf("SELECT DISTINCT source_queue, %s FROM pgmsg.%s"
							" WHERE source_queue IS NOT NULL",
							get_attnum(qi->relid, "source_queue_id") != InvalidAttrNumber ?
							"source_queue_id" : "NULL::integer",
							quote_identifier(pgmsg_table_name(qi->name))),
				   0, NULL, NULL, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		id = SPI_getbinval(tup, tupdesc, 2, &isnull);
		QueueInfo  *source;

		source = pgmsg_queue_lookup(SPI_getvalue(tup, tupdesc, 1), true);
		if (source != NULL && (isnull || source->queue_id == DatumGetInt32(id)))
			sources = lappend(sources, source);
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	foreach(lc, sources)
		pgmsg_check_privilege((QueueInfo *) lfirst(lc), PGMSG_PRIV_SEND);
}

/*
 * pgmsg.start_redrive(dead_letter_queue, destination, max_messages) records
 * a redrive task for the background worker and returns its id.  The
 * worker carries it out with the privileges of the role that started it.
 */
Datum
pgmsg_start_redrive(PG_FUNCTION_ARGS)
{
	QueueInfo  *dest;
	int64		max_messages;
	QueueInfo  *qi = redrive_args(fcinfo, &dest, &max_messages);
	Oid			argtypes[4] = {TEXTOID, TEXTOID, INT8OID, REGROLEOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Oid			save_userid;
	int			save_sec;
	bool		isnull;
	int64		task_id;

	if (dest == NULL)
		check_source_privileges(qi);
	args[0] = CStringGetTextDatum(qi->name);
	if (dest != NULL)
		args[1] = CStringGetTextDatum(dest->name);
	else
		nulls[1] = 'n';
	if (max_messages != PG_INT64_MAX)
		args[2] = Int64GetDatum(max_messages);
	else
		nulls[2] = 'n';
	args[3] = ObjectIdGetDatum(GetUserId());

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO pgmsg.redrive_task"
							  " (dead_letter_queue, destination, max_messages, started_by)"
							  " VALUES ($1, $2, $3, $4) RETURNING task_id",
							  4, argtypes, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record redrive task");
	task_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	xact_track_worker(false);
	PG_RETURN_INT64(task_id);
}

/*
 * Move one batch of the oldest running redrive task, in the current
 * transaction.  Called by the background worker, connected to SPI.
 * Returns false when no task is running; *task_id is the task worked on,
 * or 0.  A task that cannot go on (its queue is gone) is marked failed;
 * other errors propagate, and the worker records them with
 * pgmsg_redrive_task_failed.
 */
bool
pgmsg_redrive_task_step(int64 *task_id_out)
{
	int64		task_id;
	char	   *dlq_name;
	char	   *dest_name;
	int64		max_messages;
	int64		moved;
	int64		batch;
	int64		n;
	bool		isnull;
	bool		finished;
	QueueInfo  *qi;
	QueueInfo  *dest = NULL;
	Oid			started_by;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[3] = {INT8OID, INT8OID, BOOLOID};
	Datum		args[3];
	HeapTuple	tup;
	TupleDesc	tupdesc;

	*task_id_out = 0;
	if (SPI_execute("SELECT task_id, dead_letter_queue, destination, max_messages, moved,"
					"       started_by"
					"  FROM pgmsg.redrive_task WHERE state OPERATOR(pg_catalog.=) 'running'"
					" ORDER BY task_id LIMIT 1 FOR UPDATE SKIP LOCKED", false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read redrive tasks");
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	task_id = DatumGetInt64(SPI_getbinval(tup, tupdesc, 1, &isnull));
	*task_id_out = task_id;
	dlq_name = SPI_getvalue(tup, tupdesc, 2);
	dest_name = SPI_getvalue(tup, tupdesc, 3);
	max_messages = DatumGetInt64(SPI_getbinval(tup, tupdesc, 4, &isnull));
	if (isnull)
		max_messages = PG_INT64_MAX;
	moved = DatumGetInt64(SPI_getbinval(tup, tupdesc, 5, &isnull));
	started_by = DatumGetObjectId(SPI_getbinval(tup, tupdesc, 6, &isnull));

	qi = pgmsg_queue_lookup(dlq_name, true);
	if (dest_name != NULL)
		dest = pgmsg_queue_lookup(dest_name, true);
	if (qi == NULL || (dest_name != NULL && dest == NULL))
	{
		args[0] = Int64GetDatum(task_id);
		if (SPI_execute_with_args("UPDATE pgmsg.redrive_task SET state = 'failed',"
								  " last_error = 'queue no longer exists', finished_at = pg_catalog.now()"
								  " WHERE task_id OPERATOR(pg_catalog.=) $1",
								  1, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not update redrive task");
		return true;
	}

	/*
	 * The batch runs as the role that started the task, with its privileges
	 * checked again now: it may have lost them since, and a message's
	 * source queue is only known as the message is moved.
	 */
	batch = Min(REDRIVE_TASK_BATCH, max_messages - moved);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(started_by, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	pgmsg_check_privilege(qi, PGMSG_PRIV_RECEIVE);
	if (dest != NULL)
		pgmsg_check_privilege(dest, PGMSG_PRIV_SEND);
	n = pgmsg_redrive_batch(qi, dest, batch);
	SetUserIdAndSecContext(save_userid, save_sec);
	finished = n < batch || moved + n >= max_messages;

	args[0] = Int64GetDatum(task_id);
	args[1] = Int64GetDatum(n);
	args[2] = BoolGetDatum(finished);
	if (SPI_execute_with_args("UPDATE pgmsg.redrive_task SET moved = moved OPERATOR(pg_catalog.+) $2,"
							  " state = CASE WHEN $3 THEN 'completed' ELSE state END,"
							  " finished_at = CASE WHEN $3 THEN pg_catalog.now() END"
							  " WHERE task_id OPERATOR(pg_catalog.=) $1",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update redrive task");
	return true;
}

/*
 * Record the error of a failed batch of a redrive task, in a transaction of
 * its own after the batch rolled back.  Errors of SQLSTATE classes 22 (data
 * exception) and 42 (a missing object or privilege) fail the task, since
 * trying again would fail the same way; the task stays running after any
 * other error.  Called by the background worker, connected to SPI.
 */
void
pgmsg_redrive_task_failed(int64 task_id, int sqlerrcode, const char *message)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, BOOLOID};
	Datum		args[3];
	bool		permanent;

	permanent = ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_DATA_EXCEPTION ||
		ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION;
	args[0] = Int64GetDatum(task_id);
	args[1] = CStringGetTextDatum(message);
	args[2] = BoolGetDatum(permanent);
	if (SPI_execute_with_args("UPDATE pgmsg.redrive_task SET last_error = $2,"
							  " state = CASE WHEN $3 THEN 'failed' ELSE state END,"
							  " finished_at = CASE WHEN $3 THEN pg_catalog.now() END"
							  " WHERE task_id OPERATOR(pg_catalog.=) $1"
							  "   AND state OPERATOR(pg_catalog.=) 'running'",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update redrive task");
}

/*
 * Forget dedup ids older than five minutes, at most "limit" per call.
 * Called by the background worker, connected to SPI.  Returns how many.
 */
uint64
pgmsg_dedup_cleanup(int limit)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];

	args[0] = Int32GetDatum(limit);
	if (SPI_execute_with_args("DELETE FROM pgmsg.dedup WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
							  " SELECT ctid FROM pgmsg.dedup"
							  "  WHERE expires_at OPERATOR(pg_catalog.<) pg_catalog.now() LIMIT $1))",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not clean up dedup ids");
	return SPI_processed;
}
