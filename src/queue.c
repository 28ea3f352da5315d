/*-------------------------------------------------------------------------
 *
 * queue.c
 *		Queue management: create_queue, alter_queue, drop_queue and
 *		purge_queue, and the event trigger that adopts restored queue tables.
 *
 * A queue is a row of pgmsg.queue_meta plus its message table
 * pgmsg.q_<name>, created and dropped in the caller's transaction as the
 * extension owner.  Shared state is touched only when the transaction
 * ends (xact.c): a dropped queue's slot and leases go away when the drop
 * commits, the slot of a queue whose creation rolls back goes then, and a
 * purge drops the leases of the messages it removed and resets the cursor
 * when it commits.  create_queue takes the new queue's slot at once, so a
 * queue the server cannot hold is refused when it is created.  Queue ids
 * come from pgmsg.queue_id_seq, skipping any id that still has a slot
 * (shmem.c).  Each queue table depends on the extension; pg_dump does not
 * carry that dependency, so adopt_queue_tables, fired at the end of every
 * CREATE TABLE, gives it back to the tables a restore creates.  Names are validated before use and
 * still pass through quote_identifier; values always travel as parameters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "acl.h"
#include "catalog.h"
#include "pgmsg.h"
#include "shmem.h"
#include "topic.h"
#include "xact.h"

PG_FUNCTION_INFO_V1(pgmsg_create_queue);
PG_FUNCTION_INFO_V1(pgmsg_alter_queue);
PG_FUNCTION_INFO_V1(pgmsg_adopt_queue_tables);
PG_FUNCTION_INFO_V1(pgmsg_drop_queue);
PG_FUNCTION_INFO_V1(pgmsg_purge_queue);

#define MAX_MESSAGE_SIZE_LIMIT	1048576

static int32
max_message_size_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		size = PG_GETARG_INT32(argno);

	if (size < 1 || size > MAX_MESSAGE_SIZE_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_message_size %d is out of range", size),
				 errdetail("It must be between 1 and %d bytes.", MAX_MESSAGE_SIZE_LIMIT)));
	return size;
}

static Datum
usecs_interval(int64 usecs)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = usecs;
	return IntervalPGetDatum(iv);
}

/*
 * Make a queue table depend on the extension, unless it already does, so
 * that DROP EXTENSION ... CASCADE takes the queues with it and a plain
 * DROP EXTENSION refuses while queues exist.
 */
static void
depend_on_extension(Oid relid)
{
	Oid			extid = get_extension_oid("pgmsg", false);
	Relation	depend;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(depend, DependDependerIndexId, true, NULL, 2, key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		found = dep->refclassid == ExtensionRelationId && dep->refobjid == extid;
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);

	if (!found)
	{
		ObjectAddress table_addr;
		ObjectAddress extension_addr;

		ObjectAddressSet(table_addr, RelationRelationId, relid);
		ObjectAddressSet(extension_addr, ExtensionRelationId, extid);
		recordDependencyOn(&table_addr, &extension_addr, DEPENDENCY_NORMAL);
	}
}

/*
 * pgmsg.adopt_queue_tables(), run by an event trigger at the end of every
 * CREATE TABLE.  pg_dump writes queue tables as ordinary tables, since
 * they are not members of the extension, and their dependency on the
 * extension is not dumped; a restore creates them after CREATE EXTENSION,
 * and this gives them the dependency back.  Only the owner of schema pgmsg
 * can create tables in it, so a table there named like a queue table is
 * one.
 */
