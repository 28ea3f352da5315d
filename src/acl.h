/*-------------------------------------------------------------------------
 *
 * acl.h
 *		Privileges on queues and topics (acl.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_ACL_H
#define PGMSG_ACL_H

#include "catalog.h"

#define PGMSG_PRIV_SEND		(1 << 0)
#define PGMSG_PRIV_RECEIVE	(1 << 1)
#define PGMSG_PRIV_MANAGE	(1 << 2)
#define PGMSG_PRIV_PUBLISH	(1 << 3)
#define PGMSG_PRIV_SUBSCRIBE (1 << 4)

extern void pgmsg_check_privilege(QueueInfo *qi, uint32 priv);
extern uint32 pgmsg_load_privileges(QueueInfo *qi, Oid roleid);
struct TopicInfo;
extern void pgmsg_check_topic_privilege(struct TopicInfo *ti, uint32 priv);
extern bool pgmsg_has_topic_privilege(struct TopicInfo *ti, uint32 priv);

#endif							/* PGMSG_ACL_H */
