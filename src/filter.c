/*-------------------------------------------------------------------------
 *
 * filter.c
 *		SNS subscription filter policies: validation, compilation, matching.
 *
 * A filter policy is a JSON object.  Each key names a message attribute
 * (scope MessageAttributes) or a property of the message body (scope
 * MessageBody, where a key may instead hold an object of nested keys that
 * mirror the body's nested objects).  A key holds an array of match values,
 * any of which may match (OR); every key must match (AND); "$or" holds an
 * array of sub-policies, one of which must match.  A match value is
 *
 *	"str", 12.5, true, false, null			exact match, of the same JSON type
 *	{"prefix": "s"}, {"suffix": "s"}		string starts / ends with s
 *	{"equals-ignore-case": "s"}				string equal to s, case folded
 *	{"anything-but": "s" | 5 | ["s", ...] | [5, ...] | {"prefix": "s"}}
 *											a string (number) not listed, or
 *											a string not starting with s
 *	{"numeric": ["=", 5]}, ["<", 5], ["<=", 5], [">", 5], [">=", 5],
 *	{"numeric": [">", 0, "<=", 5]}			a number in the range
 *	{"exists": true}, {"exists": false}		the key is present / absent
 *	{"cidr": "10.0.0.0/24"}					an IPv4 or IPv6 address in it
 *
 * Matching follows SNS: a value of another JSON type never matches (the
 * number 5 is not the string "5"; numeric operators need numbers); an array
 * value (String.Array) matches if any element does, elements of nested
 * arrays included; a missing key matches only "exists": false (so
 * "anything-but" does not match a missing key); "exists": true needs a
 * value that is not null and not an empty array (nor, in the body, an
 * object: exists looks at leaves only); in MessageAttributes
 * scope a message without attributes matches nothing; in MessageBody scope
 * a body that is not an object matches nothing, and a nested key whose
 * body value is an array of objects matches if one element matches the
 * whole nested object.  "$or" is the OR operator only when it holds at
 * least two objects none of which uses an operator name as a key;
 * otherwise it is an ordinary key, as in SNS.
 *
 * Limits, as SNS counts them: at most 5 keys holding match values (nested
 * ones and those inside "$or" included; one key path counts once); at most
 * 150 combinations, the product over keys of their number of match values
 * times their nesting depth, with "$or" contributing the sum over its
 * branches; at most 256 KB of JSON text; numbers from -1e9 to 1e9 with at
 * most five digits after the decimal point; and, ours, objects nested at
 * most FILTER_MAX_DEPTH deep.
 *
 * Compiling turns strings into (pointer, length) pairs, numbers into
 * numerics, "equals-ignore-case" operands into their folded form and CIDRs
 * into address and prefix length, all in one memory context.  Matching
 * reads the message only through jsonb's and numeric's public functions:
 * it looks keys up in the jsonb containers in place (binary search, no
 * copies), and allocates only an array element at a time and the
 * case-folded form of a non-ASCII string for "equals-ignore-case".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>

#include "catalog/pg_collation.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "filter.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(pgmsg_filter_matches);

/*
 * Numbers are compared as numerics, exactly, through numeric_cmp: 5 equals
 * 5.0, and 20-digit integers compare exactly.  A policy's numbers lie
 * within the range SNS accepts in filter policies, -1e9 to 1e9 with at most
 * five digits after the decimal point; message values may be anything.
 */
#define FILTER_NUMBER_LIMIT		INT64CONST(1000000000)
#define FILTER_NUMBER_SCALE		5

static inline int
number_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

/*
 * The compiled form.
 */
typedef struct FilterString
{
	const char *data;
	int			len;
} FilterString;

typedef struct FilterNumber
{
	Numeric		value;
} FilterNumber;

typedef enum MatchKind
{
	MATCH_STRING,
	MATCH_NUMBER,
	MATCH_BOOL,
	MATCH_NULL,
	MATCH_PREFIX,
	MATCH_SUFFIX,
	MATCH_EQUALS_IGNORE_CASE,	/* str holds the folded operand */
	MATCH_ANYTHING_BUT_STRINGS,
	MATCH_ANYTHING_BUT_NUMBERS,
	MATCH_ANYTHING_BUT_PREFIX,
	MATCH_NUMERIC,
	MATCH_EXISTS,
	MATCH_NOT_EXISTS,
	MATCH_CIDR
} MatchKind;

typedef struct Matcher
{
	MatchKind	kind;
	union
	{
		FilterString str;
		FilterNumber num;
		bool		boolean;
		struct
		{
			int			n;
			FilterString *items;
		}			strs;
		struct
		{
			int			n;
			FilterNumber *items;
		}			nums;
		struct
		{
			Numeric		low;		/* NULL: unbounded */
			Numeric		high;		/* NULL: unbounded */
			bool		low_open;
			bool		high_open;
		}			range;
		struct
		{
			int			family;
			int			bits;
			uint8		addr[16];
		}			cidr;
	}			u;
} Matcher;

typedef struct FilterNode FilterNode;

typedef struct FilterKey
{
	FilterString name;
	FilterNode *nested;			/* an object of nested keys, or NULL and: */
	int			nmatchers;		/* the match values, any of which matches */
	Matcher    *matchers;
	bool		if_missing;		/* one of them is "exists": false */
} FilterKey;

typedef struct FilterOr
{
	int			nbranches;
	FilterNode **branches;
} FilterOr;

/* An object of the policy: every key must match, and one branch of each $or. */
struct FilterNode
{
	int			nkeys;
	FilterKey  *keys;
	int			nors;
	FilterOr   *ors;
};

struct FilterPolicy
{
	FilterScope scope;
	FilterNode *root;
};

/*
 * Matching.
 */

static inline bool
has_prefix(const JsonbValue *v, const FilterString *s)
{
	return v->val.string.len >= s->len &&
		memcmp(v->val.string.val, s->data, s->len) == 0;
}

static inline bool
has_suffix(const JsonbValue *v, const FilterString *s)
{
	return v->val.string.len >= s->len &&
		memcmp(v->val.string.val + v->val.string.len - s->len, s->data, s->len) == 0;
}

