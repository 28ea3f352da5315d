/*-------------------------------------------------------------------------
 *
 * ack.h
 *		Deleting received messages (ack.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_ACK_H
#define PGMSG_ACK_H

#include "lease.h"
#include "utils/relcache.h"

extern bool pgmsg_delete_leased(QueueShared *qs, Relation rel,
								const LeaseKey *key, uint64 nonce);
extern void pgmsg_retire_lease(QueueShared *qs, const LeaseKey *key);

#endif							/* PGMSG_ACK_H */
