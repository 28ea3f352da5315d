/*-------------------------------------------------------------------------
 *
 * xact.h
 *		Transaction-scoped effects on shared memory, applied at commit and
 *		undone at abort (xact.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_XACT_H
#define PGMSG_XACT_H

#include "lease.h"

extern void pgmsg_xact_init(void);
extern void xact_track_receive(QueueShared *qs, const LeaseUndo *undo);
extern void xact_track_delete(QueueShared *qs, const LeaseKey *key,
							  uint64 nonce, LeaseState prev_state);
extern void xact_track_visibility(QueueShared *qs, const LeaseKey *key,
								  uint64 nonce, TimestampTz expires_at,
								  LeaseState state, TimestampTz prev_expires_at);
extern bool xact_track_publish(QueueShared *qs, int64 nsent);
extern void xact_track_delayed(QueueShared *qs);
extern void xact_track_drop(int32 queue_id);
extern void xact_note_ack_wal(int64 records);
extern void xact_track_dead_letter(QueueShared *qs);
extern void xact_track_worker(bool start);
extern void xact_track_purge(int32 queue_id, int64 max_msg_id);
extern void xact_track_create(int32 queue_id);
extern void xact_track_received(QueueShared *qs, int64 n);
extern void xact_reserve(int n);

#endif							/* PGMSG_XACT_H */
