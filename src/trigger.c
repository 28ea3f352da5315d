/*-------------------------------------------------------------------------
 *
 * trigger.c
 *		pgmsg.publish_trigger(topic): a row trigger that publishes each
 *		INSERT, UPDATE and DELETE of a table to a topic.
 *
 *		CREATE TRIGGER orders_changes
 *			AFTER INSERT OR UPDATE OR DELETE ON orders
 *			FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('orders');
 *
 * The message body is {"schema", "table", "operation", "old", "new"}, the
 * rows as JSON objects (null where the operation has none); the attributes
 * are {"schema", "table", "operation"}, so filter policies can select by
 * table and operation.  On a FIFO topic the group id is the table's
 * qualified name, so each table's changes stay in order.  The message is
 * published in the transaction that changed the row, with the privileges
 * of the role that changed it, which needs "publish" on the topic.
 *
 * Nothing here takes locks of its own; publishing does (topic.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "acl.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(pgmsg_publish_trigger);

/* to_jsonb, set up for the trigger's table's row type */
typedef struct RowToJsonb
{
	Oid			rowtype;
	FmgrInfo	flinfo;
} RowToJsonb;

/*
 * A row as a jsonb object, by to_jsonb.  to_jsonb takes the type of its
 * argument from the call expression, so one is made up for it, once per
 * row type, and kept in the trigger function's fn_extra.
 */
static JsonbValue *
row_value(FunctionCallInfo fcinfo, HeapTuple tuple, TupleDesc tupdesc)
{
	RowToJsonb *conv = fcinfo->flinfo->fn_extra;
	Jsonb	   *jb;
	JsonbValue *v;

	if (conv == NULL || conv->rowtype != tupdesc->tdtypeid)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		Node	   *arg = (Node *) makeNullConst(tupdesc->tdtypeid, -1, InvalidOid);

		if (conv == NULL)
			conv = palloc(sizeof(RowToJsonb));
		conv->rowtype = tupdesc->tdtypeid;
		fmgr_info_cxt(F_TO_JSONB, &conv->flinfo, fcinfo->flinfo->fn_mcxt);
		conv->flinfo.fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
													 list_make1(arg), InvalidOid,
													 InvalidOid, COERCE_EXPLICIT_CALL);
		fcinfo->flinfo->fn_extra = conv;
		MemoryContextSwitchTo(old);
	}
	jb = DatumGetJsonbP(FunctionCall1(&conv->flinfo,
									  heap_copy_tuple_as_datum(tuple, tupdesc)));
	v = palloc(sizeof(JsonbValue));
	v->type = jbvBinary;
	v->val.binary.data = &jb->root;
	v->val.binary.len = VARSIZE(jb) - VARHDRSZ;
	return v;
}

static void
push_row(JsonbParseState **state, const char *key, JsonbValue *row)
{
	JsonbValue	null;

	pgmsg_jsonb_push_key(state, key);
	if (row == NULL)
	{
		null.type = jbvNull;
		row = &null;
	}
	pushJsonbValue(state, WJB_VALUE, row);
}

Datum
pgmsg_publish_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	const char *topic;
	const char *operation;
	char	   *schema;
	char	   *table;
	JsonbValue *old_row = NULL;
	JsonbValue *new_row = NULL;
	JsonbParseState *state = NULL;
	Jsonb	   *body;
	Jsonb	   *attributes;
	TopicInfo  *ti;
	text	   *group_id = NULL;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pgmsg.publish_trigger() must be called as a trigger")));
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pgmsg.publish_trigger() must be fired FOR EACH ROW")));
	if (td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgmsg.publish_trigger() takes one argument, the topic name"),
				 errdetail("Trigger \"%s\" passes %d.", td->tg_trigger->tgname,
						   td->tg_trigger->tgnargs)));
	topic = td->tg_trigger->tgargs[0];
	ti = pgmsg_topic_lookup(topic, false);
	pgmsg_check_topic_privilege(ti, PGMSG_PRIV_PUBLISH);

	rel = td->tg_relation;
	tupdesc = RelationGetDescr(rel);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		operation = "INSERT";
		new_row = row_value(fcinfo, td->tg_trigtuple, tupdesc);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		operation = "UPDATE";
		old_row = row_value(fcinfo, td->tg_trigtuple, tupdesc);
		new_row = row_value(fcinfo, td->tg_newtuple, tupdesc);
	}
	else
	{
		operation = "DELETE";
		old_row = row_value(fcinfo, td->tg_trigtuple, tupdesc);
	}
	schema = get_namespace_name(RelationGetNamespace(rel));
	table = RelationGetRelationName(rel);

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	pgmsg_jsonb_push_pair(&state, "schema", schema);
	pgmsg_jsonb_push_pair(&state, "table", table);
	pgmsg_jsonb_push_pair(&state, "operation", operation);
	push_row(&state, "old", old_row);
	push_row(&state, "new", new_row);
	body = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	state = NULL;
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	pgmsg_jsonb_push_pair(&state, "schema", schema);
	pgmsg_jsonb_push_pair(&state, "table", table);
	pgmsg_jsonb_push_pair(&state, "operation", operation);
	attributes = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL));

	if (ti->fifo)
		group_id = cstring_to_text(quote_qualified_identifier(schema, table));
	pgmsg_check_publish_args(ti, body, attributes, group_id, NULL);
	pgmsg_publish_one(ti, body, attributes, group_id, NULL);

	if (TRIGGER_FIRED_AFTER(td->tg_event))
		return PointerGetDatum(NULL);
	return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ?
						   td->tg_newtuple : td->tg_trigtuple);
}
