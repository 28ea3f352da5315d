/*-------------------------------------------------------------------------
 *
 * roles.c
 *		Roles that own pgmsg objects or hold privileges on them: DROP ROLE,
 *		REASSIGN OWNED and DROP OWNED.
 *
 * pgmsg keeps the owners of queues, topics, subscriptions and redrive
 * tasks, and the grantees of its privileges, in its own tables as regrole
 * (acl.c).  Were a role dropped while named there, the tables would point
 * at a role that no longer exists: pg_dump would write the bare OID, and a
 * restore would hand the object to whichever role has that OID there.
 * So pgmsg does for its objects what PostgreSQL does for its own:
 *
 *	- Shared dependencies.  A row trigger on queue_meta, queue_grants,
 *	  topic_meta, topic_grants and subscription (pgmsg_track_role) keeps
 *	  one pg_shdepend entry per owner or grantee named in a row: the
 *	  extension depends on the role, as for a privilege (type 'a').  So
 *	  DROP ROLE, run in any database, refuses while the role owns
 *	  something of pgmsg's or holds a pgmsg privilege anywhere, and says
 *	  in which database.  The trigger fires for rows a restore copies in
 *	  too, so the entries come back with the data.  Entries go with their
 *	  rows, with the extension and with the database.  Grants to PUBLIC and
 *	  the bootstrap superuser (pinned) need none.  Redrive tasks are only
 *	  checked below: a finished one is a record, not dumped, and does not
 *	  hold its role back.
 *	- A ProcessUtility hook, for the current database: DROP ROLE first
 *	  lists what here depends on the role (a running redrive task
 *	  included), before PostgreSQL's own check would only say "privileges
 *	  for extension pgmsg"; only for a role allowed to drop the role, so
 *	  nobody else learns anything.  REASSIGN OWNED BY old TO new hands
 *	  old's queues, topics, subscriptions and redrive tasks to new.  DROP
 *	  OWNED BY role, before PostgreSQL's own (which cannot revoke a
 *	  privilege on an extension), revokes the role's pgmsg privileges,
 *	  deletes its redrive tasks and drops its push subscriptions,
 *	  subscriptions, topics and queues through pgmsg's own functions (so
 *	  everything those do on a drop happens, and a queue that another
 *	  role's queue dead-letters into is refused, as PostgreSQL refuses to
 *	  drop what others depend on).  Like PostgreSQL's, these act in the
 *	  current database only.
 *
 * Locking: none of its own.  Reading and writing pgmsg's tables takes the
 * usual row and table locks.  Recording a dependency takes a lock on the
 * role and checks it still exists, as PostgreSQL's own do, so a concurrent
 * DROP ROLE either sees the entry or has removed the role first (a role
 * already gone when a row naming it is written, as in a restore of a dump
 * made before this tracking, is not recorded).  The drops take what
 * pgmsg's functions take.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_shdepend.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "pgmsg.h"
#include "roles.h"

PG_FUNCTION_INFO_V1(pgmsg_track_role);
PG_FUNCTION_INFO_V1(pgmsg_track_existing_roles);

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * Record that pgmsg depends on a role: one more object or grant names it.
 */
static void
add_role_dependency(Oid roleid)
{
	ObjectAddress depender;
	ObjectAddress referenced;

	/* PUBLIC, and a role already gone (a restore of an old dump) */
	if (!OidIsValid(roleid) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(roleid)))
		return;
	ObjectAddressSet(depender, ExtensionRelationId, get_extension_oid("pgmsg", false));
	ObjectAddressSet(referenced, AuthIdRelationId, roleid);
	recordSharedDependencyOn(&depender, &referenced, SHARED_DEPENDENCY_ACL);
}

/*
 * Remove one of pgmsg's dependencies on a role in this database (one
 * object or grant less names it), or with "all" every one of them.  There
 * may be none (PUBLIC, a pinned role).
 */
