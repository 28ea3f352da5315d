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

/* A queue slot of the current database, as listed at one moment. */
typedef struct SlotRef
{
	int32		queue_id;		/* first, for queue_id_cmp (stats.c) */
	QueueShared *qs;
} SlotRef;

/* The figures of one queue (pgmsg_queue_figures). */
typedef struct QueueFigures
{
	int64		messages;		/* stored */
	int64		in_flight;
	int64		delayed;
	bool		has_oldest;
	TimestampTz oldest_sent_at; /* of the oldest visible message */
	bool		has_oldest_stored;
	TimestampTz oldest_stored_sent_at;	/* of the oldest one, in flight or not */
	uint64		sent;			/* totals since the slot was set up */
	uint64		received;
	uint64		deleted;
	uint64		dead_lettered;
} QueueFigures;

extern int64 pgmsg_stored_messages(QueueShared *qs, const char *name);
extern SlotRef *pgmsg_db_slots(int *nslots);
extern QueueShared *pgmsg_find_slot(SlotRef *slots, int nslots, int32 queue_id);
extern bool pgmsg_queue_figures(int32 queue_id, const char *name, QueueShared *qs,
								bool want_stored, QueueFigures *f);
extern void stats_count_add(QueueShared *qs, int64 delta);
extern void stats_count_forget(QueueShared *qs);
extern bool stats_count_stale(QueueShared *qs);

#endif							/* PGMSG_STATS_H */
