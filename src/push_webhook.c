/*-------------------------------------------------------------------------
 *
 * push_webhook.c
 *		HTTPS webhooks: what a subscribe_http target may be, the request
 *		that carries one message, its Standard Webhooks signature, and what
 *		the receiver's answer means.
 *
 * A webhook request is a POST of one message: SNS's notification JSON, or
 * the published body itself with raw delivery.  It carries SNS's headers
 * (x-amz-sns-message-type, -message-id, -topic-arn, -subscription-arn,
 * with pgmsg's own ARNs, arn:pgmsg:<database>:<topic>), the
 * subscription's custom headers, and with a secret the three Standard
 * Webhooks headers: webhook-id (stable across retries, so receivers can
 * drop duplicates), webhook-timestamp (seconds, at this attempt) and
 * webhook-signature, "v1," and the base64 HMAC-SHA256 of
 * "<id>.<timestamp>.<body>" keyed with the secret's decoded bytes.
 *
 * Answers: 2xx delivers; 408, 429 and 5xx are retried (honouring
 * Retry-After); every other status, redirects included (none is
 * followed), is permanent and dead-letters the message.
 *
 * Nothing here touches shared state or blocks: requests are built here
 * and run by push_worker.c's curl multi handle.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "push.h"

#define WEBHOOK_MAX_HEADERS		20
#define WEBHOOK_MAX_SECRET		64	/* bytes, decoded */

/* Headers pgmsg sets itself; a subscription may not replace them. */
static const char *const reserved_headers[] = {
	"content-type", "content-length", "host", "transfer-encoding",
	"connection", "expect", "user-agent",
	"webhook-id", "webhook-timestamp", "webhook-signature",
	"x-amz-sns-message-type", "x-amz-sns-message-id",
	"x-amz-sns-topic-arn", "x-amz-sns-subscription-arn",
	NULL
};

/*
 * Decode a Standard Webhooks secret: "whsec_" (optional) and base64.
 * False if it is empty or not base64.
 */
bool
webhook_decode_secret(const char *secret, uint8 **key, int *keylen)
{
	const char *b64 = secret;
	int			len;
	char	   *buf;

	if (strncmp(b64, "whsec_", 6) == 0)
		b64 += 6;
	len = strlen(b64);
	if (len == 0)
		return false;
	buf = palloc(pg_b64_dec_len(len) + 1);
	*keylen = pg_b64_decode(b64, len, buf, pg_b64_dec_len(len));
	if (*keylen <= 0 || *keylen > WEBHOOK_MAX_SECRET)
		return false;
	*key = (uint8 *) buf;
	return true;
}

/*
 * A webhook URL (or an SNS endpoint_url) must be an absolute https:// URL
 * with a host; http:// only with pgmsg.allow_insecure_push, for tests.
 */
void
webhook_check_url(const char *url, const char *what)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok;

	if (u == NULL)
		elog(ERROR, "out of memory");
	ok = strpbrk(url, " \t\r\n") == NULL &&
		curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		host[0] != '\0';
	if (ok && pg_strcasecmp(scheme, "https") != 0 &&
		!(pg_strcasecmp(scheme, "http") == 0 && pgmsg_allow_insecure_push))
	{
		bool		http = pg_strcasecmp(scheme, "http") == 0;

		curl_free(scheme);
		curl_free(host);
		curl_url_cleanup(u);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is not an https:// URL", what, url),
				 http ? errhint("Plain http:// is allowed only with pgmsg.allow_insecure_push = on, which is meant for tests.") : 0));
	}
	if (scheme)
		curl_free(scheme);
	if (host)
		curl_free(host);
	curl_url_cleanup(u);
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\" is not a valid URL", what, url)));
}

static bool
is_token_char(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * Custom headers: a JSON object of at most WEBHOOK_MAX_HEADERS string
 * values, named by HTTP tokens, none of them a header pgmsg sets.
 */
void
webhook_check_headers(Jsonb *headers)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *name = NULL;
	int			n = 0;

	if (!JB_ROOT_IS_OBJECT(headers) || JB_ROOT_IS_SCALAR(headers))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("headers must be a JSON object"),
				 errhint("Give the headers as {\"name\": \"value\", ...}.")));
	it = JsonbIteratorInit(&headers->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			name = pnstrdup(v.val.string.val, v.val.string.len);
			if (++n > WEBHOOK_MAX_HEADERS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("too many headers"),
						 errdetail("At most %d custom headers are allowed.", WEBHOOK_MAX_HEADERS)));
			if (v.val.string.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("header name must not be empty")));
			for (int i = 0; i < v.val.string.len; i++)
				if (!is_token_char((unsigned char) name[i]))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid header name \"%s\"", name),
							 errdetail("A header name consists of letters, digits and !#$%%&'*+-.^_`|~ only.")));
			for (const char *const *r = reserved_headers; *r; r++)
				if (pg_strcasecmp(name, *r) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("header \"%s\" cannot be set", name),
							 errdetail("pgmsg sets the content type, the SNS headers and the webhook signature headers itself.")));
		}
		else if (tok == WJB_VALUE)
		{
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("value of header \"%s\" must be a string", name)));
			for (int i = 0; i < v.val.string.len; i++)
			{
				unsigned char c = (unsigned char) v.val.string.val[i];

				if (c == '\r' || c == '\n' || c == '\0')
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("value of header \"%s\" contains a line break", name)));
			}
		}
	}
}

