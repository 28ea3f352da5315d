/*-------------------------------------------------------------------------
 *
 * push.h
 *		The seam between the push worker (push_worker.c), which leases
 *		messages from push subscriptions' queues and runs the HTTP requests,
 *		and the two protocols it speaks: AWS SNS PublishBatch (push_sns.c)
 *		and signed webhooks (push_webhook.c).  push_subscribe.c, the SQL
 *		side, shares the validation of targets with them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_PUSH_H
#define PGMSG_PUSH_H

#include <curl/curl.h>

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* SNS's PublishBatch limits */
#define SNS_BATCH_ENTRIES		10
#define SNS_BATCH_BYTES			(256 * 1024)

/* GUCs (push_worker.c) */
extern bool pgmsg_allow_insecure_push;
extern char *pgmsg_aws_access_key_id;
extern char *pgmsg_aws_secret_access_key;
extern char *pgmsg_aws_session_token;
extern int	pgmsg_push_timeout;

typedef enum PushProtocol
{
	PUSH_SNS,
	PUSH_HTTPS
} PushProtocol;

/* A push subscription as the worker delivers it. */
typedef struct PushSub
{
	int32		subscription_id;
	PushProtocol protocol;
	char	   *topic;
	char	   *topic_arn;		/* arn:pgmsg:<database>:<topic> */
	char	   *queue;			/* the internal queue */
	char	   *dead_letter_queue;
	int32		queue_id;
	bool		fifo;
	bool		raw;
	char	   *endpoint;		/* topic ARN or URL */
	char	   *region;			/* sns */
	char	   *request_url;	/* where requests go */
	Jsonb	   *headers;		/* https: custom headers, or NULL */
	uint8	   *key;			/* https: decoded signing secret, or NULL */
	int			keylen;
} PushSub;

/* One leased message of a subscription's queue. */
typedef struct PushMsg
{
	int64		msg_id;
	char	   *receipt;
	Jsonb	   *body;
	Jsonb	   *attributes;		/* NULL if none */
	int32		receive_count;
	char	   *group_id;		/* FIFO, else NULL */
} PushMsg;

/* What became of one message's delivery attempt. */
typedef enum PushOutcome
{
	OUTCOME_PENDING = 0,
	OUTCOME_DELIVERED,
	OUTCOME_RETRY,				/* transient: deliver again after a backoff */
	OUTCOME_DEAD_LETTER			/* permanent: to the dead-letter queue */
} PushOutcome;

/*
 * One HTTP request in flight: the messages it carries, their outcomes, and
 * what libcurl needs to keep alive until it completes.
 */
typedef struct PushRequest
{
	PushSub    *sub;
	CURL	   *easy;
	struct curl_slist *headers;
	StringInfoData body;		/* what is sent */
	StringInfoData response;	/* what came back, capped */
	int			nmsgs;
	PushMsg   **msgs;
	PushOutcome *outcomes;
	char	  **errors;			/* per message, for failures */
	long		retry_after;	/* seconds the server asked for, or -1 */
	char	   *userpwd;		/* sns: credentials, wiped after use */
} PushRequest;

/* push_worker.c */
extern void push_request_error(PushRequest *req, PushOutcome outcome,
							   const char *fmt,...) pg_attribute_printf(3, 4);
extern char *push_message_text(Jsonb *body, bool *is_json);
extern char *push_message_id(PushSub *sub, PushMsg *m);
extern CURL *push_easy_new(PushRequest *req, const char *url);

/* push_subscribe.c */
extern void pgmsg_push_drop_topic(int32 topic_id);

/* push_sns.c */
extern bool sns_valid_region(const char *region);
extern void sns_check_arn(const char *arn, const char *region, bool *fifo);
extern int	sns_entry_size(PushMsg *m);
extern void sns_build_request(PushRequest *req);
extern void sns_parse_response(PushRequest *req, long status);

/* push_webhook.c */
extern bool webhook_decode_secret(const char *secret, uint8 **key, int *keylen);
extern void webhook_check_url(const char *url, const char *what);
extern void webhook_check_headers(Jsonb *headers);
extern void webhook_build_request(PushRequest *req);
extern void webhook_parse_response(PushRequest *req, long status);

#endif							/* PGMSG_PUSH_H */
