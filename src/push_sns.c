/*-------------------------------------------------------------------------
 *
 * push_sns.c
 *		AWS SNS: what a subscribe_sns target may be, where the worker's
 *		credentials come from, the PublishBatch request and the reading of
 *		its answer.
 *
 * A request is SNS's Query protocol: a POST of a form-encoded body
 * (Action=PublishBatch) of up to SNS_BATCH_ENTRIES messages and
 * SNS_BATCH_BYTES of messages and attributes, signed by libcurl's SigV4
 * for service "sns" in the subscription's region.  Attributes map to SNS's
 * String, Number and String.Array; a FIFO topic ARN (".fifo") gets each
 * message's group as MessageGroupId and "<subscription>-<message id>" as
 * MessageDeduplicationId, the same on every retry, so SNS drops the
 * duplicate of a request whose outcome was unknown.
 *
 * Answers: each entry listed under Successful is delivered; under Failed,
 * SenderFault=true dead-letters it and false retries it; an entry listed
 * nowhere is retried.  A whole-request error is retried when it is 429,
 * 5xx or one of AWS's throttling codes, and dead-letters the batch
 * otherwise (bad credentials, a missing topic, a malformed request).
 *
 * Credentials, looked up for every batch so a reload takes effect: the
 * superuser-only GUCs pgmsg.aws_access_key_id, pgmsg.aws_secret_access_key
 * and pgmsg.aws_session_token; else the server's AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; else the profile
 * AWS_PROFILE (or "default") of the shared credentials file,
 * AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials of the server's OS
 * user.  They never appear in an error message or the server log.
 *
 * Nothing here touches shared state or blocks but reading that file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <pwd.h>
#include <unistd.h>

#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "push.h"

/* Whole-request error codes that AWS's SDKs retry. */
static const char *const retryable_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"RequestThrottled", "RequestLimitExceeded", "BandwidthLimitExceeded",
	"SlowDown", "PriorRequestNotComplete", "LimitExceededException",
	"ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestTimeTooSkewed", "RequestExpired", "InternalError", "InternalFailure",
	"ServiceUnavailable", "KMSThrottling", "KMSThrottlingException",
	NULL
};

/*
 * A region name as AWS writes them: two letters, one or more words, a
 * number ("us-east-1", "us-gov-west-1", "ap-southeast-2").
 */
bool
sns_valid_region(const char *region)
{
	const char *p = region;
	int			words = 0;

	if (!(islower((unsigned char) p[0]) && islower((unsigned char) p[1]) && p[2] == '-'))
		return false;
	p += 3;
	for (;;)
	{
		const char *start = p;

		while (islower((unsigned char) *p))
			p++;
		if (p == start || *p != '-')
			break;
		words++;
		p++;
	}
	if (words == 0 || !isdigit((unsigned char) *p))
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	return *p == '\0' && strlen(region) <= 32;
}

/*
 * Check an SNS topic ARN, arn:<partition>:sns:<region>:<account>:<name>,
 * and that it lies in region.  *fifo: the topic is a FIFO topic.
 */
void
sns_check_arn(const char *arn, const char *region, bool *fifo)
{
	char	   *copy = pstrdup(arn);
	char	   *parts[6];
	int			n = 0;
	char	   *p = copy;
	const char *why = NULL;
	size_t		namelen;

	while (n < 6)
	{
		char	   *colon = (n < 5) ? strchr(p, ':') : NULL;

		parts[n++] = p;
		if (colon == NULL)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	if (n != 6 || strcmp(parts[0], "arn") != 0)
		why = "An SNS topic ARN has the form arn:aws:sns:<region>:<account>:<topic>.";
	else if (strcmp(parts[1], "aws") != 0 && strcmp(parts[1], "aws-cn") != 0 &&
			 strcmp(parts[1], "aws-us-gov") != 0)
		why = "The partition must be aws, aws-cn or aws-us-gov.";
	else if (strcmp(parts[2], "sns") != 0)
		why = "The service of an SNS topic ARN is sns.";
	else if (!sns_valid_region(parts[3]))
		why = "The region part is not a region name.";
	else if (strlen(parts[4]) != 12 || strspn(parts[4], "0123456789") != 12)
		why = "The account part must be 12 digits.";
	if (why == NULL)
	{
		char	   *name = parts[5];

		namelen = strlen(name);
		*fifo = namelen > 5 && strcmp(name + namelen - 5, ".fifo") == 0;
		if (*fifo)
			namelen -= 5;
		if (namelen == 0 || namelen > (*fifo ? 251 : 256) ||
			strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != namelen)
			why = "A topic name is 1 to 256 letters, digits, hyphens and underscores, with \".fifo\" at the end of a FIFO topic's.";
	}
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid SNS topic ARN \"%s\"", arn),
				 errdetail("%s", why)));
	if (strcmp(parts[3], region) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SNS topic ARN \"%s\" is not in region \"%s\"", arn, region),
				 errhint("Give the region the topic is in, \"%s\".", parts[3])));
}