static bool
in_range(const Matcher *m, Numeric num)
{
	int			c;

	if (m->u.range.low != NULL)
	{
		c = number_cmp(num, m->u.range.low);
		if (c < 0 || (c == 0 && m->u.range.low_open))
			return false;
	}
	if (m->u.range.high != NULL)
	{
		c = number_cmp(num, m->u.range.high);
		if (c > 0 || (c == 0 && m->u.range.high_open))
			return false;
	}
	return true;
}

/*
 * Case folding: ASCII letters always; other characters as lower() does
 * with the database's default collation.  A string is folded by one or the
 * other as a whole, so the policy's operand and a message value are folded
 * the same way.
 */
static bool
is_ascii(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if (IS_HIGHBIT_SET(s[i]))
			return false;
	return true;
}

static bool
equals_ignore_case(const FilterString *folded, const char *s, int len)
{
	char	   *f;
	bool		result;

	if (is_ascii(s, len))
	{
		if (len != folded->len)
			return false;
		for (int i = 0; i < len; i++)
			if (pg_ascii_tolower((unsigned char) s[i]) != (unsigned char) folded->data[i])
				return false;
		return true;
	}
	f = str_tolower(s, len, DEFAULT_COLLATION_OID);
	result = strlen(f) == (size_t) folded->len && memcmp(f, folded->data, folded->len) == 0;
	pfree(f);
	return result;
}

/* Parse an IPv4 or IPv6 address (not NUL-terminated). */
static bool
parse_ip(const char *s, int len, int *family, uint8 *addr)
{
	char		buf[64];

	if (len <= 0 || len >= (int) sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (memchr(buf, ':', len) != NULL)
	{
		*family = AF_INET6;
		return inet_pton(AF_INET6, buf, addr) == 1;
	}
	*family = AF_INET;
	return inet_pton(AF_INET, buf, addr) == 1;
}

static bool
in_cidr(const Matcher *m, const char *s, int len)
{
	uint8		addr[16];
	int			family;
	int			bits = m->u.cidr.bits;

	if (!parse_ip(s, len, &family, addr) || family != m->u.cidr.family)
		return false;
	if (memcmp(addr, m->u.cidr.addr, bits / 8) != 0)
		return false;
	if (bits % 8 != 0)
	{
		uint8		mask = (uint8) (0xFF << (8 - bits % 8));

		if ((addr[bits / 8] & mask) != m->u.cidr.addr[bits / 8])
			return false;
	}
	return true;
}

/* Does a scalar (not an array or object) match? */
static bool
match_scalar(const Matcher *m, const JsonbValue *v)
{
	switch (m->kind)
	{
		case MATCH_STRING:
			return v->type == jbvString &&
				v->val.string.len == m->u.str.len &&
				memcmp(v->val.string.val, m->u.str.data, m->u.str.len) == 0;
		case MATCH_NUMBER:
			return v->type == jbvNumeric &&
				number_cmp(v->val.numeric, m->u.num.value) == 0;
		case MATCH_BOOL:
			return v->type == jbvBool && v->val.boolean == m->u.boolean;
		case MATCH_NULL:
			return v->type == jbvNull;
		case MATCH_PREFIX:
			return v->type == jbvString && has_prefix(v, &m->u.str);
		case MATCH_SUFFIX:
			return v->type == jbvString && has_suffix(v, &m->u.str);
		case MATCH_EQUALS_IGNORE_CASE:
			return v->type == jbvString &&
				equals_ignore_case(&m->u.str, v->val.string.val, v->val.string.len);
		case MATCH_ANYTHING_BUT_STRINGS:
			if (v->type != jbvString)
				return false;
			for (int i = 0; i < m->u.strs.n; i++)
				if (v->val.string.len == m->u.strs.items[i].len &&
					memcmp(v->val.string.val, m->u.strs.items[i].data,
						   m->u.strs.items[i].len) == 0)
					return false;
			return true;
		case MATCH_ANYTHING_BUT_NUMBERS:
			if (v->type != jbvNumeric)
				return false;
			for (int i = 0; i < m->u.nums.n; i++)
				if (number_cmp(v->val.numeric, m->u.nums.items[i].value) == 0)
					return false;
			return true;
		case MATCH_ANYTHING_BUT_PREFIX:
			return v->type == jbvString && !has_prefix(v, &m->u.str);
		case MATCH_NUMERIC:
			return v->type == jbvNumeric && in_range(m, v->val.numeric);
		case MATCH_CIDR:
			return v->type == jbvString &&
				in_cidr(m, v->val.string.val, v->val.string.len);
		case MATCH_EXISTS:
			return v->type != jbvNull;
		case MATCH_NOT_EXISTS:
			return false;
	}
	return false;
}

/* Does a present value match?  An array matches if any element does. */
static bool
match_value(const Matcher *m, const JsonbValue *v)
{
	JsonbContainer *jc;
	uint32		n;

	if (v->type != jbvBinary)
		return match_scalar(m, v);
	jc = v->val.binary.data;
	if (!JsonContainerIsArray(jc))
		return false;			/* an object is not a leaf value */
	n = JsonContainerSize(jc);
	check_stack_depth();
	for (uint32 i = 0; i < n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(jc, i);
		bool		matched = match_value(m, elem);

		pfree(elem);
		if (matched)
			return true;
	}
	return false;
}

static bool match_node(const FilterNode *node, JsonbContainer *obj);

/*
 * Match nested keys against a body value: an object directly, an array if
 * one element matches, anything else as if the nested keys were missing.
 */
static bool
match_nested(const FilterNode *node, const JsonbValue *v)
{
	if (v != NULL && v->type == jbvBinary)
	{
		JsonbContainer *jc = v->val.binary.data;
		uint32		n = JsonContainerSize(jc);

		if (JsonContainerIsObject(jc))
			return match_node(node, jc);
		if (n > 0)
		{
			check_stack_depth();
			for (uint32 i = 0; i < n; i++)
			{
				JsonbValue *elem = getIthJsonbValueFromContainer(jc, i);
				bool		matched = match_nested(node, elem);

				pfree(elem);
				if (matched)
					return true;
			}
			return false;
		}
	}
	return match_node(node, NULL);
}

static bool
match_key(const FilterKey *key, JsonbContainer *obj)
{
	JsonbValue	buf;
	JsonbValue *v = NULL;

	if (obj != NULL)
		v = getKeyJsonValueFromContainer(obj, key->name.data, key->name.len, &buf);
	if (key->nested != NULL)
		return match_nested(key->nested, v);
	if (v == NULL)
		return key->if_missing;
	for (int i = 0; i < key->nmatchers; i++)
		if (match_value(&key->matchers[i], v))
			return true;
	return false;
}

/* obj is the object the node's keys are looked up in, NULL if there is none */
static bool
match_node(const FilterNode *node, JsonbContainer *obj)
{
	for (int i = 0; i < node->nkeys; i++)
		if (!match_key(&node->keys[i], obj))
			return false;
	for (int i = 0; i < node->nors; i++)
	{
		const FilterOr *or = &node->ors[i];
		bool		matched = false;

		for (int j = 0; j < or->nbranches && !matched; j++)
			matched = match_node(or->branches[j], obj);
		if (!matched)
			return false;
	}
	return true;
}

bool
filter_match(const FilterPolicy *fp, Jsonb *attributes, Jsonb *body)
{
	Jsonb	   *doc = fp->scope == FILTER_SCOPE_ATTRIBUTES ? attributes : body;

	if (doc == NULL || !JB_ROOT_IS_OBJECT(doc))
		return false;
	/* SNS: without attributes nothing matches, not even "exists": false */
	if (fp->scope == FILTER_SCOPE_ATTRIBUTES && JB_ROOT_COUNT(doc) == 0)
		return false;
	return match_node(fp->root, &doc->root);
}

/*
 * Compiling.
 */

/* A step of the path to the key being compiled, for error messages. */
typedef struct PathStep
{
	const char *key;			/* a key, or NULL for a branch of "$or" */
	int			len;
	int			branch;
} PathStep;

/* A key holding match values, for counting keys. */
typedef struct LeafKey
{
	char	   *id;				/* the path, length-prefixed: for comparing */
	int			idlen;
	char	   *name;			/* the path, dotted: for messages */
} LeafKey;

typedef struct CompileState
{
	FilterScope scope;
	MemoryContext cxt;
	bool		in_or_key;		/* compiling a key "$or" that is not an OR */
	const char *hint;			/* for the next error, or NULL */
	int			npath;
	PathStep	path[FILTER_MAX_DEPTH + 2];
	List	   *leaves;			/* LeafKey * */
} CompileState;

static const char *const operator_names[] = {
	"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric",
	"exists", "cidr"
};

static bool
string_is(const JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

static bool
is_operator_name(const JsonbValue *v)
{
	for (int i = 0; i < (int) lengthof(operator_names); i++)
		if (string_is(v, operator_names[i]))
			return true;
	return false;
}

/* A hint for an operator written where a key belongs. */
static char *
operator_hint(const JsonbValue *op)
{
	return psprintf("\"%.*s\" is an operator: operators go in objects inside a key's array of match values, as in [{\"%.*s\": ...}].",
					op->val.string.len, op->val.string.val,
					op->val.string.len, op->val.string.val);
}

static const char *
type_phrase(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return v->val.boolean ? "true" : "false";
		case jbvNull:
			return "null";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "an unexpected value";
	}
}

static char *
path_string(CompileState *st)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < st->npath; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, '.');
		if (st->path[i].key != NULL)
			appendBinaryStringInfo(&buf, st->path[i].key, st->path[i].len);
		else
			appendStringInfo(&buf, "$or[%d]", st->path[i].branch);
	}
	return buf.data;
}

