/*-------------------------------------------------------------------------
 *
 * receive.h
 *		Receiving messages: taking leases and fetching their rows
 *		(receive.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_RECEIVE_H
#define PGMSG_RECEIVE_H

#include "catalog.h"
#include "lease.h"
#include "executor/tuptable.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

extern int	pgmsg_take_leases(QueueInfo *qi, QueueShared *qs, Relation rel,
							  Relation index, int max_messages,
							  int64 visibility_timeout, Taken *taken,
							  uint64 *nonces, TimestampTz *next_wakeup,
							  bool *need_index);
extern bool pgmsg_fetch_taken(QueueInfo *qi, QueueShared *qs, Relation rel,
							  Snapshot snapshot, Taken *t, TupleTableSlot *slot);
extern void pgmsg_fill_nonces(uint64 *nonces, int n);

#endif							/* PGMSG_RECEIVE_H */
