/*-------------------------------------------------------------------------
 *
 * filter.h
 *		SNS subscription filter policies: the seam between the policy
 *		engine (filter.c) and its users (topics, pgmsg.filter_matches).
 *
 * A policy is validated and compiled once, when a subscription is made, and
 * then matched against every message published to the topic.  Compiling
 * checks the whole SNS grammar and limits and raises an error saying what
 * is wrong and at which key; matching never raises an error (a value of the
 * wrong type simply does not match) and allocates nothing unless a
 * non-ASCII string meets an "equals-ignore-case" operator.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_FILTER_H
#define PGMSG_FILTER_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/palloc.h"

/* SNS limits */
#define FILTER_MAX_KEYS			5	/* keys holding match values */
#define FILTER_MAX_COMBINATIONS 150
#define FILTER_MAX_BYTES		(256 * 1024)	/* of the policy's JSON text */
/* ours: objects nested in objects, counting "$or" branches */
#define FILTER_MAX_DEPTH		16

/* A compiled policy: a tree allocated in one memory context. */
typedef struct FilterPolicy FilterPolicy;

typedef enum FilterScope
{
	FILTER_SCOPE_ATTRIBUTES,	/* 'MessageAttributes': flat, on attributes */
	FILTER_SCOPE_BODY			/* 'MessageBody': nested, on the body */
} FilterScope;

/*
 * Validate and compile "policy" (detoasted) for "scope".  The result and
 * everything it points to is allocated in "cxt" and refers to nothing
 * else, so it may be cached and "policy" freed; free it by resetting or
 * deleting "cxt".  Scratch memory comes from CurrentMemoryContext.  An
 * invalid policy raises ERRCODE_INVALID_PARAMETER_VALUE, "invalid filter
 * policy: ...", with a detail naming the key.
 */
extern FilterPolicy *filter_compile(Jsonb *policy, FilterScope scope,
									MemoryContext cxt);

/*
 * Does a message pass the policy?  "attributes" is the message's attributes
 * object and "body" its body, either NULL; both detoasted.  Only the one
 * the policy's scope names is looked at: with MessageAttributes, a message
 * without attributes (NULL or {}) never matches; with MessageBody, a body
 * that is not a JSON object never matches.
 */
extern bool filter_match(const FilterPolicy *fp, Jsonb *attributes, Jsonb *body);

/* 'MessageAttributes' or 'MessageBody' (exactly); anything else is an error */
extern FilterScope filter_scope_from_name(const char *name);
extern const char *filter_scope_name(FilterScope scope);

#endif							/* PGMSG_FILTER_H */
