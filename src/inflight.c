/*-------------------------------------------------------------------------
 *
 * inflight.c
 *		The record of receive counts in flight, which outlives a crash.
 *
 * A first receive writes nothing to its queue's table (lease.c), so the
 * table's receive_count does not know about it; neither does it know about
 * a redelivery whose transaction has not committed.  Shared memory is lost
 * at a crash, so without more a message that crashes the server every time
 * it is processed would be handed out with receive count 1 forever and
 * never reach its dead-letter queue.
 *
 * So every lease also has a record, (database, queue, message id, receive
 * count), in the file pg_stat_tmp/pgmsg_inflight in the data directory,
 * mapped into shared memory (base backups leave pg_stat_tmp out: a standby
 * has no messages in flight).  Writing a record is a store to memory: no
 * WAL, no system call.  The pages belong to the file, so a crash of any
 * server process, the postmaster included, leaves them intact; an
 * operating system crash may lose them, as the file is never flushed.
 *
 * At every start the postmaster reads the file before anything else runs:
 * each message that had a lease when the server stopped gets a crash floor,
 * the receive count it was last handed out with.  Its next receive counts
 * from the greater of the floor and the table's receive_count, so the
 * count goes on from where it was and a redelivery writes it to the table
 * (receive.c).  A floor stays, in memory and in the file, until a receive
 * that used it commits, or its messages go (a purge, retention, a drop of
 * the queue, of the extension or of the database).  Merging takes the greatest count
 * for a message, so a floor and a lease of the same message may both be
 * in the file.
 *
 * Records: the file holds 2 * pgmsg.max_leases of them, room for every
 * lease and as many floors.  A record whose receive_count is 0 is free.
 * Free records are kept on a stack protected by a spinlock.  A lease's
 * record is written under its queue's lock, like the lease itself; the key
 * is written before the count and the count cleared before the key, so a
 * record half written when a process died reads as free.
 *
 * Floors: a shared hash table protected by one LWLock, last in the order
 * of shmem.c.  Its entry count is kept in an atomic as well, so
 * the receive path costs nothing while there are no floors.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgstat.h"
#include "storage/fd.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"

#include "inflight.h"
#include "lease.h"
#include "pgmsg.h"
#include "shmem.h"

#define INFLIGHT_FILE	PG_STAT_TMP_DIR "/pgmsg_inflight"

typedef struct InflightRecord
{
	Oid			dbid;
	int32		queue_id;
	int64		msg_id;
	int32		receive_count;	/* 0: free */
	int32		unused;
} InflightRecord;

typedef struct CrashFloor
{
	LeaseKey	key;			/* hash key: must be first */
	int32		receive_count;
	int32		record;
} CrashFloor;

typedef struct InflightShared
{
	slock_t		mutex;			/* protects nfree and free */
	int32		nfree;
	pg_atomic_uint32 nfloors;
	int32		free[FLEXIBLE_ARRAY_MEMBER];	/* free record numbers */
} InflightShared;

static InflightShared *inflight = NULL;
static HTAB *floors = NULL;

/* the mapped file; NULL if it could not be set up (then nothing is kept) */
static volatile InflightRecord *records = NULL;
static Size records_size = 0;

static int32
nrecords(void)
{
	return 2 * pgmsg_max_leases;
}

Size
inflight_shmem_size(void)
{
	Size		size;

	size = add_size(offsetof(InflightShared, free),
					mul_size(nrecords(), sizeof(int32)));
	return add_size(size, hash_estimate_size(pgmsg_max_leases, sizeof(CrashFloor)));
}

/*
 * Fold the records of a file left by the previous run into the floors.
 */