/*
 * The hint of an invalid policy at the current key, if any; for
 * key_error's ereport.
 */
static int
key_hint(CompileState *st)
{
	if (st->hint != NULL)
		return errhint("%s", st->hint);
	if (st->in_or_key)
		return errhint("\"$or\" is the OR operator only when it holds an array of at least two objects "
					   "none of which has an operator name as a key; otherwise it is an ordinary key.");
	return 0;
}

/*
 * Report an invalid policy at the current key.  "message" and "detail" are
 * errmsg's and errdetail's arguments, each a whole sentence: the message
 * starts "invalid filter policy: ", the detail "At key \"%s\": " with the
 * key's path (path_string) as its first argument.
 */
#define key_error(st, message, detail) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg message, \
			 errdetail detail, \
			 key_hint(st)))

static void
path_push(CompileState *st, const char *key, int len, int branch)
{
	Assert(st->npath < (int) lengthof(st->path));
	st->path[st->npath].key = key;
	st->path[st->npath].len = len;
	st->path[st->npath].branch = branch;
	st->npath++;
}

static FilterString
copy_string(CompileState *st, const char *s, int len)
{
	FilterString fs;
	char	   *copy = MemoryContextAlloc(st->cxt, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	fs.data = copy;
	fs.len = len;
	return fs;
}

static char *number_text(Numeric num);

/*
 * Check a policy's number against the limits, and copy it into the
 * policy's memory.
 */
static Numeric
compile_numeric_value(CompileState *st, Numeric num)
{
	Numeric		limit = int64_to_numeric(FILTER_NUMBER_LIMIT);
	Numeric		abs;
	int			scale;
	MemoryContext old;
	Numeric		copy;

	if (numeric_is_nan(num) || numeric_is_inf(num))
		key_error(st, ("invalid filter policy: bad number"),
				  ("At key \"%s\": the number is not finite.",
				   path_string(st)));
	abs = DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(num)));
	if (number_cmp(abs, limit) > 0)
		key_error(st, ("invalid filter policy: number out of range"),
				  ("At key \"%s\": numbers in a filter policy lie between -%lld and %lld.",
				   path_string(st), (long long) FILTER_NUMBER_LIMIT, (long long) FILTER_NUMBER_LIMIT));
	scale = DatumGetInt32(DirectFunctionCall1(numeric_min_scale, NumericGetDatum(num)));
	if (scale > FILTER_NUMBER_SCALE)
		key_error(st, ("invalid filter policy: number too precise"),
				  ("At key \"%s\": the number %s has %d digits after the decimal point; filter policies take at most %d.",
				   path_string(st), number_text(num), scale, FILTER_NUMBER_SCALE));
	old = MemoryContextSwitchTo(st->cxt);
	copy = DatumGetNumericCopy(NumericGetDatum(num));
	MemoryContextSwitchTo(old);
	return copy;
}

static void
compile_number(CompileState *st, Numeric num, FilterNumber *fn)
{
	fn->value = compile_numeric_value(st, num);
}