Datum
pgmsg_adopt_queue_tables(PG_FUNCTION_ARGS)
{
	Oid			nsp;
	int			ret;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"adopt_queue_tables\" must be fired by an event trigger")));
	nsp = get_namespace_oid("pgmsg", true);
	if (!OidIsValid(nsp))
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute("SELECT objid FROM pg_catalog.pg_event_trigger_ddl_commands()"
					  " WHERE object_type OPERATOR(pg_catalog.=) 'table'",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid;
		char	   *relname;

		relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
											   SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull || get_rel_namespace(relid) != nsp)
			continue;
		relname = get_rel_name(relid);
		if (relname == NULL || strncmp(relname, "q_", 2) != 0)
			continue;
		depend_on_extension(relid);

		/* a table dumped from version 1.0 lacks the source queue's id */
		if (get_attnum(relid, "source_queue_id") == InvalidAttrNumber)
			pgmsg_spi_exec(psprintf("ALTER TABLE pgmsg.%s ADD COLUMN IF NOT EXISTS source_queue_id integer",
									quote_identifier(relname)),
						   0, NULL, NULL, SPI_OK_UTILITY);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * A new queue id: the next value of pgmsg.queue_id_seq above every id that
 * still has a slot in this database.  Ids at or below that can only come
 * up when the extension was dropped and created again in this
 * transaction, whose commit releases the old slots; they are skipped, so a
 * new queue never inherits an old queue's leases, counters or cursor.
 * Caller runs as the extension owner.
 */
static int32
new_queue_id(void)
{
	Oid			seqid = get_relname_relid("queue_id_seq",
										  get_namespace_oid("pgmsg", false));
	int32		floor = pgmsg_max_slot_queue_id();
	int64		id;

	if (!OidIsValid(seqid))
		elog(ERROR, "sequence pgmsg.queue_id_seq is missing");
	do
		id = nextval_internal(seqid, true);
	while (id <= floor);
	return (int32) id;
}

/*
 * Check a dead-letter queue setting for queue "name" (queue_id 0 while it
 * is being created) and return the dead-letter queue's id.  The
 * dead-letter queue must exist, the caller must be allowed to send to it,
 * and following dead-letter queues from it must never lead back to "name".
 */
static int32
resolve_dead_letter_queue(const char *name, const char *dlq_name,
						  bool have_max_receive_count, bool fifo)
{
	QueueInfo  *dlq;
	const char *next;
	int			depth = 0;

	pgmsg_validate_name(false, dlq_name);

	/*
	 * Serialize dead-letter changes, so that two transactions cannot each
	 * pass the cycle check and close a cycle together.  The lookups below
	 * then see every committed change.
	 */
	{
		Oid			save_userid;
		int			save_sec;

		pgmsg_become_owner(&save_userid, &save_sec);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		pgmsg_spi_exec("LOCK TABLE pgmsg.queue_meta IN SHARE ROW EXCLUSIVE MODE",
				 0, NULL, NULL, SPI_OK_UTILITY);
		SPI_finish();
		pgmsg_restore_user(save_userid, save_sec);
	}
	if (strcmp(dlq_name, name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("queue \"%s\" cannot be its own dead-letter queue", name)));
	if (!have_max_receive_count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_receive_count is required with dead_letter_queue")));
	dlq = pgmsg_queue_lookup(dlq_name, true);
	if (dlq == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead-letter queue \"%s\" does not exist", dlq_name)));
	pgmsg_check_privilege(dlq, PGMSG_PRIV_SEND);

	/*
	 * The lookup may have read an older snapshot; lock the row as a
	 * foreign key check would, so that a drop_queue that committed since is
	 * seen and one still to come waits for this transaction (drop_queue
	 * takes the table lock above too).
	 */
	{
		Oid			save_userid;
		int			save_sec;
		Oid			argtypes[1] = {INT4OID};
		Datum		args[1];

		pgmsg_become_owner(&save_userid, &save_sec);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		args[0] = Int32GetDatum(dlq->queue_id);
		pgmsg_spi_exec("SELECT FROM pgmsg.queue_meta"
					   " WHERE queue_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE",
					   1, argtypes, args, SPI_OK_SELECT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("dead-letter queue \"%s\" does not exist", dlq_name)));
		SPI_finish();
		pgmsg_restore_user(save_userid, save_sec);
	}
	if (dlq->fifo != fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(fifo ? "dead-letter queue \"%s\" of a FIFO queue must be a FIFO queue"
						: "dead-letter queue \"%s\" of a standard queue must not be a FIFO queue",
						dlq_name)));

	for (next = dlq->dead_letter_queue; next[0] != '\0' && depth < 1000; depth++)
	{
		QueueInfo  *hop;

		if (strcmp(next, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("dead-letter queue \"%s\" would form a cycle", dlq_name),
					 errdetail("Dead letters of \"%s\" already lead back to \"%s\".",
							   dlq_name, name)));
		hop = pgmsg_queue_lookup(next, true);
		if (hop == NULL)
			break;
		next = hop->dead_letter_queue;
	}
	return dlq->queue_id;
}

