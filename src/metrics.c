/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		queue_receive_counts(): how often the messages in flight have been
 *		received, per queue; push_stats(): how each push subscription's
 *		deliveries are going.  For monitoring.
 *
 * A message that keeps coming back (a "poison" message that crashes its
 * consumer, or one that is never deleted) shows up as a lease with a high
 * receive count long before it reaches a dead-letter queue, or forever on
 * a queue without one.  This file reports, per queue, the largest receive
 * count among the held leases and a small cumulative histogram of them,
 * read from shared memory only: no queue table is scanned, so the cost of
 * a call grows with the number of queues and of leases, never with the
 * number of messages stored.
 *
 * Only HELD leases are counted, the ones whose receiving transaction has
 * committed: they are exactly the members of the queue's redelivery heap,
 * which is walked here.  Leases of transactions still in progress (taking
 * or deleting a message) are in no heap and are left out; that is where a
 * message sits for the length of one transaction, and counting them would
 * mean scanning the whole lease map.
 *
 * Locking: each queue's heap and its leases' fields are read under that
 * queue's LWLock in shared mode (lease.c owns them and changes them only
 * under the lock in exclusive mode), one queue at a time, so no more than
 * one pgmsg lock is held at once and receivers of other queues never wait.
 * The queue slots of this database are listed under the directory lock
 * first and each slot's identity is checked again under its queue lock, so
 * a slot that was released or reused in between is skipped.  Numbers from
 * different queues are therefore not one atomic snapshot, which monitoring
 * does not need.
 *
 * push_stats(): per push subscription, the delivery counters the push
 * worker keeps in pgmsg.push_subscription (push_worker.c), and from the
 * subscription's two queues what is waiting to be delivered, its lag (the
 * age of the oldest message not yet delivered, in flight or not) and what
 * its dead-letter queue holds, read as pgmsg.queues reads them (stats.c).
 * The subscriptions view takes its lag from here.  It reads the catalog
 * with one query, as the extension owner and filtered by the caller's
 * role as the view filters, then each queue as stats.c does, under the
 * locks described there.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "catalog.h"
#include "lease.h"
#include "shmem.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(pgmsg_queue_receive_counts);
PG_FUNCTION_INFO_V1(pgmsg_push_stats);

/*
 * Upper bounds of the histogram's buckets (a last one, +Inf, is implied):
 * first deliveries, a few retries, and the range where the default
 * max_receive_count values of dead-letter queues lie.
 */
static const int32 receive_count_bounds[] = {1, 2, 3, 5, 10};

#define NBOUNDS lengthof(receive_count_bounds)

/* What one queue's held leases add up to. */
typedef struct ReceiveCounts
{
	int64		held;
	int64		sum;
	int32		max;
	int64		le[NBOUNDS];	/* cumulative: receive_count <= bound */
} ReceiveCounts;

static void
count_lease(ReceiveCounts *rc, const Lease *lease)
{
	int32		n = lease->receive_count;

	rc->held++;
	rc->sum += n;
	rc->max = Max(rc->max, n);
	for (int b = 0; b < NBOUNDS; b++)
		if (n <= receive_count_bounds[b])
			rc->le[b]++;
}

/*
 * Add up the held leases of one queue by walking its redelivery heap.  A
 * pairing heap is a tree whose nodes list their children through
 * first_child and next_sibling, so a depth-first walk with an explicit
 * stack visits every node once; the stack never holds more entries than
 * the queue has leases.
 */
static void
count_queue(int32 queue_id, QueueShared *qs, ReceiveCounts *rc)
{
	pairingheap_node **stack = NULL;
	int			depth = 0;

	memset(rc, 0, sizeof(*rc));

	LWLockAcquire(qs->lock, LW_SHARED);
	if (!qs->in_use || qs->dbid != MyDatabaseId || qs->queue_id != queue_id ||
		qs->redelivery.ph_root == NULL)
	{
		LWLockRelease(qs->lock);
		return;
	}

	/*
	 * Allocating under an LWLock is allowed; an out-of-memory error releases
	 * the lock on abort like any other.
	 */
	stack = palloc(sizeof(pairingheap_node *) * (qs->nleases + 1));
	stack[depth++] = qs->redelivery.ph_root;
	while (depth > 0)
	{
		pairingheap_node *node = stack[--depth];

		count_lease(rc, pairingheap_container(Lease, node, node));
		if (node->next_sibling != NULL && depth <= qs->nleases)
			stack[depth++] = node->next_sibling;
		if (node->first_child != NULL && depth <= qs->nleases)
			stack[depth++] = node->first_child;
	}
	LWLockRelease(qs->lock);
	pfree(stack);
}