static char *
number_text(Numeric num)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(num)));
}

/* The elements of an array container, in a palloc'd array. */
static JsonbValue *
array_values(JsonbContainer *jc, int *n)
{
	JsonbValue *values = palloc(Max(JsonContainerSize(jc), 1) * sizeof(JsonbValue));

	*n = JsonContainerSize(jc);
	for (int i = 0; i < *n; i++)
	{
		JsonbValue *v = getIthJsonbValueFromContainer(jc, i);

		values[i] = *v;
		pfree(v);
	}
	return values;
}

/* The only key and its value of a one-key object container. */
static void
only_pair(JsonbContainer *jc, JsonbValue *key, JsonbValue *value)
{
	JsonbIterator *it = JsonbIteratorInit(jc);

	(void) JsonbIteratorNext(&it, key, true);	/* WJB_BEGIN_OBJECT */
	(void) JsonbIteratorNext(&it, key, true);	/* WJB_KEY */
	(void) JsonbIteratorNext(&it, value, true); /* WJB_VALUE */
}

static int
numeric_operator(const JsonbValue *v, bool *low, bool *open)
{
	static const struct
	{
		const char *name;
		bool		low;
		bool		open;
	}			ops[] = {
		{"=", false, false}, {"<", false, true}, {"<=", false, false},
		{">", true, true}, {">=", true, false}
	};

	for (int i = 0; i < (int) lengthof(ops); i++)
		if (string_is(v, ops[i].name))
		{
			*low = ops[i].low;
			*open = ops[i].open;
			return i;
		}
	return -1;
}

/*
 * {"numeric": ["=", 5]}, ["<", 5], ["<=", 5], [">", 5], [">=", 5], or a
 * range [">" | ">=", low, "<" | "<=", high] with low < high.
 */
static void
compile_numeric(CompileState *st, const JsonbValue *arg, Matcher *m)
{
	JsonbValue *e;
	int			n;
	bool		low;
	bool		open;
	char	   *op;
	Numeric		bound;
	Numeric		bottom;

	if (arg->type != jbvBinary || !JsonContainerIsArray(arg->val.binary.data))
		key_error(st, ("invalid filter policy: operator \"numeric\" needs an array"),
				  ("At key \"%s\": \"numeric\" takes an array such as [\"<\", 100] or [\">=\", 0, \"<\", 100], not %s.",
				   path_string(st), type_phrase(arg)));
	e = array_values(arg->val.binary.data, &n);
	if (n == 0)
		key_error(st, ("invalid filter policy: bad numeric match"),
				  ("At key \"%s\": the \"numeric\" array is empty; it starts with an operator: \"=\", \"<\", \"<=\", \">\" or \">=\".",
				   path_string(st)));
	if (e[0].type != jbvString)
		key_error(st, ("invalid filter policy: bad numeric match"),
				  ("At key \"%s\": the \"numeric\" array starts with an operator (\"=\", \"<\", \"<=\", \">\" or \">=\"), not %s.",
				   path_string(st), type_phrase(&e[0])));
	op = pnstrdup(e[0].val.string.val, e[0].val.string.len);
	if (numeric_operator(&e[0], &low, &open) < 0)
		key_error(st, ("invalid filter policy: unknown numeric operator \"%s\"", op),
				  ("At key \"%s\": the numeric operators are \"=\", \"<\", \"<=\", \">\" and \">=\".",
				   path_string(st)));
	if (n < 2)
		key_error(st, ("invalid filter policy: numeric operator \"%s\" needs a number", op),
				  ("At key \"%s\": numeric operator \"%s\" ends the array; a number must follow it.",
				   path_string(st), op));
	if (e[1].type != jbvNumeric)
		key_error(st, ("invalid filter policy: numeric operator \"%s\" needs a number", op),
				  ("At key \"%s\": numeric operator \"%s\" is followed by %s, not a number.",
				   path_string(st), op, type_phrase(&e[1])));

	m->kind = MATCH_NUMERIC;
	m->u.range.low = NULL;
	m->u.range.high = NULL;
	m->u.range.low_open = false;
	m->u.range.high_open = false;
	bound = compile_numeric_value(st, e[1].val.numeric);
	if (strcmp(op, "=") == 0)
		m->u.range.low = m->u.range.high = bound;
	else if (low)
	{
		m->u.range.low = bound;
		m->u.range.low_open = open;
	}
	else
	{
		m->u.range.high = bound;
		m->u.range.high_open = open;
	}
	if (n == 2)
		return;

	if (!low)
		key_error(st, ("invalid filter policy: bad numeric match"),
				  ("At key \"%s\": numeric operator \"%s\" takes one number; only \">\" and \">=\" can start a range such as [\">\", 0, \"<=\", 5].",
				   path_string(st), op));
	bottom = e[1].val.numeric;
	if (e[2].type != jbvString)
		key_error(st, ("invalid filter policy: bad numeric range"),
				  ("At key \"%s\": a range continues with \"<\" or \"<=\" after its lower bound, not %s.",
				   path_string(st), type_phrase(&e[2])));
	op = pnstrdup(e[2].val.string.val, e[2].val.string.len);
	if (numeric_operator(&e[2], &low, &open) < 0 || low || strcmp(op, "=") == 0)
		key_error(st, ("invalid filter policy: bad numeric range"),
				  ("At key \"%s\": a range ends with \"<\" or \"<=\" and its upper bound, not with \"%s\".",
				   path_string(st), op));
	if (n < 4)
		key_error(st, ("invalid filter policy: numeric operator \"%s\" needs a number", op),
				  ("At key \"%s\": numeric operator \"%s\" ends the array; a number must follow it.",
				   path_string(st), op));
	if (e[3].type != jbvNumeric)
		key_error(st, ("invalid filter policy: numeric operator \"%s\" needs a number", op),
				  ("At key \"%s\": numeric operator \"%s\" is followed by %s, not a number.",
				   path_string(st), op, type_phrase(&e[3])));
	if (n > 4)
		key_error(st, ("invalid filter policy: bad numeric range"),
				  ("At key \"%s\": a range has four elements, as in [\">\", 0, \"<=\", 5]; this one has %d.",
				   path_string(st), n));
	bound = compile_numeric_value(st, e[3].val.numeric);
	if (number_cmp(bound, m->u.range.low) <= 0)
		key_error(st, ("invalid filter policy: bad numeric range"),
				  ("At key \"%s\": the lower bound %s is not less than the upper bound %s.",
				   path_string(st), number_text(bottom), number_text(e[3].val.numeric)));
	m->u.range.high = bound;
	m->u.range.high_open = open;
}

