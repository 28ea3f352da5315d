/*-------------------------------------------------------------------------
 *
 * qtable.h
 *		The message log: row I/O on a queue's table (qtable.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_QTABLE_H
#define PGMSG_QTABLE_H

#include "catalog.h"
#include "access/htup.h"
#include "executor/tuptable.h"
#include "storage/buf.h"
#include "storage/itemptr.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/* A row to append to a queue's table. */
typedef struct QueueRow
{
	TimestampTz visible_at;		/* the key's time part */
	TimestampTz sent_at;
	int32		receive_count;
	Jsonb	   *body;
	Jsonb	   *attributes;		/* or NULL */
	const char *source_queue;	/* a moved message's queue, or NULL */
	int32		source_queue_id;	/* ... and its id, or 0 */
	text	   *group_id;		/* or NULL */
} QueueRow;

extern Relation pgmsg_queue_try_open(QueueInfo *qi);
extern bool pgmsg_queue_lock(QueueInfo *qi);
extern Relation pgmsg_queue_open(QueueInfo *qi);
extern Relation qtable_open_index(QueueInfo *qi);
extern int64 qtable_append(QueueInfo *qi, Relation rel, Relation index,
						   const QueueRow *row);
extern bool qtable_fetch(Relation rel, ItemPointer tid, int64 msg_id,
						 Snapshot snapshot, TupleTableSlot *slot);
extern bool qtable_fetch_tuple(Relation rel, ItemPointer tid, int64 msg_id,
							   Snapshot snapshot, HeapTuple tuple, Buffer *buffer,
							   Datum *cols, bool *nulls);
extern bool qtable_delete(Relation rel, ItemPointer tid, int64 msg_id);
extern bool qtable_set_receive_count(QueueInfo *qi, ItemPointer tid,
									 int64 msg_id, int32 receive_count,
									 TimestampTz first_received_at);
extern int64 *qtable_delete_expired(const char *table, TimestampTz cutoff,
									bool moved, int limit, uint64 *ndeleted);

#endif							/* PGMSG_QTABLE_H */