/*
 * The Standard Webhooks signature of a body: "v1," and base64 of
 * HMAC-SHA256(key, "<id>.<timestamp>.<body>").
 */
static char *
webhook_signature(PushSub *sub, const char *id, const char *timestamp,
				  const char *body, int bodylen)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	char		b64[64];
	int			n;

	if (ctx == NULL)
		elog(ERROR, "out of memory");
	if (pg_hmac_init(ctx, sub->key, sub->keylen) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) id, strlen(id)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) ".", 1) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) timestamp, strlen(timestamp)) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) ".", 1) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) body, bodylen) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		pg_hmac_free(ctx);
		elog(ERROR, "could not compute a webhook signature");
	}
	pg_hmac_free(ctx);
	n = pg_b64_encode((const char *) mac, sizeof(mac), b64, sizeof(b64) - 1);
	if (n < 0)
		elog(ERROR, "could not encode a webhook signature");
	b64[n] = '\0';
	return psprintf("v1,%s", b64);
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
	char	   *line = psprintf("%s: %s", name, value);
	struct curl_slist *l = curl_slist_append(list, line);

	pfree(line);
	if (l == NULL)
		elog(ERROR, "out of memory");
	return l;
}

/*
 * Build the POST of the one message of req.
 */
void
webhook_build_request(PushRequest *req)
{
	PushSub    *sub = req->sub;
	PushMsg    *m = req->msgs[0];
	bool		is_json;
	char	   *text = push_message_text(m->body, &is_json);
	char	   *id = push_message_id(sub, m);
	char	   *topic_arn = sub->topic_arn;
	struct curl_slist *h = NULL;

	appendStringInfoString(&req->body, text);

	h = add_header(h, "Content-Type",
				   is_json ? "application/json" : "text/plain; charset=UTF-8");
	h = add_header(h, "User-Agent", "pgmsg");
	h = add_header(h, "Expect", "");
	h = add_header(h, "x-amz-sns-message-type", "Notification");
	h = add_header(h, "x-amz-sns-message-id", id);
	h = add_header(h, "x-amz-sns-topic-arn", topic_arn);
	h = add_header(h, "x-amz-sns-subscription-arn",
				   psprintf("%s:%d", topic_arn, sub->subscription_id));
	if (sub->headers != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&sub->headers->root);
		JsonbValue	v;
		JsonbIteratorToken tok;
		char	   *name = NULL;

		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok == WJB_KEY)
				name = pnstrdup(v.val.string.val, v.val.string.len);
			else if (tok == WJB_VALUE && v.type == jbvString)
				h = add_header(h, name, pnstrdup(v.val.string.val, v.val.string.len));
		}
	}
	if (sub->key != NULL)
	{
		char		ts[32];

		snprintf(ts, sizeof(ts), INT64_FORMAT, (int64) time(NULL));
		h = add_header(h, "webhook-id", id);
		h = add_header(h, "webhook-timestamp", ts);
		h = add_header(h, "webhook-signature",
					   webhook_signature(sub, id, ts, req->body.data, req->body.len));
	}
	req->headers = h;
	req->easy = push_easy_new(req, sub->request_url);
}

/*
 * Judge the receiver's answer to a completed request.
 */
void
webhook_parse_response(PushRequest *req, long status)
{
	if (status >= 200 && status < 300)
	{
		req->outcomes[0] = OUTCOME_DELIVERED;
		return;
	}
	if (status == 408 || status == 429 || status >= 500)
		push_request_error(req, OUTCOME_RETRY, "HTTP %ld", status);
	else if (status >= 300 && status < 400)
		push_request_error(req, OUTCOME_DEAD_LETTER,
						   "HTTP %ld: redirects are not followed", status);
	else
		push_request_error(req, OUTCOME_DEAD_LETTER, "HTTP %ld", status);
}