/*
 * {"anything-but": "s" | 5 | ["s", ...] | [5, ...] | {"prefix": "s"}}
 */
static void
compile_anything_but(CompileState *st, const JsonbValue *arg, Matcher *m)
{
	JsonbValue *e;
	int			n;
	bool		strings = false;
	bool		numbers = false;

	if (arg->type == jbvString)
	{
		m->kind = MATCH_ANYTHING_BUT_STRINGS;
		m->u.strs.n = 1;
		m->u.strs.items = MemoryContextAlloc(st->cxt, sizeof(FilterString));
		m->u.strs.items[0] = copy_string(st, arg->val.string.val, arg->val.string.len);
		return;
	}
	if (arg->type == jbvNumeric)
	{
		m->kind = MATCH_ANYTHING_BUT_NUMBERS;
		m->u.nums.n = 1;
		m->u.nums.items = MemoryContextAlloc(st->cxt, sizeof(FilterNumber));
		compile_number(st, arg->val.numeric, &m->u.nums.items[0]);
		return;
	}
	if (arg->type == jbvBinary && JsonContainerIsObject(arg->val.binary.data))
	{
		JsonbContainer *jc = arg->val.binary.data;
		JsonbValue	key;
		JsonbValue	value;
		char	   *name;

		if (JsonContainerSize(jc) != 1)
			key_error(st, ("invalid filter policy: bad \"anything-but\""),
					  ("At key \"%s\": an object inside \"anything-but\" has exactly one key, as in {\"anything-but\": {\"prefix\": \"order-\"}}; this one has %d.",
					   path_string(st), (int) JsonContainerSize(jc)));
		only_pair(jc, &key, &value);
		name = pnstrdup(key.val.string.val, key.val.string.len);
		if (strcmp(name, "prefix") != 0)
			key_error(st, ("invalid filter policy: unsupported operator \"%s\" inside \"anything-but\"", name),
					  ("At key \"%s\": inside \"anything-but\" only \"prefix\" is supported, as in {\"anything-but\": {\"prefix\": \"order-\"}}.",
					   path_string(st)));
		if (value.type != jbvString)
			key_error(st, ("invalid filter policy: operator \"prefix\" needs a string"),
					  ("At key \"%s\": \"prefix\" inside \"anything-but\" takes a string, not %s.",
					   path_string(st), type_phrase(&value)));
		if (value.val.string.len == 0)
			key_error(st, ("invalid filter policy: empty prefix inside \"anything-but\""),
					  ("At key \"%s\": the prefix inside \"anything-but\" must not be empty (nothing would match).",
					   path_string(st)));
		m->kind = MATCH_ANYTHING_BUT_PREFIX;
		m->u.str = copy_string(st, value.val.string.val, value.val.string.len);
		return;
	}
	if (arg->type != jbvBinary)
		key_error(st, ("invalid filter policy: bad \"anything-but\""),
				  ("At key \"%s\": \"anything-but\" takes a string, a number, an array of strings or of numbers, or {\"prefix\": \"...\"}; not %s.",
				   path_string(st), type_phrase(arg)));

	e = array_values(arg->val.binary.data, &n);
	if (n == 0)
		key_error(st, ("invalid filter policy: bad \"anything-but\""),
				  ("At key \"%s\": the \"anything-but\" array is empty.",
				   path_string(st)));
	for (int i = 0; i < n; i++)
	{
		if (e[i].type == jbvString)
			strings = true;
		else if (e[i].type == jbvNumeric)
			numbers = true;
		else
			key_error(st, ("invalid filter policy: bad \"anything-but\""),
					  ("At key \"%s\": an \"anything-but\" array holds strings or numbers, not %s.",
					   path_string(st), type_phrase(&e[i])));
	}
	if (strings && numbers)
		key_error(st, ("invalid filter policy: bad \"anything-but\""),
				  ("At key \"%s\": an \"anything-but\" array holds only strings or only numbers, not both.",
				   path_string(st)));
	if (strings)
	{
		m->kind = MATCH_ANYTHING_BUT_STRINGS;
		m->u.strs.n = n;
		m->u.strs.items = MemoryContextAlloc(st->cxt, n * sizeof(FilterString));
		for (int i = 0; i < n; i++)
			m->u.strs.items[i] = copy_string(st, e[i].val.string.val, e[i].val.string.len);
	}
	else
	{
		m->kind = MATCH_ANYTHING_BUT_NUMBERS;
		m->u.nums.n = n;
		m->u.nums.items = MemoryContextAlloc(st->cxt, n * sizeof(FilterNumber));
		for (int i = 0; i < n; i++)
			compile_number(st, e[i].val.numeric, &m->u.nums.items[i]);
	}
}

/* {"cidr": "10.0.0.0/24"} or an IPv6 network */
static void
compile_cidr(CompileState *st, const JsonbValue *arg, Matcher *m)
{
	char	   *text;
	char	   *slash;
	int			bits = 0;
	int			max;
	int			ndigits;

	if (arg->type != jbvString)
		key_error(st, ("invalid filter policy: operator \"cidr\" needs a string"),
				  ("At key \"%s\": \"cidr\" takes a string such as \"10.0.0.0/24\", not %s.",
				   path_string(st), type_phrase(arg)));
	text = pnstrdup(arg->val.string.val, arg->val.string.len);
	slash = strchr(text, '/');
	if (slash == NULL || strchr(slash + 1, '/') != NULL ||
		!parse_ip(text, slash - text, &m->u.cidr.family, m->u.cidr.addr))
		key_error(st, ("invalid filter policy: malformed CIDR \"%s\"", text),
				  ("At key \"%s\": a CIDR is an IPv4 or IPv6 address, \"/\" and a prefix length, as in \"10.0.0.0/24\" or \"2001:db8::/32\".",
				   path_string(st)));
	ndigits = strlen(slash + 1);
	for (int i = 0; i < ndigits; i++)
	{
		if (slash[1 + i] < '0' || slash[1 + i] > '9' || i >= 3)
		{
			ndigits = 0;
			break;
		}
		bits = bits * 10 + (slash[1 + i] - '0');
	}
	max = m->u.cidr.family == AF_INET ? 32 : 128;
	if (ndigits == 0 || bits > max)
		key_error(st, ("invalid filter policy: malformed CIDR \"%s\"", text),
				  ("At key \"%s\": the prefix length after \"/\" is a number from 0 to %d for an %s address.",
				   path_string(st), max, m->u.cidr.family == AF_INET ? "IPv4" : "IPv6"));
	/* keep only the network's bits */
	for (int i = 0; i < 16; i++)
	{
		int			keep = Min(Max(bits - 8 * i, 0), 8);

		m->u.cidr.addr[i] &= (uint8) (0xFF00 >> keep);
	}
	m->kind = MATCH_CIDR;
	m->u.cidr.bits = bits;
}

