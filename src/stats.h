/*-------------------------------------------------------------------------
 *
 * stats.h
 *		Queue statistics (stats.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_STATS_H
#define PGMSG_STATS_H

#include "shmem.h"

extern int64 pgmsg_stored_messages(QueueShared *qs, const char *name);
extern void stats_count_add(QueueShared *qs, int64 delta);
extern void stats_count_forget(QueueShared *qs);
extern bool stats_count_stale(QueueShared *qs);

#endif							/* PGMSG_STATS_H */
