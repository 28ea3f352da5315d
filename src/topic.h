/*-------------------------------------------------------------------------
 *
 * topic.h
 *		Topics and their subscriptions (topic.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_TOPIC_H
#define PGMSG_TOPIC_H

#include "pgmsg.h"
#include "utils/jsonb.h"

/* a subscription of a topic, private to topic.c */
typedef struct Subscription Subscription;

typedef struct TopicInfo
{
	char		name[PGMSG_NAME_MAXLEN + 1];	/* hash key: must be first */
	int32		topic_id;
	Oid			owner;
	bool		fifo;
	bool		content_based_dedup;
	Oid			privs_role;		/* privileges of privs_role (acl.c) */
	uint32		privs;
	int			nsubs;
	Subscription *subs;			/* in subscription order, in cxt */
	MemoryContext cxt;			/* owns subs and their compiled policies */
} TopicInfo;

extern TopicInfo *pgmsg_topic_lookup(const char *name, bool missing_ok);
extern void pgmsg_claim_name(bool topic, const char *name);
extern int	pgmsg_publish_one(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
							  text *group_id, text *dedup_id);
extern void pgmsg_jsonb_push_key(JsonbParseState **state, const char *key);
extern void pgmsg_jsonb_push_pair(JsonbParseState **state, const char *key,
								  const char *value);
extern void pgmsg_check_publish_args(TopicInfo *ti, Jsonb *body, Jsonb *attributes,
									 text *group_id, text *dedup_id);

#endif							/* PGMSG_TOPIC_H */