/* An operator object: one key, the operator, and its argument. */
static void
compile_operator(CompileState *st, JsonbContainer *jc, Matcher *m)
{
	JsonbValue	key;
	JsonbValue	arg;
	char	   *name;

	if (JsonContainerSize(jc) == 0)
		key_error(st, ("invalid filter policy: empty operator object"),
				  ("At key \"%s\": an operator object has one key, the operator, as in {\"prefix\": \"abc\"}.",
				   path_string(st)));
	if (JsonContainerSize(jc) > 1)
		key_error(st, ("invalid filter policy: more than one operator in an object"),
				  ("At key \"%s\": an operator object has exactly one key; put each operator in an object of its own, as in [{\"prefix\": \"a\"}, {\"suffix\": \"z\"}].",
				   path_string(st)));
	only_pair(jc, &key, &arg);
	name = pnstrdup(key.val.string.val, key.val.string.len);

	if (strcmp(name, "prefix") == 0 || strcmp(name, "suffix") == 0 ||
		strcmp(name, "equals-ignore-case") == 0)
	{
		if (arg.type != jbvString)
			key_error(st, ("invalid filter policy: operator \"%s\" needs a string", name),
					  ("At key \"%s\": \"%s\" takes a string, not %s.",
					   path_string(st), name, type_phrase(&arg)));
		if (name[0] == 'p')
			m->kind = MATCH_PREFIX;
		else if (name[0] == 's')
			m->kind = MATCH_SUFFIX;
		else
			m->kind = MATCH_EQUALS_IGNORE_CASE;
		if (m->kind != MATCH_EQUALS_IGNORE_CASE)
			m->u.str = copy_string(st, arg.val.string.val, arg.val.string.len);
		else if (is_ascii(arg.val.string.val, arg.val.string.len))
		{
			m->u.str = copy_string(st, arg.val.string.val, arg.val.string.len);
			for (int i = 0; i < m->u.str.len; i++)
				((char *) m->u.str.data)[i] = pg_ascii_tolower((unsigned char) m->u.str.data[i]);
		}
		else
		{
			char	   *folded = str_tolower(arg.val.string.val, arg.val.string.len,
											 DEFAULT_COLLATION_OID);

			m->u.str = copy_string(st, folded, strlen(folded));
		}
	}
	else if (strcmp(name, "anything-but") == 0)
		compile_anything_but(st, &arg, m);
	else if (strcmp(name, "numeric") == 0)
		compile_numeric(st, &arg, m);
	else if (strcmp(name, "exists") == 0)
	{
		if (arg.type != jbvBool)
			key_error(st, ("invalid filter policy: operator \"exists\" needs true or false"),
					  ("At key \"%s\": \"exists\" takes true or false, not %s.",
					   path_string(st), type_phrase(&arg)));
		m->kind = arg.val.boolean ? MATCH_EXISTS : MATCH_NOT_EXISTS;
	}
	else if (strcmp(name, "cidr") == 0)
		compile_cidr(st, &arg, m);
	else
		key_error(st, ("invalid filter policy: unknown operator \"%s\"", name),
				  ("At key \"%s\": the operators are prefix, suffix, equals-ignore-case, anything-but, numeric, exists and cidr.",
				   path_string(st)));
}

/* A key's array of match values. */
static void
compile_values(CompileState *st, JsonbContainer *jc, FilterKey *key)
{
	JsonbValue *e;
	int			n;

	e = array_values(jc, &n);
	if (n == 0)
		key_error(st, ("invalid filter policy: empty array"),
				  ("At key \"%s\": a key needs at least one match value.",
				   path_string(st)));
	key->nmatchers = n;
	key->matchers = MemoryContextAllocZero(st->cxt, n * sizeof(Matcher));
	for (int i = 0; i < n; i++)
	{
		Matcher    *m = &key->matchers[i];

		switch (e[i].type)
		{
			case jbvString:
				m->kind = MATCH_STRING;
				m->u.str = copy_string(st, e[i].val.string.val, e[i].val.string.len);
				break;
			case jbvNumeric:
				m->kind = MATCH_NUMBER;
				compile_number(st, e[i].val.numeric, &m->u.num);
				break;
			case jbvBool:
				m->kind = MATCH_BOOL;
				m->u.boolean = e[i].val.boolean;
				break;
			case jbvNull:
				m->kind = MATCH_NULL;
				break;
			default:
				if (e[i].type != jbvBinary || JsonContainerIsArray(e[i].val.binary.data))
					key_error(st, ("invalid filter policy: bad match value"),
							  ("At key \"%s\": match values are strings, numbers, true, false, null or operator objects, not arrays.",
							   path_string(st)));
				compile_operator(st, e[i].val.binary.data, m);
				break;
		}
		if (m->kind == MATCH_NOT_EXISTS)
			key->if_missing = true;
	}
}

/* Remember a key holding match values: the path to it, minus "$or" steps. */
static void
add_leaf(CompileState *st)
{
	StringInfoData id;
	StringInfoData name;
	LeafKey    *leaf = palloc(sizeof(LeafKey));

	initStringInfo(&id);
	initStringInfo(&name);
	for (int i = 0; i < st->npath; i++)
	{
		if (st->path[i].key == NULL)
			continue;
		appendBinaryStringInfo(&id, (char *) &st->path[i].len, sizeof(int));
		appendBinaryStringInfo(&id, st->path[i].key, st->path[i].len);
		if (name.len > 0)
			appendStringInfoChar(&name, '.');
		appendBinaryStringInfo(&name, st->path[i].key, st->path[i].len);
	}
	leaf->id = id.data;
	leaf->idlen = id.len;
	leaf->name = name.data;
	st->leaves = lappend(st->leaves, leaf);
}