/* Strip leading and trailing blanks in place. */
static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/*
 * Read a profile of the shared credentials file.  The file is INI: a
 * "[profile]" line, then "key = value" lines.
 */
static bool
credentials_from_file(char **key_id, char **secret, char **token)
{
	const char *path = getenv("AWS_SHARED_CREDENTIALS_FILE");
	const char *profile = getenv("AWS_PROFILE");
	char	   *fallback = NULL;
	FILE	   *f;
	char		line[4096];
	bool		in_profile = false;

	if (profile == NULL || profile[0] == '\0')
		profile = "default";
	if (path == NULL || path[0] == '\0')
	{
		const char *home = getenv("HOME");
		struct passwd *pw;

		if (home == NULL || home[0] == '\0')
		{
			pw = getpwuid(geteuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (home == NULL)
			return false;
		fallback = psprintf("%s/.aws/credentials", home);
		path = fallback;
	}
	f = AllocateFile(path, "r");
	if (f == NULL)
		return false;
	*key_id = *secret = *token = NULL;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *l = trim(line);
		char	   *eq;

		if (l[0] == '#' || l[0] == ';' || l[0] == '\0')
			continue;
		if (l[0] == '[')
		{
			char	   *close = strchr(l, ']');

			if (close)
				*close = '\0';
			in_profile = strcmp(trim(l + 1), profile) == 0;
			continue;
		}
		if (!in_profile || (eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		if (strcmp(trim(l), "aws_access_key_id") == 0)
			*key_id = pstrdup(trim(eq + 1));
		else if (strcmp(trim(l), "aws_secret_access_key") == 0)
			*secret = pstrdup(trim(eq + 1));
		else if (strcmp(trim(l), "aws_session_token") == 0)
			*token = pstrdup(trim(eq + 1));
	}
	explicit_bzero(line, sizeof(line));
	FreeFile(f);
	return *key_id != NULL && *secret != NULL;
}

/*
 * Find the credentials to sign with, in the order the file header gives.
 * The strings are palloc'd; callers wipe them after use.
 */
static bool
sns_credentials(char **key_id, char **secret, char **token)
{
	const char *e_id,
			   *e_secret;

	*token = NULL;
	if (pgmsg_aws_access_key_id && pgmsg_aws_access_key_id[0] &&
		pgmsg_aws_secret_access_key && pgmsg_aws_secret_access_key[0])
	{
		*key_id = pstrdup(pgmsg_aws_access_key_id);
		*secret = pstrdup(pgmsg_aws_secret_access_key);
		if (pgmsg_aws_session_token && pgmsg_aws_session_token[0])
			*token = pstrdup(pgmsg_aws_session_token);
		return true;
	}
	e_id = getenv("AWS_ACCESS_KEY_ID");
	e_secret = getenv("AWS_SECRET_ACCESS_KEY");
	if (e_id && e_id[0] && e_secret && e_secret[0])
	{
		const char *e_token = getenv("AWS_SESSION_TOKEN");

		*key_id = pstrdup(e_id);
		*secret = pstrdup(e_secret);
		if (e_token && e_token[0])
			*token = pstrdup(e_token);
		return true;
	}
	return credentials_from_file(key_id, secret, token);
}

/* Append s form-encoded: RFC 3986's unreserved characters as they are. */
static void
append_encoded(StringInfo buf, const char *s, int len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			appendStringInfoChar(buf, (char) c);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[c >> 4]);
			appendStringInfoChar(buf, hex[c & 15]);
		}
	}
}