/*
 * May the current user see this queue's figures?  Superusers and members of
 * pg_monitor see every queue, as they see every backend in
 * pg_stat_activity; other roles see the queues they own or hold any pgmsg
 * privilege on.
 */
static bool
may_see_queue(const char *name, bool monitor)
{
	QueueInfo  *qi;
	Oid			roleid = GetUserId();

	if (monitor)
		return true;
	qi = pgmsg_queue_lookup(name, true);
	if (qi == NULL)
		return false;
	if (has_privs_of_role(roleid, qi->owner))
		return true;
	return pgmsg_load_privileges(qi, roleid) != 0;
}

Datum
pgmsg_queue_receive_counts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			roleid;
	bool		monitor;
	Oid			save_userid;
	int			save_sec;
	int			ret;
	SlotRef    *slots;
	int			nslots;
	SPITupleTable *queues;
	uint64		nqueues;
	int32	   *queue_ids;
	char	  **names;
	Datum		bounds[NBOUNDS];
	ArrayType  *bounds_array;
	MemoryContext cxt = CurrentMemoryContext;

	pgmsg_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	roleid = GetUserId();
	monitor = superuser_arg(roleid) || has_privs_of_role(roleid, ROLE_PG_MONITOR);

	/* the queues of this database, read as the extension owner */
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT queue_id, name FROM pgmsg.queue_meta ORDER BY name", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list queues: %s", SPI_result_code_string(ret));
	queues = SPI_tuptable;
	nqueues = SPI_processed;
	/* copied out of SPI's memory, which SPI_finish frees */
	queue_ids = MemoryContextAlloc(cxt, sizeof(int32) * Max(nqueues, 1));
	names = MemoryContextAlloc(cxt, sizeof(char *) * Max(nqueues, 1));
	for (uint64 i = 0; i < nqueues; i++)
	{
		bool		isnull;
		char	   *name = SPI_getvalue(queues->vals[i], queues->tupdesc, 2);

		queue_ids[i] = DatumGetInt32(SPI_getbinval(queues->vals[i], queues->tupdesc, 1, &isnull));
		names[i] = MemoryContextStrdup(cxt, name);
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);

	for (int b = 0; b < NBOUNDS; b++)
		bounds[b] = Int32GetDatum(receive_count_bounds[b]);
	bounds_array = construct_array(bounds, NBOUNDS, INT4OID, sizeof(int32), true,
								   TYPALIGN_INT);

	slots = pgmsg_db_slots(&nslots);
	for (uint64 i = 0; i < nqueues; i++)
	{
		QueueShared *qs;
		ReceiveCounts rc;
		Datum		values[6];
		bool		nulls[6];
		Datum		le[NBOUNDS];

		CHECK_FOR_INTERRUPTS();
		if (!may_see_queue(names[i], monitor))
			continue;

		/* a queue without a slot has no leases: nothing received since start */
		qs = pgmsg_find_slot(slots, nslots, queue_ids[i]);
		if (qs != NULL)
			count_queue(queue_ids[i], qs, &rc);
		else
			memset(&rc, 0, sizeof(rc));

		for (int b = 0; b < NBOUNDS; b++)
			le[b] = Int64GetDatum(rc.le[b]);

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(names[i]);
		values[1] = Int64GetDatum(rc.held);
		values[2] = Int32GetDatum(rc.max);
		nulls[2] = (rc.held == 0);
		values[3] = Int64GetDatum(rc.sum);
		values[4] = PointerGetDatum(bounds_array);
		values[5] = PointerGetDatum(construct_array(le, NBOUNDS, INT8OID, sizeof(int64),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* A push subscription as read from the catalog, for push_stats(). */
typedef struct PushRow
{
	int32		subscription_id;
	char	   *topic;
	char	   *protocol;
	int32		queue_id;
	char	   *queue;
	int32		dlq_id;
	char	   *dlq;
	int64		delivered;
	int32		retrying;
	int64		dead_lettered;
} PushRow;

/* kept for the life of the backend; the plan cache replans it as needed */
static SPIPlanPtr push_plan = NULL;

/*
 * The push subscriptions the current user may see, as the subscriptions
 * view shows them, or every one for "monitor"; read as the extension owner.
 */
static PushRow *
list_push_subscriptions(bool monitor, int *nrows)
{
	Oid			argtypes[2] = {BOOLOID, OIDOID};
	Datum		args[2] = {BoolGetDatum(monitor), ObjectIdGetDatum(GetUserId())};
	Oid			save_userid;
	int			save_sec;
	PushRow    *rows;
	MemoryContext cxt = CurrentMemoryContext;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (push_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare("SELECT s.subscription_id, t.name, p.protocol,"
										   "       q.queue_id, q.name, d.queue_id, d.name,"
										   "       p.delivered, p.retrying, p.dead_lettered"
										   "  FROM pgmsg.push_subscription p"
										   "  JOIN pgmsg.subscription s USING (subscription_id)"
										   "  JOIN pgmsg.topic_meta t ON t.topic_id OPERATOR(pg_catalog.=) s.topic_id"
										   "  JOIN pgmsg.queue_meta q ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
										   "  JOIN pgmsg.queue_meta d ON d.queue_id OPERATOR(pg_catalog.=) p.dead_letter_queue_id"
										   " WHERE $1"
										   "    OR pg_catalog.pg_has_role($2, s.owner::pg_catalog.oid, 'USAGE')"
										   "    OR pg_catalog.pg_has_role($2, t.owner::pg_catalog.oid, 'USAGE')"
										   "    OR pg_catalog.pg_has_role($2, q.owner::pg_catalog.oid, 'USAGE')"
										   "    OR EXISTS (SELECT FROM pgmsg.topic_grants g"
										   "                WHERE g.topic_id OPERATOR(pg_catalog.=) t.topic_id"
										   "                  AND (g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) 0::pg_catalog.oid"
										   "                       OR pg_catalog.pg_has_role($2, g.grantee::pg_catalog.oid, 'USAGE')))"
										   "    OR EXISTS (SELECT FROM pgmsg.queue_grants g"
										   "                WHERE g.queue_id OPERATOR(pg_catalog.=) q.queue_id"
										   "                  AND (g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) 0::pg_catalog.oid"
										   "                       OR pg_catalog.pg_has_role($2, g.grantee::pg_catalog.oid, 'USAGE')))"
										   " ORDER BY s.subscription_id",
										   2, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		push_plan = plan;
	}
	if (SPI_execute_plan(push_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list push subscriptions");

	/* copied out of SPI's memory, which SPI_finish frees */
	rows = MemoryContextAlloc(cxt, sizeof(PushRow) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		PushRow    *r = &rows[i];
		bool		isnull;

		r->subscription_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		r->topic = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 2));
		r->protocol = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 3));
		r->queue_id = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		r->queue = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 5));
		r->dlq_id = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		r->dlq = MemoryContextStrdup(cxt, SPI_getvalue(tup, desc, 7));
		r->delivered = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		r->retrying = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
		r->dead_lettered = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
	}
	*nrows = (int) SPI_processed;
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	return rows;
}

