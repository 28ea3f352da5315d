/*-------------------------------------------------------------------------
 *
 * launcher.h
 *		The seam between the launcher (launcher.c), which keeps a table of
 *		databases and starts a worker in each, and the per-database worker
 *		(worker.c), which claims its database's entry and reports its state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_LAUNCHER_H
#define PGMSG_LAUNCHER_H

#include "pgmsg.h"

/* The state of a database's entry; see launcher.c for who sets which. */
typedef enum DbState
{
	DB_FREE = 0,				/* entry unused */
	DB_UNKNOWN,
	DB_STARTING,
	DB_RUNNING,
	DB_NOT_INSTALLED,
	DB_FAILED
} DbState;

/* for the rest of pgmsg */
extern void pgmsg_launcher_init(void);
extern Size launcher_shmem_size(void);
extern void launcher_shmem_init(void);
extern void pgmsg_worker_wake(void);
extern void pgmsg_worker_request_start(void);

/* for worker.c */
extern bool launcher_claim_entry(uint32 *requests);
extern uint32 launcher_start_requests(void);
extern void launcher_set_state(DbState state, uint32 requests);
extern void launcher_release_entry(int code, Datum arg);

#endif							/* PGMSG_LAUNCHER_H */
