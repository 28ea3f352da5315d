/*-------------------------------------------------------------------------
 *
 * roles.c
 *		Roles that own pgmsg objects or hold privileges on them: DROP ROLE,
 *		REASSIGN OWNED and DROP OWNED.
 *
 * pgmsg keeps the owners of queues, topics, subscriptions and redrive
 * tasks, and the grantees of its privileges, in its own tables as regrole
 * (acl.c).  PostgreSQL's record of who owns what (pg_shdepend) does not
 * see them, so without more DROP ROLE would leave them pointing at a role
 * that no longer exists: pg_dump would then write the bare OID, and a
 * restore would hand the object to whichever role has that OID there.
 * So a ProcessUtility hook does for pgmsg's objects in the current
 * database what PostgreSQL does for its own:
 *
 *	- DROP ROLE: after PostgreSQL's own processing (its privilege and
 *	  dependency checks, and the removal), refuse if a pgmsg object of this
 *	  database (a running redrive task included) depends on a dropped role.  The error rolls the drop back.
 *	  Checking after the removal means that a role not allowed to drop the
 *	  role learns nothing about pgmsg's objects.
 *	- REASSIGN OWNED BY old TO new: hands old's queues, topics,
 *	  subscriptions and redrive tasks to new.
 *	- DROP OWNED BY role: revokes the role's pgmsg privileges, deletes its
 *	  redrive tasks and drops its push subscriptions, subscriptions, topics
 *	  and queues through pgmsg's own functions (so everything those do on a
 *	  drop happens, and a queue that another role's queue dead-letters into
 *	  is refused, as PostgreSQL refuses to drop what others depend on).
 *
 * As with PostgreSQL's own REASSIGN OWNED and DROP OWNED, this acts in the
 * current database only: pgmsg's tables are per database, and a backend
 * cannot read another database's.  A DROP ROLE run in a database where the
 * role owns nothing of pgmsg's is not stopped by queues it owns elsewhere.
 *
 * Locking: none of its own.  Reading and writing pgmsg's tables takes the
 * usual row and table locks; the drops take what pgmsg's functions take.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
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
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "pgmsg.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

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
 * After DROP ROLE removed the roles: refuse if pgmsg objects here depend on
 * one of them.
 */
static void
check_dropped_roles(List *oids, List *names)
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
	Datum		roles = role_array(stmt->roles);
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Oid			idtypes[1] = {INT8OID};
	Oid			listtypes[1] = {OIDARRAYOID};
	Datum		listargs[1];
	Oid			save_userid;
	int			save_sec;
	int			level;
	bool		has_push;

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

	/* the roles' OIDs, before DROP ROLE removes them */
	if (IsA(parsetree, DropRoleStmt))
	{
		ListCell   *lc;

		foreach(lc, ((DropRoleStmt *) parsetree)->roles)
		{
			RoleSpec   *rs = lfirst(lc);
			Oid			roleid;

			if (rs->roletype != ROLESPEC_CSTRING)
				continue;
			roleid = get_role_oid(rs->rolename, true);
			if (!OidIsValid(roleid))
				continue;
			drop_oids = lappend_oid(drop_oids, roleid);
			drop_names = lappend(drop_names, pstrdup(rs->rolename));
		}
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	switch (nodeTag(parsetree))
	{
		case T_DropRoleStmt:
			if (drop_oids != NIL && pgmsg_here())
				check_dropped_roles(drop_oids, drop_names);
			break;
		case T_ReassignOwnedStmt:
			if (pgmsg_here())
				reassign_owned((ReassignOwnedStmt *) parsetree);
			break;
		case T_DropOwnedStmt:
			if (pgmsg_here())
				drop_owned((DropOwnedStmt *) parsetree);
			break;
		default:
			break;
	}
}

void
pgmsg_roles_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgmsg_ProcessUtility;
}