Datum
pgmsg_push_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			roleid;
	bool		monitor;
	PushRow    *rows;
	int			nrows;
	SlotRef    *slots;
	int			nslots;

	pgmsg_check_loaded();
	InitMaterializedSRF(fcinfo, 0);

	roleid = GetUserId();
	monitor = superuser_arg(roleid) || has_privs_of_role(roleid, ROLE_PG_MONITOR);
	rows = list_push_subscriptions(monitor, &nrows);
	slots = pgmsg_db_slots(&nslots);

	for (int i = 0; i < nrows; i++)
	{
		PushRow    *r = &rows[i];
		QueueFigures waiting;
		QueueFigures dead;
		TimestampTz now;
		Datum		values[11];
		bool		nulls[11];

		CHECK_FOR_INTERRUPTS();

		/* a subscription whose queues were dropped since it was read */
		if (!pgmsg_queue_figures(r->queue_id, r->queue,
								 pgmsg_find_slot(slots, nslots, r->queue_id),
								 true, &waiting) ||
			!pgmsg_queue_figures(r->dlq_id, r->dlq,
								 pgmsg_find_slot(slots, nslots, r->dlq_id),
								 false, &dead))
			continue;
		now = GetCurrentTimestamp();

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(r->subscription_id);
		values[1] = CStringGetTextDatum(r->topic);
		values[2] = CStringGetTextDatum(r->protocol);
		values[3] = CStringGetTextDatum(r->queue);
		values[4] = CStringGetTextDatum(r->dlq);
		values[5] = Int64GetDatum(r->delivered);
		values[6] = Int32GetDatum(r->retrying);
		values[7] = Int64GetDatum(r->dead_lettered);
		values[8] = Int64GetDatum(waiting.messages);
		values[9] = Int64GetDatum(dead.messages);
		values[10] = DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(now),
										 TimestampTzGetDatum(waiting.has_oldest_stored ?
															 Min(waiting.oldest_stored_sent_at, now) :
															 now));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