static int32
max_in_flight_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		limit = PG_GETARG_INT32(argno);

	if (limit < 1 || limit > PGMSG_MAX_IN_FLIGHT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_in_flight %d is out of range", limit),
				 errdetail("It must be between 1 and %d.", PGMSG_MAX_IN_FLIGHT)));
	return limit;
}

static int32
max_receive_count_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		count = PG_GETARG_INT32(argno);

	if (count < 1 || count > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_receive_count %d is out of range", count),
				 errdetail("It must be between 1 and 1000.")));
	return count;
}

/*
 * pgmsg.create_queue(queue, visibility_timeout, delay, retention,
 *					  max_message_size, dead_letter_queue, max_receive_count,
 *					  fifo, content_based_dedup, notify, max_in_flight)
 */
Datum
pgmsg_create_queue(PG_FUNCTION_ARGS)
{
	char	   *name;
	int64		visibility_timeout;
	int64		delay;
	int64		retention;
	int32		max_message_size;
	bool		notify;
	bool		fifo;
	bool		content_based_dedup;
	int32		dlq_id = 0;
	int32		max_receive_count = 0;
	Oid			save_userid;
	int			save_sec;
	Oid			creator = GetUserId();
	const char *table;
	const char *index;
	int32		queue_id;
	int32		max_in_flight;
	Oid			argtypes[13] = {TEXTOID, OIDOID, INTERVALOID, INTERVALOID,
	INTERVALOID, INT4OID, BOOLOID, INT4OID, INT4OID, BOOLOID, BOOLOID, INT4OID, INT4OID};
	Datum		args[13];
	char		nulls[13] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', 'n', 'n', ' ', ' ', ' ', ' '};

	pgmsg_check_loaded();
	name = pgmsg_text_arg(fcinfo, 0, "queue name");
	pgmsg_refuse_in_recovery(gettext_noop("cannot create queue \"%s\" during recovery"), name);
	pgmsg_validate_name(false, name);
	visibility_timeout = pgmsg_interval_arg(fcinfo, 1, "visibility_timeout",
											0, PGMSG_MAX_VISIBILITY, -1);
	delay = pgmsg_interval_arg(fcinfo, 2, "delay", 0, PGMSG_MAX_DELAY, -1);
	retention = pgmsg_interval_arg(fcinfo, 3, "retention",
								   PGMSG_MIN_RETENTION, PGMSG_MAX_RETENTION, -1);
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_message_size must not be null")));
	max_message_size = max_message_size_arg(fcinfo, 4);
	for (int i = 7; i <= 9; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null",
							i == 7 ? "fifo" : i == 8 ? "content_based_dedup" : "notify")));
	fifo = PG_GETARG_BOOL(7);
	content_based_dedup = PG_GETARG_BOOL(8);
	notify = PG_GETARG_BOOL(9);
	/* version 1.0's create_queue has no max_in_flight */
	if (PG_NARGS() <= 10 || PG_ARGISNULL(10))
		max_in_flight = fifo ? PGMSG_DEFAULT_IN_FLIGHT_FIFO : PGMSG_DEFAULT_IN_FLIGHT;
	else
		max_in_flight = max_in_flight_arg(fcinfo, 10);
	if (content_based_dedup && !fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("content_based_dedup requires a FIFO queue")));
	if (!PG_ARGISNULL(6))
		max_receive_count = max_receive_count_arg(fcinfo, 6);
	if (!PG_ARGISNULL(5))
		dlq_id = resolve_dead_letter_queue(name, text_to_cstring(PG_GETARG_TEXT_PP(5)),
										   !PG_ARGISNULL(6), fifo);
	else if (!PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_receive_count requires dead_letter_queue")));

	if (pg_database_aclcheck(MyDatabaseId, creator, ACL_CREATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create queue \"%s\"", name),
				 errdetail("Creating a queue requires the CREATE privilege on the current database.")));

	pgmsg_claim_name(false, name);

	table = quote_identifier(pgmsg_table_name(name));
	index = quote_identifier(psprintf("%s_key", pgmsg_table_name(name)));

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	args[0] = CStringGetTextDatum(name);
	args[1] = ObjectIdGetDatum(creator);
	args[2] = usecs_interval(visibility_timeout);
	args[3] = usecs_interval(delay);
	args[4] = usecs_interval(retention);
	args[5] = Int32GetDatum(max_message_size);
	args[6] = BoolGetDatum(notify);
	if (dlq_id != 0)
	{
		args[7] = Int32GetDatum(dlq_id);
		args[8] = Int32GetDatum(max_receive_count);
		nulls[7] = nulls[8] = ' ';
	}
	args[9] = BoolGetDatum(fifo);
	args[10] = BoolGetDatum(content_based_dedup);
	queue_id = new_queue_id();
	args[11] = Int32GetDatum(queue_id);
	args[12] = Int32GetDatum(max_in_flight);
	if (SPI_execute_with_args(psprintf("INSERT INTO pgmsg.queue_meta"
									   " (name, owner, visibility_timeout, delay, retention,"
									   "  max_message_size, notify, dead_letter_queue_id, max_receive_count,"
									   "  fifo, content_based_dedup, queue_id%s)"
									   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12%s)"
									   " ON CONFLICT (name) DO NOTHING",
									   pgmsg_catalog_has_in_flight() ? ", max_in_flight" : "",
									   pgmsg_catalog_has_in_flight() ? ", $13" : ""),
							  pgmsg_catalog_has_in_flight() ? 13 : 12,
							  argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert queue \"%s\"", name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("queue \"%s\" already exists", name)));

	pgmsg_spi_exec(psprintf("CREATE TABLE pgmsg.%s ("
					  " msg_id bigint GENERATED ALWAYS AS IDENTITY,"
					  " visible_at timestamptz NOT NULL,"
					  " sent_at timestamptz NOT NULL,"
					  " receive_count integer NOT NULL DEFAULT 0,"
					  " first_received_at timestamptz,"
					  " body jsonb NOT NULL,"
					  " attributes jsonb,"
					  " source_queue text,"
					  " group_id text,"
					  " source_queue_id integer"
					  ") WITH (fillfactor = 90)", table),
			 0, NULL, NULL, SPI_OK_UTILITY);
	pgmsg_spi_exec(psprintf("CREATE INDEX %s ON pgmsg.%s (visible_at, msg_id)", index, table),
			 0, NULL, NULL, SPI_OK_UTILITY);

	depend_on_extension(get_relname_relid(pgmsg_table_name(name),
										  get_namespace_oid("pgmsg", false)));

	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	xact_track_create(queue_id);

	/*
	 * Claim the queue's slot now, so that a queue the server's slots cannot
	 * hold is refused here rather than failing at its first use, or failing
	 * another database's queues.  A rollback gives the slot back.
	 */
	(void) pgmsg_queue_shared(queue_id, true);

	pgmsg_catalog_invalidate();
	PG_RETURN_VOID();
}