static void
append_param(StringInfo buf, const char *name, const char *value, int len)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	appendStringInfoString(buf, name);
	appendStringInfoChar(buf, '=');
	append_encoded(buf, value, len < 0 ? strlen(value) : len);
}

/*
 * How much of SNS's 256 KiB a message takes: its text and its attributes'
 * names, types and values.
 */
int
sns_entry_size(PushMsg *m)
{
	bool		is_json;
	int			size = strlen(push_message_text(m->body, &is_json));

	if (m->attributes != NULL)
		size += VARSIZE(m->attributes);
	return size;
}

static void
append_attributes(StringInfo buf, const char *prefix, Jsonb *attributes)
{
	JsonbIterator *it = JsonbIteratorInit(&attributes->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			k = 0;
	char	   *p = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			k++;
			p = psprintf("%s.MessageAttributes.entry.%d", prefix, k);
			append_param(buf, psprintf("%s.Name", p), v.val.string.val, v.val.string.len);
		}
		else if (tok == WJB_VALUE)
		{
			const char *type;
			char	   *value;
			int			len;

			if (v.type == jbvString)
			{
				type = "String";
				value = v.val.string.val;
				len = v.val.string.len;
			}
			else if (v.type == jbvNumeric)
			{
				type = "Number";
				value = DatumGetCString(DirectFunctionCall1(numeric_out,
															NumericGetDatum(v.val.numeric)));
				len = strlen(value);
			}
			else
			{
				type = "String.Array";
				value = JsonbToCString(NULL, v.val.binary.data, v.val.binary.len);
				len = strlen(value);
			}
			append_param(buf, psprintf("%s.Value.DataType", p), type, -1);
			append_param(buf, psprintf("%s.Value.StringValue", p), value, len);
		}
	}
}

/*
 * Build the PublishBatch request of req's messages, signed with the
 * credentials found now.  Without credentials the batch is retried: they
 * may be configured later.
 */
void
sns_build_request(PushRequest *req)
{
	PushSub    *sub = req->sub;
	StringInfo	b = &req->body;
	char	   *key_id,
			   *secret,
			   *token;
	struct curl_slist *h = NULL;
	char	   *sigv4;
	int			nentries = 0;

	append_param(b, "Action", "PublishBatch", -1);
	append_param(b, "Version", "2010-03-31", -1);
	append_param(b, "TopicArn", sub->endpoint, -1);
	for (int i = 0; i < req->nmsgs; i++)
	{
		PushMsg    *m = req->msgs[i];
		char	   *prefix;
		bool		is_json;
		char	   *text;

		/* decided already: too large, or out of attempts */
		if (req->outcomes[i] != OUTCOME_PENDING)
			continue;
		prefix = psprintf("PublishBatchRequestEntries.member.%d", ++nentries);
		text = push_message_text(m->body, &is_json);

		append_param(b, psprintf("%s.Id", prefix), psprintf("m" INT64_FORMAT, m->msg_id), -1);
		append_param(b, psprintf("%s.Message", prefix), text, -1);
		if (m->attributes != NULL && JB_ROOT_COUNT(m->attributes) > 0)
			append_attributes(b, prefix, m->attributes);
		if (sub->fifo)
		{
			append_param(b, psprintf("%s.MessageGroupId", prefix),
						 m->group_id ? m->group_id : "default", -1);
			append_param(b, psprintf("%s.MessageDeduplicationId", prefix),
						 psprintf("%d-" INT64_FORMAT, sub->subscription_id, m->msg_id), -1);
		}
	}

	if (!sns_credentials(&key_id, &secret, &token))
	{
		push_request_error(req, OUTCOME_RETRY, "no AWS credentials are configured");
		return;
	}
	h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
	if (token != NULL)
	{
		char	   *line = psprintf("X-Amz-Security-Token: %s", token);

		h = curl_slist_append(h, line);
		explicit_bzero(line, strlen(line));
		explicit_bzero(token, strlen(token));
	}
	if (h == NULL)
		elog(ERROR, "out of memory");
	req->headers = h;
	req->easy = push_easy_new(req, sub->request_url);
	sigv4 = psprintf("aws:amz:%s:sns", sub->region);
	curl_easy_setopt(req->easy, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(req->easy, CURLOPT_USERNAME, key_id);
	curl_easy_setopt(req->easy, CURLOPT_PASSWORD, secret);
	explicit_bzero(key_id, strlen(key_id));
	explicit_bzero(secret, strlen(secret));
}

/* The text of the first <tag>...</tag> in [s, end), XML entities decoded. */
static char *
xml_element(const char *s, const char *end, const char *tag)
{
	char	   *open = psprintf("<%s>", tag);
	char	   *close = psprintf("</%s>", tag);
	const char *a;
	const char *z;
	StringInfoData out;

	a = strstr(s, open);
	if (a == NULL || a >= end)
		return NULL;
	a += strlen(open);
	z = strstr(a, close);
	if (z == NULL || z > end)
		return NULL;
	initStringInfo(&out);
	while (a < z)
	{
		static const struct
		{
			const char *ent;
			char		c;
		}			ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'},
		{"&quot;", '"'}, {"&apos;", '\''}};
		bool		done = false;

		if (*a == '&')
			for (int i = 0; i < lengthof(ents); i++)
				if (strncmp(a, ents[i].ent, strlen(ents[i].ent)) == 0)
				{
					appendStringInfoChar(&out, ents[i].c);
					a += strlen(ents[i].ent);
					done = true;
					break;
				}
		if (!done)
			appendStringInfoChar(&out, *a++);
	}
	return out.data;
}