static void
read_previous(int fd)
{
	InflightRecord buf[256];
	off_t		offset = 0;
	int64		dropped = 0;
	ssize_t		n;

	while ((n = pg_pread(fd, buf, sizeof(buf), offset)) >= (ssize_t) sizeof(InflightRecord))
	{
		for (int i = 0; i < n / (ssize_t) sizeof(InflightRecord); i++)
		{
			InflightRecord *r = &buf[i];
			CrashFloor *f;
			LeaseKey	key;
			bool		found;

			if (r->receive_count <= 0 || !OidIsValid(r->dbid))
				continue;
			if (hash_get_num_entries(floors) >= pgmsg_max_leases)
			{
				dropped++;
				continue;
			}
			memset(&key, 0, sizeof(key));
			key.dbid = r->dbid;
			key.queue_id = r->queue_id;
			key.msg_id = r->msg_id;
			f = hash_search(floors, &key, HASH_ENTER_NULL, &found);
			if (f == NULL)
			{
				dropped++;
				continue;
			}
			if (!found || r->receive_count > f->receive_count)
				f->receive_count = r->receive_count;
		}
		offset += n - n % sizeof(InflightRecord);
	}
	if (n < 0)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", INFLIGHT_FILE)));
	if (dropped > 0)
		ereport(LOG,
				(errmsg("pgmsg forgot the receive counts of %lld messages in flight at the last stop",
						(long long) dropped),
				 errdetail("There were more than pgmsg.max_leases of them.")));
}

/*
 * Map the file afresh, empty but for the floors.  Returns false (and the
 * caller keeps no records) if the file cannot be set up, for instance on a
 * full disk: its blocks are allocated here, so that a store into the
 * mapping can never fail for want of space.
 */
static bool
map_file(int fd)
{
	void	   *p;
	int			rc;

	records_size = mul_size(nrecords(), sizeof(InflightRecord));
	if (ftruncate(fd, 0) != 0)
		return false;
	rc = posix_fallocate(fd, 0, records_size);
	if (rc != 0)
	{
		errno = rc;
		return false;
	}
	p = mmap(NULL, records_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return false;
	records = (volatile InflightRecord *) p;
	return true;
}

/*
 * Set up the floors and the records; called from shmem_startup_hook, in
 * the postmaster at every start and restart after a crash.
 */
void
inflight_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;
	int			fd;
	int32		used = 0;
	HASH_SEQ_STATUS status;
	CrashFloor *f;

	inflight = ShmemInitStruct("pgmsg inflight",
							   add_size(offsetof(InflightShared, free),
										mul_size(nrecords(), sizeof(int32))),
							   &found);
	info.keysize = sizeof(LeaseKey);
	info.entrysize = sizeof(CrashFloor);
	floors = ShmemInitHash("pgmsg crash floors", pgmsg_max_leases, pgmsg_max_leases,
						   &info, HASH_ELEM | HASH_BLOBS);
	if (found)
		return;

	SpinLockInit(&inflight->mutex);
	inflight->nfree = 0;
	pg_atomic_init_u32(&inflight->nfloors, 0);

	/* the mapping of the run before a crash restart */
	if (records != NULL)
	{
		munmap((void *) records, records_size);
		records = NULL;
	}

	fd = OpenTransientFile(INFLIGHT_FILE, O_RDWR | O_CREAT | PG_BINARY);
	if (fd < 0)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", INFLIGHT_FILE),
				 errdetail("Receive counts of messages in flight will not survive a crash.")));
		return;
	}
	read_previous(fd);
	if (!map_file(fd))
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not set up file \"%s\": %m", INFLIGHT_FILE),
				 errdetail("Receive counts of messages in flight will not survive a crash.")));
		CloseTransientFile(fd);
		return;
	}
	CloseTransientFile(fd);

	/* the floors go first in the new file, the rest is free */
	hash_seq_init(&status, floors);
	while ((f = hash_seq_search(&status)) != NULL)
	{
		volatile InflightRecord *r = &records[used];

		r->dbid = f->key.dbid;
		r->queue_id = f->key.queue_id;
		r->msg_id = f->key.msg_id;
		r->receive_count = f->receive_count;
		f->record = used++;
	}
	pg_atomic_write_u32(&inflight->nfloors, used);
	for (int32 i = nrecords() - 1; i >= used; i--)
		inflight->free[inflight->nfree++] = i;
	if (used > 0)
		ereport(LOG,
				(errmsg("pgmsg found %d messages in flight at the last stop", used),
				 errdetail("Their next receive counts on from the receive count they were last handed out with.")));
}

static void
free_record(int32 record)
{
	volatile InflightRecord *r = &records[record];

	r->receive_count = 0;
	pg_write_barrier();
	r->dbid = InvalidOid;
	SpinLockAcquire(&inflight->mutex);
	inflight->free[inflight->nfree++] = record;
	SpinLockRelease(&inflight->mutex);
}

/*
 * Give a new lease a record, with its key and no count yet.  Caller holds
 * the queue lock.
 */
