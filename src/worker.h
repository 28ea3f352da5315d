/*-------------------------------------------------------------------------
 *
 * worker.h
 *		The per-database background worker (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_WORKER_H
#define PGMSG_WORKER_H

#include "pgmsg.h"

extern void pgmsg_worker_init(void);

#endif							/* PGMSG_WORKER_H */