static void
forget_role_dependency(Oid roleid, bool all)
{
	Relation	rel;
	ScanKeyData key[4];
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			extoid;

	if (!OidIsValid(roleid))
		return;
	extoid = get_extension_oid("pgmsg", true);
	if (!OidIsValid(extoid))
		return;
	rel = table_open(SharedDependRelationId, RowExclusiveLock);
	ScanKeyInit(&key[0], Anum_pg_shdepend_dbid,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(MyDatabaseId));
	ScanKeyInit(&key[1], Anum_pg_shdepend_classid,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[2], Anum_pg_shdepend_objid,
				BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(extoid));
	ScanKeyInit(&key[3], Anum_pg_shdepend_objsubid,
				BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(0));
	scan = systable_beginscan(rel, SharedDependDependerIndexId, true, NULL, 4, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_shdepend dep = (Form_pg_shdepend) GETSTRUCT(tup);

		if (dep->refclassid == AuthIdRelationId && dep->refobjid == roleid &&
			dep->deptype == SHARED_DEPENDENCY_ACL)
		{
			CatalogTupleDelete(rel, &tup->t_self);
			if (!all)
				break;
		}
	}
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
	/* the next row of the same statement must not find the same entry */
	CommandCounterIncrement();
}

static Oid
role_column(HeapTuple tuple, TupleDesc tupdesc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, tupdesc, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/*
 * pgmsg.track_role(): AFTER INSERT OR UPDATE OR DELETE row trigger on a
 * table naming a role in the column given as the trigger's argument.
 */
Datum
pgmsg_track_role(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	int			attnum;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || trigdata->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pgmsg.track_role() must be fired AFTER each row, with a column name")));
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, trigdata->tg_trigger->tgargs[0]);
	if (attnum <= 0)
		elog(ERROR, "column \"%s\" not found", trigdata->tg_trigger->tgargs[0]);

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		add_role_dependency(role_column(trigdata->tg_trigtuple, tupdesc, attnum));
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		forget_role_dependency(role_column(trigdata->tg_trigtuple, tupdesc, attnum), false);
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		Oid			before = role_column(trigdata->tg_trigtuple, tupdesc, attnum);
		Oid			after = role_column(trigdata->tg_newtuple, tupdesc, attnum);

		if (before != after)
		{
			forget_role_dependency(before, false);
			add_role_dependency(after);
		}
	}
	return PointerGetDatum(NULL);
}

/*
 * pgmsg.track_existing_roles(): record the dependencies of the rows that
 * exist, once, when the extension is updated to the version that tracks
 * them.
 */
