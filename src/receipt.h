/*-------------------------------------------------------------------------
 *
 * receipt.h
 *		Receipt handles (receipt.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_RECEIPT_H
#define PGMSG_RECEIPT_H

#include "pgmsg.h"

typedef struct Receipt
{
	int32		queue_id;
	int64		msg_id;
	uint64		epoch;
	uint64		nonce;
} Receipt;

extern text *receipt_encode(const Receipt *r);
extern void receipt_decode(const text *t, Receipt *r);

#endif							/* PGMSG_RECEIPT_H */
