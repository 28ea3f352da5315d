/*-------------------------------------------------------------------------
 *
 * receipt.c
 *		Receipt handles: the opaque text a receive returns for each message.
 *
 * A receipt encodes the queue id, the message id, the server epoch (a
 * random value chosen at every start of shared memory) and the random
 * nonce of the lease it was issued with, as 56 lower-case hex digits.  Only
 * a receipt whose epoch and nonce match the current lease can delete the
 * message or change its visibility (lease.c, ack.c); a forged receipt has
 * to guess 64 random bits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "receipt.h"

#define RECEIPT_LEN 56

static void
put_hex(char *dst, uint64 value, int ndigits)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = ndigits - 1; i >= 0; i--)
	{
		dst[i] = digits[value & 0xf];
		value >>= 4;
	}
}

static bool
get_hex(const char *src, int ndigits, uint64 *value)
{
	uint64		v = 0;

	for (int i = 0; i < ndigits; i++)
	{
		char		c = src[i];
		int			d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return false;
		v = (v << 4) | d;
	}
	*value = v;
	return true;
}

text *
receipt_encode(const Receipt *r)
{
	char		buf[RECEIPT_LEN];

	put_hex(buf, (uint32) r->queue_id, 8);
	put_hex(buf + 8, (uint64) r->msg_id, 16);
	put_hex(buf + 24, r->epoch, 16);
	put_hex(buf + 40, r->nonce, 16);
	return cstring_to_text_with_len(buf, RECEIPT_LEN);
}

/*
 * Parse a receipt; anything that is not one is an error.  Whether it is
 * still valid is for the caller to decide.
 */
void
receipt_decode(const text *t, Receipt *r)
{
	const char *s = VARDATA_ANY(t);
	uint64		queue_id;
	uint64		msg_id;

	if (VARSIZE_ANY_EXHDR(t) != RECEIPT_LEN ||
		!get_hex(s, 8, &queue_id) ||
		!get_hex(s + 8, 16, &msg_id) ||
		!get_hex(s + 24, 16, &r->epoch) ||
		!get_hex(s + 40, 16, &r->nonce))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid receipt handle \"%.*s%s\"",
						RECEIPT_LEN, text_to_cstring(t),
						VARSIZE_ANY_EXHDR(t) > RECEIPT_LEN ? "..." : ""),
				 errhint("Pass the receipt exactly as pgmsg.receive returned it.")));
	r->queue_id = (int32) (uint32) queue_id;
	r->msg_id = (int64) msg_id;
}
