/*-------------------------------------------------------------------------
 *
 * pgmsg.h
 *		Limits, GUCs and the layout of a queue table, shared by every part
 *		of pgmsg.
 *
 * pgmsg keeps each queue as an insert-only table ordered by the key
 * (visible_at, msg_id), plus three structures in shared memory: a per-queue
 * cursor and clock (cursor.c), the in-flight lease map with its per-queue
 * redelivery heap (lease.c), and the per-backend lower bounds of keys that
 * publishers are about to assign (cursor.c).  Transaction-scoped effects on
 * shared memory are queued in xact.c and applied at commit or undone at
 * abort.
 *
 * Each .c file declares what it offers the others in a header of its own
 * name; its #include lines show what it depends on.  The locking order that
 * binds them all is described at the top of shmem.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_PGMSG_H
#define PGMSG_PGMSG_H

#include "datatype/timestamp.h"

#define PGMSG_NAME_MAXLEN		48
#define PGMSG_MAX_ATTRIBUTES	10
#define PGMSG_MAX_BATCH			1000
/* the largest message a topic takes, SNS's; subscribed queues take it too */
#define PGMSG_TOPIC_MAX_MESSAGE	262144

/* Limits of the interval arguments, in microseconds. */
#define PGMSG_MAX_VISIBILITY	(12 * USECS_PER_HOUR)
#define PGMSG_MAX_DELAY			(15 * 60 * USECS_PER_SEC)
#define PGMSG_MAX_WAIT			(20 * USECS_PER_SEC)
#define PGMSG_MIN_RETENTION		(60 * USECS_PER_SEC)
#define PGMSG_MAX_RETENTION		(14 * USECS_PER_DAY)

/* Messages in flight per queue: SQS's limits are the defaults. */
#define PGMSG_DEFAULT_IN_FLIGHT		120000
#define PGMSG_DEFAULT_IN_FLIGHT_FIFO 20000
#define PGMSG_MAX_IN_FLIGHT			1000000

/* Column numbers of a queue table, see catalog.c's CREATE TABLE. */
#define Anum_q_msg_id				1
#define Anum_q_visible_at			2
#define Anum_q_sent_at				3
#define Anum_q_receive_count		4
#define Anum_q_first_received_at	5
#define Anum_q_body					6
#define Anum_q_attributes			7
#define Anum_q_source_queue			8
#define Anum_q_group_id				9
#define Anum_q_source_queue_id		10
#define Natts_q						10

/*
 * pgmsg's own invariant checks, compiled in with "make PGMSG_CHECKS=1" (the
 * test suite builds that way), like Assert in a cassert build: a violated
 * check stops the server process with a TRAP message naming it.  Without
 * PGMSG_CHECKS they compile to nothing, arguments and all, so checks may
 * cost what they like.
 */
#ifdef PGMSG_CHECKS
#define PGMSG_CHECK(condition) \
	do { \
		if (!(condition)) \
			ExceptionalCondition(#condition, "PgmsgCheck", \
								 __FILE__, __LINE__); \
	} while (0)
#else
#define PGMSG_CHECK(condition)	((void) true)
#endif

/* GUCs (pgmsg.c) */
extern int	pgmsg_max_leases;
extern int	pgmsg_queue_lease_share;
extern int	pgmsg_max_queues;
extern bool pgmsg_durable_acks;

#endif							/* PGMSG_PGMSG_H */
