/*-------------------------------------------------------------------------
 *
 * redrive.h
 *		Redrive of dead-letter queues and deduplication cleanup (redrive.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_REDRIVE_H
#define PGMSG_REDRIVE_H

#include "catalog.h"

extern bool pgmsg_redrive_task_step(int64 *task_id);
extern void pgmsg_redrive_task_failed(int64 task_id, int sqlerrcode,
									  const char *message);
extern uint64 pgmsg_dedup_cleanup(int limit);

#endif							/* PGMSG_REDRIVE_H */