/*
 * Is this value of a key "$or" the OR operator?  As in SNS: an array of at
 * least two objects, none of which has an operator name as a key.
 */
static bool
is_or(const JsonbValue *v)
{
	JsonbValue *e;
	int			n;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		return false;
	e = array_values(v->val.binary.data, &n);
	if (n < 2)
		return false;
	for (int i = 0; i < n; i++)
	{
		JsonbIterator *it;
		JsonbValue	k;
		JsonbIteratorToken tok;

		if (e[i].type != jbvBinary || !JsonContainerIsObject(e[i].val.binary.data))
			return false;
		it = JsonbIteratorInit(e[i].val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			if (tok == WJB_KEY && is_operator_name(&k))
				return false;
	}
	return true;
}

static void
depth_error(CompileState *st)
{
	key_error(st, ("invalid filter policy: nested too deeply"),
			  ("At key \"%s\": objects in a filter policy nest at most %d deep, counting the branches of \"$or\".",
			   path_string(st), FILTER_MAX_DEPTH));
}

/*
 * Compile an object of the policy.  "depth" is its keys' nesting depth
 * (1 at the top, +1 per nested object), which weighs their combinations;
 * "level" also counts "$or" branches, for the nesting limit.  Returns the
 * node; its combinations go to *combinations.
 */
static FilterNode *
compile_node(CompileState *st, JsonbContainer *jc, int depth, int level,
			 double *combinations)
{
	FilterNode *node = MemoryContextAllocZero(st->cxt, sizeof(FilterNode));
	int			n = JsonContainerSize(jc);
	double		comb = 1;
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	v;
	JsonbIteratorToken tok;

	check_stack_depth();
	if (n == 0)
		key_error(st, ("invalid filter policy: empty object"),
				  ("At key \"%s\": an object needs at least one key.",
				   path_string(st)));
	node->keys = MemoryContextAllocZero(st->cxt, n * sizeof(FilterKey));
	node->ors = MemoryContextAllocZero(st->cxt, n * sizeof(FilterOr));

	it = JsonbIteratorInit(jc);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	while ((tok = JsonbIteratorNext(&it, &k, true)) == WJB_KEY)
	{
		FilterKey  *key;
		double		c;

		(void) JsonbIteratorNext(&it, &v, true);	/* WJB_VALUE */

		if (string_is(&k, "$or") && is_or(&v))
		{
			FilterOr   *or = &node->ors[node->nors++];
			JsonbValue *branches;
			double		sum = 0;

			branches = array_values(v.val.binary.data, &or->nbranches);
			or->branches = MemoryContextAlloc(st->cxt, or->nbranches * sizeof(FilterNode *));
			for (int i = 0; i < or->nbranches; i++)
			{
				path_push(st, NULL, 0, i);
				if (level + 1 > FILTER_MAX_DEPTH)
					depth_error(st);
				or->branches[i] = compile_node(st, branches[i].val.binary.data,
											   depth, level + 1, &c);
				sum += c;
				st->npath--;
			}
			comb *= sum;
			continue;
		}

		key = &node->keys[node->nkeys++];
		key->name = copy_string(st, k.val.string.val, k.val.string.len);
		path_push(st, key->name.data, key->name.len, 0);
		st->in_or_key = string_is(&k, "$or");
		if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			if (st->scope == FILTER_SCOPE_ATTRIBUTES)
			{
				JsonbValue	first;
				JsonbValue	ignored;

				first.type = jbvNull;
				if (JsonContainerSize(v.val.binary.data) > 0)
					only_pair(v.val.binary.data, &first, &ignored);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid filter policy: nested keys need the MessageBody scope"),
						 errdetail("At key \"%s\": in MessageAttributes scope each key takes an array of match values, not an object.",
								   path_string(st)),
						 is_operator_name(&first) ? errhint("%s", operator_hint(&first)) :
						 errhint("Use the MessageBody filter policy scope to match nested properties of the message body.")));
			}
			if (level + 1 > FILTER_MAX_DEPTH)
				depth_error(st);
			st->in_or_key = false;
			key->nested = compile_node(st, v.val.binary.data, depth + 1, level + 1, &c);
			comb *= c;
		}
		else if (v.type == jbvBinary)
		{
			compile_values(st, v.val.binary.data, key);
			add_leaf(st);
			comb *= (double) key->nmatchers * depth;
		}
		else
		{
			if (is_operator_name(&k))
				st->hint = operator_hint(&k);
			if (st->scope == FILTER_SCOPE_ATTRIBUTES)
				key_error(st, ("invalid filter policy: a key's value must be an array"),
						  ("At key \"%s\": the value is %s; each key takes an array of match values, as in [\"a\", \"b\"].",
						   path_string(st), type_phrase(&v)));
			key_error(st, ("invalid filter policy: a key's value must be an array or an object"),
					  ("At key \"%s\": the value is %s; each key takes an array of match values, as in [\"a\", \"b\"], or an object of nested keys.",
					   path_string(st), type_phrase(&v)));
		}
		st->in_or_key = false;
		st->npath--;
	}
	*combinations = comb;
	return node;
}

static int
leaf_id_cmp(const ListCell *a, const ListCell *b)
{
	const LeafKey *x = lfirst(a);
	const LeafKey *y = lfirst(b);

	if (x->idlen != y->idlen)
		return x->idlen < y->idlen ? -1 : 1;
	return memcmp(x->id, y->id, x->idlen);
}

static int
leaf_name_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(((const LeafKey *) lfirst(a))->name,
				  ((const LeafKey *) lfirst(b))->name);
}

