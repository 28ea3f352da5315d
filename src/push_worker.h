/*-------------------------------------------------------------------------
 *
 * push_worker.h
 *		The push worker, as the rest of pgmsg sees it (push_worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_PUSH_WORKER_H
#define PGMSG_PUSH_WORKER_H

#include "pgmsg.h"

struct BackgroundWorkerHandle;
extern void pgmsg_push_init(void);
extern bool pgmsg_push_worker_check(struct BackgroundWorkerHandle **handle,
									bool have_subscriptions);

#endif							/* PGMSG_PUSH_WORKER_H */
