/*-------------------------------------------------------------------------
 *
 * acl.c
 *		pgmsg's own privileges: pgmsg.grant, pgmsg.revoke and the checks
 *		every entry point makes.
 *
 * A queue's creator owns it; superusers and members of the owning role may
 * do anything with it.  Other roles need a privilege granted on the queue:
 * "send", "receive" (which includes delete and change_visibility) or
 * "manage" (alter, purge, drop, grant and revoke).  Grants to PUBLIC are
 * stored with grantee 0.  Grants live in pgmsg.queue_grants; a backend
 * computes the privileges of its current role on a queue once and keeps
 * them in the queue cache (catalog.c) until a grant, a revoke or a role
 * membership change invalidates it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "pgmsg.h"

PG_FUNCTION_INFO_V1(pgmsg_grant);
PG_FUNCTION_INFO_V1(pgmsg_revoke);

static const struct
{
	const char *name;
	uint32		bit;
}			privilege_names[] =
{
	{"send", PGMSG_PRIV_SEND},
	{"receive", PGMSG_PRIV_RECEIVE},
	{"manage", PGMSG_PRIV_MANAGE},
};

static const char *
privilege_name(uint32 priv)
{
	for (int i = 0; i < lengthof(privilege_names); i++)
		if (privilege_names[i].bit == priv)
			return privilege_names[i].name;
	return "?";
}

static uint32
privilege_bit(const char *name)
{
	for (int i = 0; i < lengthof(privilege_names); i++)
		if (strcmp(privilege_names[i].name, name) == 0)
			return privilege_names[i].bit;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized privilege \"%s\"", name),
			 errhint("Queue privileges are \"send\", \"receive\" and \"manage\".")));
	return 0;					/* keep compiler quiet */
}

/*
 * The privileges "roleid" holds on a queue through grants.
 */
uint32
pgmsg_load_privileges(QueueInfo *qi, Oid roleid)
{
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	uint32		privs = 0;
	int			ret;

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = Int32GetDatum(qi->queue_id);
	ret = SPI_execute_with_args("SELECT grantee, privilege FROM pgmsg.queue_grants"
								" WHERE queue_id OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			grantee;
		char	   *priv;

		grantee = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
												 SPI_tuptable->tupdesc, 1, &isnull));
		priv = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		if (grantee == InvalidOid || has_privs_of_role(roleid, grantee))
			privs |= privilege_bit(priv);
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	return privs;
}

/*
 * Raise an error unless the current user holds "priv" on the queue.
 */
void
pgmsg_check_privilege(QueueInfo *qi, uint32 priv)
{
	Oid			roleid = GetUserId();

	if (qi->privs_role != roleid)
	{
		uint32		privs;

		if (superuser_arg(roleid) || has_privs_of_role(roleid, qi->owner))
			privs = PGMSG_PRIV_SEND | PGMSG_PRIV_RECEIVE | PGMSG_PRIV_MANAGE;
		else
			privs = pgmsg_load_privileges(qi, roleid);
		qi->privs = privs;
		qi->privs_role = roleid;
	}
	if ((qi->privs & priv) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for queue \"%s\"", qi->name),
				 errdetail("The \"%s\" privilege on the queue is required.",
						   privilege_name(priv))));
}

/*
 * Shared part of grant and revoke.
 */
static void
change_grants(FunctionCallInfo fcinfo, bool is_grant)
{
	char	   *object = pgmsg_text_arg(fcinfo, 0, "object");
	QueueInfo  *qi;
	Oid			grantee;
	ArrayType  *privs;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	uint32		bits = 0;
	Oid			save_userid;
	int			save_sec;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("privileges must not be null")));

	qi = pgmsg_queue_lookup(object, false);
	pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);

	if (strcmp(NameStr(*PG_GETARG_NAME(1)), "public") == 0)
		grantee = InvalidOid;
	else
		grantee = get_role_oid(NameStr(*PG_GETARG_NAME(1)), false);

	privs = PG_GETARG_ARRAYTYPE_P(2);
	deconstruct_array(privs, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("privileges must not be empty")));
	for (int i = 0; i < nelems; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("privileges must not contain null")));
		bits |= privilege_bit(TextDatumGetCString(elems[i]));
	}

	pgmsg_become_owner(&save_userid, &save_sec);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	for (int i = 0; i < lengthof(privilege_names); i++)
	{
		Oid			argtypes[3] = {INT4OID, OIDOID, TEXTOID};
		Datum		args[3];
		int			ret;

		if ((bits & privilege_names[i].bit) == 0)
			continue;
		args[0] = Int32GetDatum(qi->queue_id);
		args[1] = ObjectIdGetDatum(grantee);
		args[2] = CStringGetTextDatum(privilege_names[i].name);
		if (is_grant)
			ret = SPI_execute_with_args("INSERT INTO pgmsg.queue_grants (queue_id, grantee, privilege)"
										" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
										3, argtypes, args, NULL, false, 0);
		else
			ret = SPI_execute_with_args("DELETE FROM pgmsg.queue_grants"
										" WHERE queue_id OPERATOR(pg_catalog.=) $1"
										"   AND grantee OPERATOR(pg_catalog.=) $2"
										"   AND privilege OPERATOR(pg_catalog.=) $3",
										3, argtypes, args, NULL, false, 0);
		if (ret < 0)
			elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	pgmsg_catalog_invalidate();
}

/*
 * pgmsg.grant(object text, role name, privileges text[])
 */
Datum
pgmsg_grant(PG_FUNCTION_ARGS)
{
	change_grants(fcinfo, true);
	PG_RETURN_VOID();
}

/*
 * pgmsg.revoke(object text, role name, privileges text[])
 */
Datum
pgmsg_revoke(PG_FUNCTION_ARGS)
{
	change_grants(fcinfo, false);
	PG_RETURN_VOID();
}
