/*-------------------------------------------------------------------------
 *
 * pgmsg.c
 *		Module entry point: GUCs, shared memory hooks and callbacks.
 *
 * pgmsg must be loaded through shared_preload_libraries, because leases,
 * cursors and publisher bounds live in shared memory.  Loaded any other way
 * the library only reserves the pgmsg GUC prefix (a postmaster-level GUC
 * cannot be defined after startup), and every SQL function raises an error
 * saying so (shmem.c, pgmsg_check_loaded).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "catalog.h"
#include "launcher.h"
#include "pgmsg.h"
#include "push_worker.h"
#include "roles.h"
#include "shmem.h"
#include "worker.h"
#include "xact.h"

PG_MODULE_MAGIC;

int			pgmsg_max_leases = 100000;
int			pgmsg_queue_lease_share = 50;
int			pgmsg_max_queues = 1024;
bool		pgmsg_durable_acks = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

static void
pgmsg_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	pgmsg_shmem_request();
}

static void
pgmsg_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgmsg_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	/*
	 * Without the preload there is no shared memory to size, and a
	 * postmaster-level setting could not be defined this late anyway.
	 */
	if (!process_shared_preload_libraries_in_progress)
	{
		MarkGUCPrefixReserved("pgmsg");
		return;
	}

	DefineCustomIntVariable("pgmsg.max_leases",
							"Maximum number of messages in flight, over all queues.",
							"Each message handed out by a receive holds a lease in shared memory until it is deleted.",
							&pgmsg_max_leases,
							100000, 16, INT_MAX / 2,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.queue_lease_share",
							"Percentage of pgmsg.max_leases that the messages in flight of one queue may take.",
							"A queue's in-flight limit is the lesser of its max_in_flight and this share of the lease map, so that no queue can take every lease.",
							&pgmsg_queue_lease_share,
							50, 1, 100,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgmsg.max_queues",
							"Maximum number of queues in use at once, over all databases.",
							NULL,
							&pgmsg_max_queues,
							1024, 1, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("pgmsg.durable_acks",
							 "Makes a transaction whose only writes are deletes of received messages wait for its WAL flush.",
							 "When off, such a transaction commits as with synchronous_commit = off: a crash may forget its deletes, and the messages are delivered again.",
							 &pgmsg_durable_acks,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	pgmsg_launcher_init();
	pgmsg_worker_init();
	pgmsg_push_init();
	MarkGUCPrefixReserved("pgmsg");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgmsg_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgmsg_shmem_startup_hook;

	pgmsg_xact_init();
	pgmsg_catalog_init();
	pgmsg_roles_init();
}