/*
 * pgmsg.alter_queue(queue, visibility_timeout, delay, retention,
 *					 max_message_size, dead_letter_queue, max_receive_count,
 *					 fifo, content_based_dedup, notify, max_in_flight)
 *
 * A NULL argument leaves that setting unchanged.
 */
Datum
pgmsg_alter_queue(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	QueueInfo  *qi;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[11] = {INT4OID, INTERVALOID, INTERVALOID, INTERVALOID,
	INT4OID, BOOLOID, BOOLOID, INT4OID, INT4OID, BOOLOID, INT4OID};
	Datum		args[11];
	char		nulls[11] = {' ', 'n', 'n', 'n', 'n', 'n', ' ', 'n', 'n', 'n', 'n'};
	bool		change_dlq = false;

	pgmsg_refuse_in_recovery(gettext_noop("cannot alter queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);

	args[0] = Int32GetDatum(qi->queue_id);
	if (!PG_ARGISNULL(1))
	{
		args[1] = usecs_interval(pgmsg_interval_arg(fcinfo, 1, "visibility_timeout",
													0, PGMSG_MAX_VISIBILITY, -1));
		nulls[1] = ' ';
	}
	if (!PG_ARGISNULL(2))
	{
		args[2] = usecs_interval(pgmsg_interval_arg(fcinfo, 2, "delay",
													0, PGMSG_MAX_DELAY, -1));
		nulls[2] = ' ';
	}
	if (!PG_ARGISNULL(3))
	{
		args[3] = usecs_interval(pgmsg_interval_arg(fcinfo, 3, "retention",
													PGMSG_MIN_RETENTION,
													PGMSG_MAX_RETENTION, -1));
		nulls[3] = ' ';
	}
	if (!PG_ARGISNULL(4))
	{
		args[4] = Int32GetDatum(max_message_size_arg(fcinfo, 4));
		nulls[4] = ' ';
	}
	if (!PG_ARGISNULL(6))
	{
		args[8] = Int32GetDatum(max_receive_count_arg(fcinfo, 6));
		nulls[8] = ' ';
	}
	if (!PG_ARGISNULL(5))
	{
		char	   *dlq_name = text_to_cstring(PG_GETARG_TEXT_PP(5));

		/* an empty name removes the dead-letter queue */
		change_dlq = true;
		if (dlq_name[0] != '\0')
		{
			args[7] = Int32GetDatum(resolve_dead_letter_queue(name, dlq_name,
															  !PG_ARGISNULL(6) || qi->max_receive_count > 0,
															  qi->fifo));
			nulls[7] = ' ';
		}
		else if (!PG_ARGISNULL(6))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_receive_count requires dead_letter_queue")));
	}
	else if (!PG_ARGISNULL(6) && qi->max_receive_count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_receive_count requires dead_letter_queue"),
				 errdetail("Queue \"%s\" has no dead-letter queue.", name)));
	args[6] = BoolGetDatum(change_dlq);
	if (!PG_ARGISNULL(7) && PG_GETARG_BOOL(7) != qi->fifo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot change whether queue \"%s\" is a FIFO queue", name),
				 errhint("Create a new queue instead.")));
	if (!PG_ARGISNULL(8))
	{
		if (PG_GETARG_BOOL(8) && !qi->fifo)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("content_based_dedup requires a FIFO queue")));
		args[9] = BoolGetDatum(PG_GETARG_BOOL(8));
		nulls[9] = ' ';
	}
	if (!PG_ARGISNULL(9))
	{
		args[5] = BoolGetDatum(PG_GETARG_BOOL(9));
		nulls[5] = ' ';
	}
	if (PG_NARGS() > 10 && !PG_ARGISNULL(10))
	{
		args[10] = Int32GetDatum(max_in_flight_arg(fcinfo, 10));
		nulls[10] = ' ';
	}

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(psprintf("UPDATE pgmsg.queue_meta SET"
									   " visibility_timeout = COALESCE($2, visibility_timeout),"
									   " delay = COALESCE($3, delay),"
									   " retention = COALESCE($4, retention),"
									   " max_message_size = COALESCE($5, max_message_size),"
									   " notify = COALESCE($6, notify),"
									   " content_based_dedup = COALESCE($10, content_based_dedup),"
									   "%s"
									   " dead_letter_queue_id = CASE WHEN $7 THEN $8 ELSE dead_letter_queue_id END,"
									   " max_receive_count = CASE WHEN $7 AND $8 IS NULL THEN NULL"
									   "                     ELSE COALESCE($9, max_receive_count) END"
									   " WHERE queue_id OPERATOR(pg_catalog.=) $1",
									   pgmsg_catalog_has_in_flight() ?
									   " max_in_flight = COALESCE($11, max_in_flight)," : ""),
							  pgmsg_catalog_has_in_flight() ? 11 : 10,
							  argtypes, args, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update queue \"%s\"", name);
	/* after the update, which waits for a subscribe in progress (topic.c) */
	if (!PG_ARGISNULL(4) && DatumGetInt32(args[4]) < PGMSG_TOPIC_MAX_MESSAGE)
	{
		Oid			sub_argtypes[1] = {INT4OID};

		pgmsg_spi_exec("SELECT t.name FROM pgmsg.subscription s"
					   "  JOIN pgmsg.topic_meta t USING (topic_id)"
					   " WHERE s.queue_id OPERATOR(pg_catalog.=) $1"
					   " ORDER BY t.name LIMIT 1",
					   1, sub_argtypes, args, SPI_OK_SELECT);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot lower max_message_size of queue \"%s\" below %d bytes",
							name, PGMSG_TOPIC_MAX_MESSAGE),
					 errdetail("The queue is subscribed to topic \"%s\", which publishes messages of up to %d bytes.",
							   SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
							   PGMSG_TOPIC_MAX_MESSAGE)));
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	pgmsg_catalog_invalidate();
	PG_RETURN_VOID();
}

