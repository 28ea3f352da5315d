/*-------------------------------------------------------------------------
 *
 * inflight.h
 *		Receive counts of messages in flight, kept across crashes
 *		(inflight.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_INFLIGHT_H
#define PGMSG_INFLIGHT_H

#include "lease.h"

extern Size inflight_shmem_size(void);
extern void inflight_shmem_startup(void);
extern void inflight_attach(Lease *lease);
extern void inflight_set_count(Lease *lease);
extern void inflight_detach(Lease *lease);
extern int32 inflight_floor(const LeaseKey *key);
extern void inflight_forget_floor(const LeaseKey *key);
extern void inflight_forget_floors(Oid dbid, int32 first_id, int32 last_id,
								   int64 max_msg_id);
extern int32 inflight_max_queue_id(Oid dbid);

#endif							/* PGMSG_INFLIGHT_H */
