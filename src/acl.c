/*-------------------------------------------------------------------------
 *
 * acl.c
 *		pgmsg's own privileges: pgmsg.grant, pgmsg.revoke and the checks
 *		every entry point makes.
 *
 * A queue's or topic's creator owns it; superusers and members of the
 * owning role may do anything with it.  Other roles need a privilege
 * granted on it.  On a queue: "send", "receive" (which includes delete and
 * change_visibility) or "manage" (alter, purge, drop, grant and revoke).
 * On a topic: "publish", "subscribe" (subscribe and unsubscribe queues the
 * role manages) or "manage" (drop, grant, revoke, and unsubscribe any
 * queue).  Queues and topics share one namespace, so an object name says
 * which it is.  Owners and grantees are stored as regrole, which pg_dump
 * writes by name, so they follow roles into another cluster.  Grants to
 * PUBLIC are stored with grantee 0.  Grants live in
 * pgmsg.queue_grants and pgmsg.topic_grants; a backend computes the
 * privileges of its current role on an object once and keeps them in the
 * queue or topic cache (catalog.c, topic.c) until a grant, a revoke or a
 * role membership change invalidates it.
 *
 * A revoke also undoes what the right set up, because the rights behind a
 * dead-letter link and a subscription are checked again where they are
 * used: the queue cache (catalog.c) records whether a queue's owner may
 * still send to its dead-letter queue, and the topic cache (topic.c) keeps
 * only the subscriptions whose owners still hold subscribe (or manage) on
 * the topic and manage on the queue.  Both caches are rebuilt after every
 * grant, revoke and role membership change.
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

#include "acl.h"
#include "catalog.h"
#include "topic.h"

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
	{"publish", PGMSG_PRIV_PUBLISH},
	{"subscribe", PGMSG_PRIV_SUBSCRIBE},
};

#define QUEUE_PRIVILEGES	(PGMSG_PRIV_SEND | PGMSG_PRIV_RECEIVE | PGMSG_PRIV_MANAGE)
#define TOPIC_PRIVILEGES	(PGMSG_PRIV_PUBLISH | PGMSG_PRIV_SUBSCRIBE | PGMSG_PRIV_MANAGE)

static const char *
privilege_name(uint32 priv)
{
	for (int i = 0; i < lengthof(privilege_names); i++)
		if (privilege_names[i].bit == priv)
			return privilege_names[i].name;
	return "?";
}

/*
 * The bit of a privilege named by the user, which must apply to the kind
 * of object ("queue" or "topic") it is granted on.
 */
static uint32
privilege_bit(const char *name, bool topic)
{
	uint32		valid = topic ? TOPIC_PRIVILEGES : QUEUE_PRIVILEGES;

	for (int i = 0; i < lengthof(privilege_names); i++)
		if (strcmp(privilege_names[i].name, name) == 0 &&
			(privilege_names[i].bit & valid) != 0)
			return privilege_names[i].bit;
	if (topic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized topic privilege \"%s\"", name),
				 errhint("Topic privileges are \"publish\", \"subscribe\" and \"manage\".")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unrecognized queue privilege \"%s\"", name),
			 errhint("Queue privileges are \"send\", \"receive\" and \"manage\".")));
	return 0;					/* keep compiler quiet */
}

/*
 * The privileges "roleid" holds through grants on the queue or topic "id".
 */
static uint32
load_grants(bool topic, int32 id, Oid roleid)
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
	args[0] = Int32GetDatum(id);
	ret = SPI_execute_with_args(topic ?
								"SELECT grantee, privilege FROM pgmsg.topic_grants"
								" WHERE topic_id OPERATOR(pg_catalog.=) $1" :
								"SELECT grantee, privilege FROM pgmsg.queue_grants"
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
			privs |= privilege_bit(priv, topic);
	}
	SPI_finish();
	pgmsg_restore_user(save_userid, save_sec);
	return privs;
}

/*
 * The privileges "roleid" holds on a queue through grants.
 */
uint32
pgmsg_load_privileges(QueueInfo *qi, Oid roleid)
{
	return load_grants(false, qi->queue_id, roleid);
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
 * Does the current user hold "priv" on the topic?
 */
bool
pgmsg_has_topic_privilege(TopicInfo *ti, uint32 priv)
{
	Oid			roleid = GetUserId();

	if (ti->privs_role != roleid)
	{
		if (superuser_arg(roleid) || has_privs_of_role(roleid, ti->owner))
			ti->privs = TOPIC_PRIVILEGES;
		else
			ti->privs = load_grants(true, ti->topic_id, roleid);
		ti->privs_role = roleid;
	}
	return (ti->privs & priv) != 0;
}

/*
 * Raise an error unless the current user holds "priv" on the topic.
 */
void
pgmsg_check_topic_privilege(TopicInfo *ti, uint32 priv)
{
	if (!pgmsg_has_topic_privilege(ti, priv))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for topic \"%s\"", ti->name),
				 errdetail("The \"%s\" privilege on the topic is required.",
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
	TopicInfo  *ti = NULL;
	int32		id;
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

	pgmsg_refuse_in_recovery(is_grant ?
							 gettext_noop("cannot grant privileges on \"%s\" during recovery") :
							 gettext_noop("cannot revoke privileges on \"%s\" during recovery"),
							 object);
	qi = pgmsg_queue_lookup(object, true);
	if (qi == NULL)
		ti = pgmsg_topic_lookup(object, true);
	if (qi == NULL && ti == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue or topic \"%s\" does not exist", object)));
	if (qi != NULL)
	{
		pgmsg_check_privilege(qi, PGMSG_PRIV_MANAGE);
		id = qi->queue_id;
	}
	else
	{
		pgmsg_check_topic_privilege(ti, PGMSG_PRIV_MANAGE);
		id = ti->topic_id;
	}

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
		bits |= privilege_bit(TextDatumGetCString(elems[i]), ti != NULL);
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
		args[0] = Int32GetDatum(id);
		args[1] = ObjectIdGetDatum(grantee);
		args[2] = CStringGetTextDatum(privilege_names[i].name);
		if (is_grant && ti == NULL)
			ret = SPI_execute_with_args("INSERT INTO pgmsg.queue_grants (queue_id, grantee, privilege)"
										" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
										3, argtypes, args, NULL, false, 0);
		else if (is_grant)
			ret = SPI_execute_with_args("INSERT INTO pgmsg.topic_grants (topic_id, grantee, privilege)"
										" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
										3, argtypes, args, NULL, false, 0);
		else if (ti == NULL)
			ret = SPI_execute_with_args("DELETE FROM pgmsg.queue_grants"
										" WHERE queue_id OPERATOR(pg_catalog.=) $1"
										"   AND grantee OPERATOR(pg_catalog.=) $2"
										"   AND privilege OPERATOR(pg_catalog.=) $3",
										3, argtypes, args, NULL, false, 0);
		else
			ret = SPI_execute_with_args("DELETE FROM pgmsg.topic_grants"
										" WHERE topic_id OPERATOR(pg_catalog.=) $1"
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