/*
 * pgmsg.drop_queue(queue, if_exists) returns whether a queue was dropped.
 */
Datum
pgmsg_drop_queue(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	bool		if_exists = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	QueueInfo  *qi;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	int32		queue_id;

	pgmsg_refuse_in_recovery(gettext_noop("cannot drop queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, if_exists);
	if (qi == NULL)
	{
		ereport(NOTICE,
				(errmsg("queue \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);
	queue_id = qi->queue_id;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int32GetDatum(queue_id);

	/*
	 * No foreign key guards dead_letter_queue_id: the lock makes a
	 * concurrent create_queue or alter_queue naming this queue as its
	 * dead-letter queue either finish first, and be seen below, or wait
	 * and find the queue gone.
	 */
	pgmsg_spi_exec("LOCK TABLE pgmsg.queue_meta IN SHARE ROW EXCLUSIVE MODE",
				   0, NULL, NULL, SPI_OK_UTILITY);
	pgmsg_spi_exec("SELECT name FROM pgmsg.queue_meta"
			 " WHERE dead_letter_queue_id OPERATOR(pg_catalog.=) $1 ORDER BY name LIMIT 1",
			 1, argtypes, args, SPI_OK_SELECT);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop queue \"%s\" because it is the dead-letter queue of queue \"%s\"",
						name, SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)),
				 errhint("Remove the dead-letter queue from that queue first.")));
	pgmsg_spi_exec("DELETE FROM pgmsg.queue_meta WHERE queue_id OPERATOR(pg_catalog.=) $1",
			 1, argtypes, args, SPI_OK_DELETE);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name)));
	pgmsg_spi_exec(psprintf("DROP TABLE pgmsg.%s", quote_identifier(pgmsg_table_name(name))),
			 0, NULL, NULL, SPI_OK_UTILITY);
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);

	xact_track_drop(queue_id);
	pgmsg_catalog_invalidate();
	PG_RETURN_BOOL(true);
}

