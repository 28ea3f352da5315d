/*-------------------------------------------------------------------------
 *
 * stats.c
 *		queue_stats(), behind the pgmsg.queues view.
 *
 * Counts come from shared memory, not from scanning message tables: the
 * number of stored messages is counted once per server start (or after a
 * purge) and then kept up to date by committing sends and deletes
 * (xact.c); messages in flight are the queue's leases; delayed messages
 * are an index range count of keys still in the future.  Reading the view
 * takes no queue slot: a queue without one (unused since the server
 * started) is counted from its table, with no lease and zero totals.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "pgmsg.h"

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
		const char *table = quote_identifier(pgmsg_table_name(name));
		QueueShared *qs = pgmsg_queue_shared(queue_id, false);
		Datum		values[9];
		bool		nulls[9];
		int64		count;
		int64		nleases = 0;

		/*
		 * Reading the view claims no slot: a queue unused since the server
		 * started has none, no message in flight, and counters at zero.
		 */
		if (qs == NULL)
		{
			/* dropped since this transaction's snapshot: its table is gone */
			if (!pgmsg_queue_id_exists(queue_id))
				continue;
			count = count_query(psprintf("SELECT pg_catalog.count(*) FROM pgmsg.%s", table));
		}
		else
		{
			count = pgmsg_stored_messages(qs, name);
			LWLockAcquire(qs->lock, LW_SHARED);
			nleases = qs->nleases;
			LWLockRelease(qs->lock);
		}

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(queue_id);
		values[1] = Int64GetDatum(count);
		values[2] = Int64GetDatum(nleases);
		values[3] = Int64GetDatum(count_query(psprintf("SELECT pg_catalog.count(*) FROM pgmsg.%s"
													   " WHERE visible_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()",
													   table)));
		ret = SPI_execute(psprintf("SELECT sent_at FROM pgmsg.%s ORDER BY visible_at, msg_id LIMIT 1",
								   table), true, 1);
		if (ret == SPI_OK_SELECT && SPI_processed == 1)
			values[4] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &nulls[4]);
		else
			nulls[4] = true;
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
