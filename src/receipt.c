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

/* the two hex digits of each byte value, and each character's digit or -1 */
static char hex_pairs[256][2];
static int8 hex_digit[256];
static bool hex_ready = false;

static void
hex_init(void)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 256; i++)
	{
		hex_pairs[i][0] = digits[i >> 4];
		hex_pairs[i][1] = digits[i & 0xf];
		hex_digit[i] = -1;
	}
	for (int i = 0; i < 16; i++)
		hex_digit[(unsigned char) digits[i]] = i;
	hex_ready = true;
}

/* "nbytes" bytes of "value", most significant first, as 2 * nbytes digits */
static void
put_hex(char *dst, uint64 value, int nbytes)
{
	for (int i = nbytes - 1; i >= 0; i--)
	{
		memcpy(dst + 2 * i, hex_pairs[value & 0xff], 2);
		value >>= 8;
	}
}

static bool
get_hex(const char *src, int ndigits, uint64 *value)
{
	uint64		v = 0;
	int			bad = 0;

	for (int i = 0; i < ndigits; i++)
	{
		int			d = hex_digit[(unsigned char) src[i]];

		bad |= d;				/* negative only if some d is -1 */
		v = (v << 4) | (d & 0xf);
	}
	*value = v;
	return bad >= 0;
}

text *
receipt_encode(const Receipt *r)
{
	char		buf[RECEIPT_LEN];

	if (!hex_ready)
		hex_init();
	put_hex(buf, (uint32) r->queue_id, 4);
	put_hex(buf + 8, (uint64) r->msg_id, 8);
	put_hex(buf + 24, r->epoch, 8);
	put_hex(buf + 40, r->nonce, 8);
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

	if (!hex_ready)
		hex_init();
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