Datum
pgmsg_track_existing_roles(PG_FUNCTION_ARGS)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT owner::pg_catalog.oid FROM pgmsg.queue_meta"
					" UNION ALL SELECT grantee::pg_catalog.oid FROM pgmsg.queue_grants"
					" UNION ALL SELECT owner::pg_catalog.oid FROM pgmsg.topic_meta"
					" UNION ALL SELECT grantee::pg_catalog.oid FROM pgmsg.topic_grants"
					" UNION ALL SELECT owner::pg_catalog.oid FROM pgmsg.subscription",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the roles pgmsg's objects name");
	for (uint64 i = 0; i < SPI_processed; i++)
		add_role_dependency(role_column(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * What depends on a role in this database, one line per object.  Grants
 * to a role are listed once per object.  A finished redrive task is only
 * a record (and is not dumped): it does not hold its role back.
 */
static const char *const dependents_sql =
"SELECT d FROM ("
"SELECT 1, pg_catalog.concat('owner of queue ', name) FROM pgmsg.queue_meta"
" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
" UNION ALL "
"SELECT 2, pg_catalog.concat('privileges for queue ', m.name)"
"  FROM pgmsg.queue_meta m"
" WHERE EXISTS (SELECT FROM pgmsg.queue_grants g"
"                WHERE g.queue_id OPERATOR(pg_catalog.=) m.queue_id"
"                  AND g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) $1)"
" UNION ALL "
"SELECT 3, pg_catalog.concat('owner of topic ', name) FROM pgmsg.topic_meta"
" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
" UNION ALL "
"SELECT 4, pg_catalog.concat('privileges for topic ', t.name)"
"  FROM pgmsg.topic_meta t"
" WHERE EXISTS (SELECT FROM pgmsg.topic_grants g"
"                WHERE g.topic_id OPERATOR(pg_catalog.=) t.topic_id"
"                  AND g.grantee::pg_catalog.oid OPERATOR(pg_catalog.=) $1)"
" UNION ALL "
"SELECT 5, pg_catalog.concat('owner of the subscription of queue ', q.name, ' to topic ', t.name)"
"  FROM pgmsg.subscription s"
"  JOIN pgmsg.topic_meta t ON t.topic_id OPERATOR(pg_catalog.=) s.topic_id"
"  JOIN pgmsg.queue_meta q ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
" WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
" UNION ALL "
"SELECT 6, pg_catalog.concat('owner of running redrive task ', task_id) FROM pgmsg.redrive_task"
" WHERE started_by::pg_catalog.oid OPERATOR(pg_catalog.=) $1"
"   AND state OPERATOR(pg_catalog.=) 'running'"
") x (k, d) ORDER BY k, d COLLATE pg_catalog.\"C\"";

/* Is pgmsg installed in this database, and may its tables be used? */
static bool
pgmsg_here(void)
{
	return !RecoveryInProgress() && IsTransactionState() &&
		OidIsValid(get_extension_oid("pgmsg", true));
}

/* Pin search_path for what follows; undone by AtEOXact_GUC(true, level). */
static int
pin_search_path(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/*
 * Before DROP ROLE: refuse, listing them, if pgmsg objects here depend on
 * one of the roles.
 */
static void
check_roles_in_use(List *oids, List *names)
{
	Oid			save_userid;
	int			save_sec;
	int			level;
	ListCell   *lo;
	ListCell   *ln;

	level = pin_search_path();
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	forboth(lo, oids, ln, names)
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		args[1];
		StringInfoData detail;

		args[0] = ObjectIdGetDatum(lfirst_oid(lo));
		if (SPI_execute_with_args(dependents_sql, 1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not look for pgmsg objects depending on role \"%s\"",
				 (char *) lfirst(ln));
		if (SPI_processed == 0)
			continue;
		initStringInfo(&detail);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			if (i > 0)
				appendStringInfoChar(&detail, '\n');
			appendStringInfoString(&detail,
								   SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		}
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("role \"%s\" cannot be dropped because some objects depend on it",
						(char *) lfirst(ln)),
				 errdetail("%s", detail.data),
				 errhint("Use REASSIGN OWNED or DROP OWNED in this database first.")));
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	AtEOXact_GUC(true, level);
}

/* The OIDs of a statement's roles, which PostgreSQL has already checked. */
static Datum
role_array(List *rolespecs)
{
	Datum	   *oids = palloc(sizeof(Datum) * Max(list_length(rolespecs), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, rolespecs)
		oids[n++] = ObjectIdGetDatum(get_rolespec_oid(lfirst(lc), false));
	return PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/*
 * REASSIGN OWNED BY roles TO newrole, for pgmsg's objects here.
 */
static void
reassign_owned(ReassignOwnedStmt *stmt)
{
	static const char *const updates[] = {
		"UPDATE pgmsg.queue_meta SET owner = $2"
		" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
		"UPDATE pgmsg.topic_meta SET owner = $2"
		" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
		"UPDATE pgmsg.subscription SET owner = $2"
		" WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
		"UPDATE pgmsg.redrive_task SET started_by = $2"
		" WHERE started_by::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
	};
	Oid			argtypes[2] = {OIDARRAYOID, REGROLEOID};
	Datum		args[2];
	Oid			save_userid;
	int			save_sec;
	int			level;

	args[0] = role_array(stmt->roles);
	args[1] = ObjectIdGetDatum(get_rolespec_oid(stmt->newrole, false));

	level = pin_search_path();
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < lengthof(updates); i++)
		if (SPI_execute_with_args(updates[i], 2, argtypes, args, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not reassign pgmsg objects");
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	AtEOXact_GUC(true, level);
	pgmsg_catalog_invalidate();
}

/*
 * Run one of pgmsg's functions for each row of "list" (read as the
 * extension owner, after what the calls before did), as the role running
 * DROP OWNED: "call" is the SELECT that calls it, with the row's columns
 * as $1 and $2.
 */
static void
drop_each(const char *list, const char *call, int nargs, Oid *argtypes, Datum roles)
{
	Oid			save_userid;
	int			save_sec;
	Oid			listtypes[1] = {OIDARRAYOID};
	Datum		listargs[1];
	SPITupleTable *rows;
	uint64		n;

	listargs[0] = roles;
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute_with_args(list, 1, listtypes, listargs, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list pgmsg objects to drop");
	pgmsg_restore_user(save_userid, save_sec);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		Datum		args[2];
		bool		isnull;

		for (int a = 0; a < nargs; a++)
			args[a] = SPI_getbinval(rows->vals[i], rows->tupdesc, a + 1, &isnull);
		if (SPI_execute_with_args(call, nargs, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not drop a pgmsg object");
	}
}

/*
 * DROP OWNED BY roles, for pgmsg's objects here.  Push subscriptions go
 * first (with their internal queues), then subscriptions, topics and
 * queues; a queue that another of the roles' queues dead-letters into is
 * dropped after it.
 */
static void
drop_owned(DropOwnedStmt *stmt)
{
	Datum		roles;
	ListCell   *lc;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Oid			idtypes[1] = {INT8OID};
	Oid			listtypes[1] = {OIDARRAYOID};
	Datum		listargs[1];
	Oid			save_userid;
	int			save_sec;
	int			level;
	bool		has_push;

	/* PostgreSQL's own check, which runs after this */
	foreach(lc, stmt->roles)
	{
		Oid			roleid = get_rolespec_oid(lfirst(lc), false);

		if (!has_privs_of_role(GetUserId(), roleid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to drop objects")));
	}
	roles = role_array(stmt->roles);

	level = pin_search_path();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	has_push = OidIsValid(get_relname_relid("push_subscription",
											get_namespace_oid("pgmsg", false)));
	if (has_push)
		drop_each("SELECT p.subscription_id::pg_catalog.int8"
				  "  FROM pgmsg.push_subscription p"
				  "  JOIN pgmsg.subscription s"
				  "    ON s.subscription_id OPERATOR(pg_catalog.=) p.subscription_id"
				  " WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)"
				  " ORDER BY 1",
				  "SELECT pgmsg.unsubscribe_push($1)", 1, idtypes, roles);
	drop_each("SELECT t.name, q.name FROM pgmsg.subscription s"
			  "  JOIN pgmsg.topic_meta t ON t.topic_id OPERATOR(pg_catalog.=) s.topic_id"
			  "  JOIN pgmsg.queue_meta q ON q.queue_id OPERATOR(pg_catalog.=) s.queue_id"
			  " WHERE s.owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)"
			  " ORDER BY 1, 2",
			  "SELECT pgmsg.unsubscribe($1, $2)", 2, argtypes, roles);
	drop_each("SELECT name FROM pgmsg.topic_meta"
			  " WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1) ORDER BY 1",
			  "SELECT pgmsg.drop_topic($1)", 1, argtypes, roles);
	/* queues no other queue of the roles dead-letters into first */
	drop_each("WITH RECURSIVE owned AS ("
			  "  SELECT queue_id, name, dead_letter_queue_id FROM pgmsg.queue_meta"
			  "   WHERE owner::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)),"
			  " depth (queue_id, d) AS ("
			  "  SELECT queue_id, 0 FROM owned o"
			  "   WHERE NOT EXISTS (SELECT FROM owned s"
			  "                      WHERE s.dead_letter_queue_id OPERATOR(pg_catalog.=) o.queue_id)"
			  "  UNION ALL"
			  "  SELECT o.dead_letter_queue_id, d.d OPERATOR(pg_catalog.+) 1"
			  "    FROM depth d JOIN owned o ON o.queue_id OPERATOR(pg_catalog.=) d.queue_id"
			  "   WHERE o.dead_letter_queue_id IS NOT NULL AND d.d OPERATOR(pg_catalog.<) 1000)"
			  " SELECT o.name FROM owned o"
			  "  LEFT JOIN (SELECT queue_id, max(d) AS d FROM depth GROUP BY queue_id) x"
			  "    ON x.queue_id OPERATOR(pg_catalog.=) o.queue_id"
			  " ORDER BY x.d NULLS LAST, o.name",
			  "SELECT pgmsg.drop_queue($1)", 1, argtypes, roles);

	/* what is left: the roles' privileges and redrive tasks */
	listargs[0] = roles;
	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_execute_with_args("DELETE FROM pgmsg.queue_grants"
							  " WHERE grantee::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
							  1, listtypes, listargs, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM pgmsg.topic_grants"
							  " WHERE grantee::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
							  1, listtypes, listargs, NULL, false, 0) != SPI_OK_DELETE ||
		SPI_execute_with_args("DELETE FROM pgmsg.redrive_task"
							  " WHERE started_by::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1)",
							  1, listtypes, listargs, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not revoke pgmsg privileges");
	pgmsg_restore_user(save_userid, save_sec);
	SPI_finish();

	/*
	 * Nothing here names the roles now.  PostgreSQL's DROP OWNED, which
	 * runs next, cannot handle a privilege on an extension: leave it none.
	 */
	foreach(lc, stmt->roles)
		forget_role_dependency(get_rolespec_oid(lfirst(lc), false), true);
	AtEOXact_GUC(true, level);
	pgmsg_catalog_invalidate();
}

static void
pgmsg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	List	   *drop_oids = NIL;
	List	   *drop_names = NIL;

	/*
	 * DROP ROLE: what here depends on the roles, listed, before PostgreSQL
	 * refuses in fewer words; only to a role that may drop them
	 * (PostgreSQL's own rule), and only for roles that exist.
	 */
	if (IsA(parsetree, DropRoleStmt) && pgmsg_here())
	{
		ListCell   *lc;

		foreach(lc, ((DropRoleStmt *) parsetree)->roles)
		{
			RoleSpec   *rs = lfirst(lc);
			Oid			roleid;

			if (rs->roletype != ROLESPEC_CSTRING)
				continue;
			roleid = get_role_oid(rs->rolename, true);
			if (!OidIsValid(roleid) ||
				!(superuser() || (has_createrole_privilege(GetUserId()) && !superuser_arg(roleid))))
				continue;
			drop_oids = lappend_oid(drop_oids, roleid);
			drop_names = lappend(drop_names, pstrdup(rs->rolename));
		}
		if (drop_oids != NIL)
			check_roles_in_use(drop_oids, drop_names);
	}

	/* DROP OWNED: pgmsg's first, as PostgreSQL's cannot handle them */
	if (IsA(parsetree, DropOwnedStmt) && pgmsg_here())
		drop_owned((DropOwnedStmt *) parsetree);

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	if (IsA(parsetree, ReassignOwnedStmt) && pgmsg_here())
		reassign_owned((ReassignOwnedStmt *) parsetree);
}

void
pgmsg_roles_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgmsg_ProcessUtility;
}
