/*-------------------------------------------------------------------------
 *
 * send.h
 *		Sending messages, and the checks of message arguments (send.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_SEND_H
#define PGMSG_SEND_H

#include "catalog.h"
#include "utils/jsonb.h"
#include "utils/rel.h"

extern void pgmsg_check_attributes(Jsonb *attributes);
extern Size pgmsg_message_size(Jsonb *body, Jsonb *attributes);
extern Datum *pgmsg_batch_bodies(FunctionCallInfo fcinfo, int argno, bool **nulls,
								  int *n);
extern Datum *pgmsg_batch_array(FunctionCallInfo fcinfo, int argno, Oid elemtype,
								 const char *what, int nbodies, bool **nulls);
extern text *pgmsg_content_dedup_id(Jsonb *body);
extern void pgmsg_check_fifo_ids(bool topic, const char *name, bool fifo,
								 text *group_id, text *dedup_id);
extern int64 pgmsg_send_one(QueueInfo *qi, QueueShared *qs, Jsonb *body,
							Jsonb *attributes, int64 delay, text *group_id,
							text *dedup_id);
extern int64 pgmsg_send_moved(QueueInfo *qi, QueueShared *qs, Jsonb *body,
							  Jsonb *attributes, TimestampTz sent_at,
							  int32 receive_count, const char *source_queue,
							  int32 source_queue_id, text *group_id);

#endif							/* PGMSG_SEND_H */