void
inflight_attach(Lease *lease)
{
	volatile InflightRecord *r;
	int32		record = -1;

	lease->record = -1;
	if (records == NULL)
		return;
	SpinLockAcquire(&inflight->mutex);
	if (inflight->nfree > 0)
		record = inflight->free[--inflight->nfree];
	SpinLockRelease(&inflight->mutex);
	if (record < 0)
		return;
	r = &records[record];
	r->receive_count = 0;
	r->dbid = lease->key.dbid;
	r->queue_id = lease->key.queue_id;
	r->msg_id = lease->key.msg_id;
	pg_write_barrier();
	lease->record = record;
}

/*
 * Record a lease's receive count, after the caller changed it.  Caller
 * holds the queue lock.
 */
void
inflight_set_count(Lease *lease)
{
	if (lease->record >= 0)
		records[lease->record].receive_count = lease->receive_count;
}

/*
 * Free the record of a lease that is going away.  Caller holds the queue
 * lock (and may hold the partition locks).
 */
void
inflight_detach(Lease *lease)
{
	if (lease->record >= 0)
		free_record(lease->record);
	lease->record = -1;
}

/*
 * The crash floor of a message: the receive count it had been handed out
 * with when the server last stopped, or 0.
 */
int32
inflight_floor(const LeaseKey *key)
{
	CrashFloor *f;
	int32		count = 0;

	if (inflight == NULL || pg_atomic_read_u32(&inflight->nfloors) == 0)
		return 0;
	LWLockAcquire(pgmsg_inflight_lock(), LW_SHARED);
	f = hash_search(floors, key, HASH_FIND, NULL);
	if (f != NULL)
		count = f->receive_count;
	LWLockRelease(pgmsg_inflight_lock());
	return count;
}

static void
remove_floor(CrashFloor *f)
{
	LeaseKey	key = f->key;

	if (records != NULL)
		free_record(f->record);
	hash_search(floors, &key, HASH_REMOVE, NULL);
	pg_atomic_fetch_sub_u32(&inflight->nfloors, 1);
}

/*
 * Drop the floor of a message, once a receive that counted from it has
 * committed: the table has the count now.
 */
void
inflight_forget_floor(const LeaseKey *key)
{
	CrashFloor *f;

	if (pg_atomic_read_u32(&inflight->nfloors) == 0)
		return;
	LWLockAcquire(pgmsg_inflight_lock(), LW_EXCLUSIVE);
	f = hash_search(floors, key, HASH_FIND, NULL);
	if (f != NULL)
		remove_floor(f);
	LWLockRelease(pgmsg_inflight_lock());
}

/*
 * Drop the floors of database dbid's queues with ids in [first_id,
 * last_id] and message ids up to max_msg_id: their messages are gone.
 */
void
inflight_forget_floors(Oid dbid, int32 first_id, int32 last_id, int64 max_msg_id)
{
	HASH_SEQ_STATUS status;
	CrashFloor *f;

	if (pg_atomic_read_u32(&inflight->nfloors) == 0)
		return;
	LWLockAcquire(pgmsg_inflight_lock(), LW_EXCLUSIVE);
	hash_seq_init(&status, floors);
	while ((f = hash_seq_search(&status)) != NULL)
	{
		if (f->key.dbid == dbid && f->key.queue_id >= first_id &&
			f->key.queue_id <= last_id && f->key.msg_id <= max_msg_id)
			remove_floor(f);
	}
	LWLockRelease(pgmsg_inflight_lock());
}

/*
 * The greatest queue id of database dbid that has a floor, or 0.  A new
 * queue must not get such an id (shmem.c, pgmsg_max_slot_queue_id).
 */
int32
inflight_max_queue_id(Oid dbid)
{
	HASH_SEQ_STATUS status;
	CrashFloor *f;
	int32		result = 0;

	if (pg_atomic_read_u32(&inflight->nfloors) == 0)
		return 0;
	LWLockAcquire(pgmsg_inflight_lock(), LW_SHARED);
	hash_seq_init(&status, floors);
	while ((f = hash_seq_search(&status)) != NULL)
		if (f->key.dbid == dbid && f->key.queue_id > result)
			result = f->key.queue_id;
	LWLockRelease(pgmsg_inflight_lock());
	return result;
}