/* Count the distinct keys holding match values; fail if there are too many. */
static void
check_keys(CompileState *st)
{
	List	   *distinct = NIL;
	LeafKey    *prev = NULL;
	StringInfoData names;
	ListCell   *lc;

	list_sort(st->leaves, leaf_id_cmp);
	foreach(lc, st->leaves)
	{
		LeafKey    *leaf = lfirst(lc);

		if (prev == NULL || prev->idlen != leaf->idlen ||
			memcmp(prev->id, leaf->id, leaf->idlen) != 0)
			distinct = lappend(distinct, leaf);
		prev = leaf;
	}
	if (list_length(distinct) <= FILTER_MAX_KEYS)
		return;

	list_sort(distinct, leaf_name_cmp);
	initStringInfo(&names);
	foreach(lc, distinct)
	{
		if (foreach_current_index(lc) == 10)
		{
			appendStringInfo(&names, " and %d more", list_length(distinct) - 10);
			break;
		}
		appendStringInfo(&names, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 ((LeafKey *) lfirst(lc))->name);
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid filter policy: too many keys"),
			 errdetail("A filter policy has at most %d keys; this one has %d: %s. Every key holding match values counts, nested keys and keys inside \"$or\" included.",
					   FILTER_MAX_KEYS, list_length(distinct), names.data)));
}

FilterPolicy *
filter_compile(Jsonb *policy, FilterScope scope, MemoryContext cxt)
{
	CompileState st;
	FilterPolicy *fp;
	double		combinations;
	char	   *text;
	int			len;

	text = JsonbToCString(NULL, &policy->root, VARSIZE(policy));
	len = strlen(text);
	pfree(text);
	if (len > FILTER_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid filter policy: too large"),
				 errdetail("The policy has %d bytes of JSON text; at most %d are allowed.",
						   len, FILTER_MAX_BYTES)));
	if (!JB_ROOT_IS_OBJECT(policy))
	{
		JsonbValue	root;

		if (JB_ROOT_IS_SCALAR(policy))
			(void) JsonbExtractScalar(&policy->root, &root);
		else
		{
			root.type = jbvBinary;
			root.val.binary.data = &policy->root;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid filter policy: not a JSON object"),
				 errdetail("The policy is %s; a filter policy is an object whose keys hold arrays of match values, as in {\"kind\": [\"order\"]}.",
						   type_phrase(&root))));
	}
	if (JB_ROOT_COUNT(policy) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid filter policy: empty object"),
				 errdetail("The policy has no keys."),
				 errhint("To accept every message, use no filter policy.")));

	memset(&st, 0, sizeof(st));
	st.scope = scope;
	st.cxt = cxt;
	fp = MemoryContextAlloc(cxt, sizeof(FilterPolicy));
	fp->scope = scope;
	fp->root = compile_node(&st, &policy->root, 1, 1, &combinations);

	check_keys(&st);
	if (combinations > FILTER_MAX_COMBINATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid filter policy: too complex"),
				 combinations < 1e15 ?
				 errdetail("The policy has %.0f combinations of match values; at most %d are allowed. A key multiplies the combinations by its number of match values (times its nesting depth in MessageBody scope); \"$or\" by the sum of its branches' combinations.",
						   combinations, FILTER_MAX_COMBINATIONS) :
				 errdetail("The policy has 10^15 or more combinations of match values; at most %d are allowed. A key multiplies the combinations by its number of match values (times its nesting depth in MessageBody scope); \"$or\" by the sum of its branches' combinations.",
						   FILTER_MAX_COMBINATIONS)));
	return fp;
}

/*
 * Scopes.
 */
static bool
scope_lookup(const char *name, int len, FilterScope *scope)
{
	if (len == (int) strlen("MessageAttributes") &&
		memcmp(name, "MessageAttributes", len) == 0)
		*scope = FILTER_SCOPE_ATTRIBUTES;
	else if (len == (int) strlen("MessageBody") &&
			 memcmp(name, "MessageBody", len) == 0)
		*scope = FILTER_SCOPE_BODY;
	else
		return false;
	return true;
}

FilterScope
filter_scope_from_name(const char *name)
{
	FilterScope scope;

	if (!scope_lookup(name, strlen(name), &scope))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid filter policy scope \"%s\"", name),
				 errhint("The filter policy scope is 'MessageAttributes' or 'MessageBody'.")));
	return scope;
}

const char *
filter_scope_name(FilterScope scope)
{
	return scope == FILTER_SCOPE_BODY ? "MessageBody" : "MessageAttributes";
}

/*
 * pgmsg.filter_matches(filter_policy, attributes, body, filter_policy_scope)
 * validates the policy as a subscription would and matches the message.
 * The compiled policy is kept in fn_extra and compiled again only when the
 * policy or the scope differs from the previous call's.
 */
typedef struct FilterCache
{
	MemoryContext cxt;			/* holds policy and compiled */
	Jsonb	   *policy;			/* a copy of the policy compiled */
	FilterScope scope;
	FilterPolicy *compiled;		/* NULL until one compiles */
} FilterCache;

Datum
pgmsg_filter_matches(PG_FUNCTION_ARGS)
{
	FilterCache *cache = fcinfo->flinfo->fn_extra;
	Jsonb	   *policy;
	Jsonb	   *attributes;
	Jsonb	   *body;
	text	   *scope_name;
	FilterScope scope;

	pgmsg_check_loaded();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("filter_policy must not be null")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("filter_policy_scope must not be null")));
	scope_name = PG_GETARG_TEXT_PP(3);
	if (!scope_lookup(VARDATA_ANY(scope_name), VARSIZE_ANY_EXHDR(scope_name), &scope))
		scope = filter_scope_from_name(text_to_cstring(scope_name));
	policy = PG_GETARG_JSONB_P(0);
	attributes = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	body = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FilterCache));
		cache->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
										   "pgmsg filter policy",
										   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	if (cache->compiled == NULL || cache->scope != scope ||
		VARSIZE(cache->policy) != VARSIZE(policy) ||
		memcmp(cache->policy, policy, VARSIZE(policy)) != 0)
	{
		FilterPolicy *compiled;

		cache->compiled = NULL;
		cache->policy = NULL;
		MemoryContextReset(cache->cxt);
		compiled = filter_compile(policy, scope, cache->cxt);
		cache->policy = MemoryContextAlloc(cache->cxt, VARSIZE(policy));
		memcpy(cache->policy, policy, VARSIZE(policy));
		cache->scope = scope;
		cache->compiled = compiled;
	}
	PG_RETURN_BOOL(filter_match(cache->compiled, attributes, body));
}