/* The index in req of the message whose entry Id is id, or -1. */
static int
entry_index(PushRequest *req, const char *id)
{
	for (int i = 0; i < req->nmsgs; i++)
	{
		char		buf[32];

		snprintf(buf, sizeof(buf), "m" INT64_FORMAT, req->msgs[i]->msg_id);
		if (strcmp(buf, id) == 0)
			return i;
	}
	return -1;
}

/* Visit each <member> of the section <tag> of the response. */
static void
each_member(PushRequest *req, const char *tag, bool successful)
{
	const char *body = req->response.data;
	char	   *open = psprintf("<%s>", tag);
	char	   *close = psprintf("</%s>", tag);
	const char *s = strstr(body, open);
	const char *end;

	if (s == NULL)
		return;
	end = strstr(s, close);
	if (end == NULL)
		return;
	while ((s = strstr(s, "<member>")) != NULL && s < end)
	{
		const char *mend = strstr(s, "</member>");
		char	   *id;
		int			i;

		if (mend == NULL || mend > end)
			break;
		id = xml_element(s, mend, "Id");
		i = id ? entry_index(req, id) : -1;
		if (i >= 0 && successful)
			req->outcomes[i] = OUTCOME_DELIVERED;
		else if (i >= 0)
		{
			char	   *code = xml_element(s, mend, "Code");
			char	   *msg = xml_element(s, mend, "Message");
			char	   *fault = xml_element(s, mend, "SenderFault");

			req->outcomes[i] = (fault && strcmp(fault, "true") == 0) ?
				OUTCOME_DEAD_LETTER : OUTCOME_RETRY;
			req->errors[i] = psprintf("SNS %s: %s", code ? code : "error",
									  msg ? msg : "no message");
		}
		s = mend;
	}
}

/*
 * Read SNS's answer to a completed PublishBatch.
 */
void
sns_parse_response(PushRequest *req, long status)
{
	if (status == 200)
	{
		each_member(req, "Successful", true);
		each_member(req, "Failed", false);
		for (int i = 0; i < req->nmsgs; i++)
			if (req->outcomes[i] == OUTCOME_PENDING)
			{
				req->outcomes[i] = OUTCOME_RETRY;
				req->errors[i] = pstrdup("SNS did not report on the entry");
			}
	}
	else
	{
		const char *data = req->response.data;
		const char *end = data + req->response.len;
		char	   *code = xml_element(data, end, "Code");
		char	   *msg = xml_element(data, end, "Message");
		bool		retry = status == 429 || status >= 500;

		for (const char *const *c = retryable_codes; code && *c; c++)
			if (strcmp(code, *c) == 0)
				retry = true;
		push_request_error(req, retry ? OUTCOME_RETRY : OUTCOME_DEAD_LETTER,
						   "SNS HTTP %ld %s: %s", status, code ? code : "error",
						   msg ? msg : "no message");
	}
}
