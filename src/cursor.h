/*-------------------------------------------------------------------------
 *
 * cursor.h
 *		Key assignment, the per-queue cursor of fresh messages and its
 *		read-ahead (cursor.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_CURSOR_H
#define PGMSG_CURSOR_H

#include "shmem.h"

extern TimestampTz cursor_assign_key(QueueShared *qs, bool register_bound,
									 int64 delay, TimestampTz *sent_at);
extern TimestampTz cursor_limit(QueueShared *qs);
extern void cursor_get(QueueShared *qs, TimestampTz *at, int64 *id);
extern void cursor_advance(QueueShared *qs, TimestampTz at, int64 id);
extern void cursor_reset(QueueShared *qs);
extern void cursor_rewind(QueueShared *qs, TimestampTz at, int64 id);
extern void cursor_clear_bound(QueueShared *qs);
extern bool cursor_ahead_get(QueueShared *qs, int i, FreshMessage *m);
extern bool cursor_ahead_peek(QueueShared *qs, FreshMessage *m);
extern int	cursor_ahead_hint(QueueShared *qs);
extern void cursor_ahead_remove(QueueShared *qs, int i);
extern bool cursor_ahead_last(QueueShared *qs, TimestampTz *at, int64 *id);
extern bool cursor_ahead_push(QueueShared *qs, const FreshMessage *m);
extern void cursor_ahead_clear(QueueShared *qs);

#endif							/* PGMSG_CURSOR_H */
