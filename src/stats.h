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

#endif							/* PGMSG_STATS_H */