/*
 * pgmsg.purge_queue(queue) removes every message and returns how many.
 * The leases that exist when it runs go when it commits; messages sent
 * after it, and leases taken on them, stay.
 */
Datum
pgmsg_purge_queue(PG_FUNCTION_ARGS)
{
	char	   *name = pgmsg_text_arg(fcinfo, 0, "queue name");
	QueueInfo  *qi;
	Oid			save_userid;
	int			save_sec;
	int64		removed;
	int64		max_msg_id;
	bool		isnull;
	const char *table;

	pgmsg_refuse_in_recovery(gettext_noop("cannot purge queue \"%s\" during recovery"), name);
	qi = pgmsg_queue_lookup(name, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	table = quote_identifier(pgmsg_table_name(name));
	pgmsg_spi_exec(psprintf("DELETE FROM pgmsg.%s", table), 0, NULL, NULL, SPI_OK_DELETE);
	removed = (int64) SPI_processed;

	/*
	 * Every message that can have a lease now has an id up to the last one
	 * assigned; messages sent from here on get greater ids.
	 */
	pgmsg_spi_exec(psprintf("SELECT pg_catalog.pg_sequence_last_value("
					  "pg_catalog.pg_get_serial_sequence('pgmsg.%s', 'msg_id')::pg_catalog.regclass)",
					  table),
			 0, NULL, NULL, SPI_OK_SELECT);
	max_msg_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
											 1, &isnull));
	if (isnull)
		max_msg_id = 0;
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);

	xact_track_purge(qi->queue_id, max_msg_id);
	PG_RETURN_INT64(removed);
}
