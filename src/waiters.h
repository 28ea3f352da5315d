/*-------------------------------------------------------------------------
 *
 * waiters.h
 *		The long-poll receives waiting on a queue for messages (waiters.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_WAITERS_H
#define PGMSG_WAITERS_H

#include "shmem.h"

extern Size waiters_shmem_size(void);
extern void waiters_shmem_init(void);
extern void waiters_slot_init(QueueShared *qs);
extern void waiters_join(QueueShared *qs);
extern bool waiters_sleep(QueueShared *qs, long timeout_ms);
extern void waiters_leave(void);
extern void waiters_wake(QueueShared *qs, int64 n);
extern void waiters_wake_all(QueueShared *qs);

#endif							/* PGMSG_WAITERS_H */
