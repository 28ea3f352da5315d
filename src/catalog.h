/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		The queue catalog cache, argument checks shared by the SQL
 *		functions, and running as pgmsg's owner (catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_CATALOG_H
#define PGMSG_CATALOG_H

#include "shmem.h"
#include "fmgr.h"
#include "utils/hsearch.h"

typedef struct QueueInfo
{
	char		name[PGMSG_NAME_MAXLEN + 1];	/* hash key: must be first */
	int32		queue_id;
	Oid			relid;
	Oid			indexid;
	Oid			owner;
	int64		visibility_timeout; /* microseconds */
	int64		delay;			/* microseconds */
	int64		retention;		/* microseconds */
	int32		max_message_size;
	bool		notify;			/* NOTIFY pgmsg_<name> on commit */
	int32		max_receive_count;	/* 0: no dead-letter queue */
	bool		dead_letter_ok; /* the owner may still send to it (acl.c) */
	bool		fifo;
	bool		content_based_dedup;
	int32		max_in_flight;	/* leases the queue may hold at once */
	char		dead_letter_queue[PGMSG_NAME_MAXLEN + 1];

	/* privileges of privs_role, computed on demand (acl.c) */
	Oid			privs_role;
	uint32		privs;

	QueueShared *shared;		/* cached slot, rechecked on use */

	/* cached for this queue's table (send.c, receive.c) */
	Oid			sequenceid;		/* of msg_id */
	struct IndexInfo *index_info;
	void	   *update_plan;
} QueueInfo;

extern void pgmsg_validate_name(bool topic, const char *name);
extern void pgmsg_refuse_in_recovery(const char *message, const char *name);
extern char *pgmsg_text_arg(FunctionCallInfo fcinfo, int argno, const char *what);
extern int64 pgmsg_interval_arg(FunctionCallInfo fcinfo, int argno,
								const char *what, int64 min, int64 max,
								int64 dflt);
extern QueueInfo *pgmsg_queue_lookup(const char *name, bool missing_ok);
extern QueueShared *pgmsg_queue_slot(QueueInfo *qi);
extern QueueShared *pgmsg_queue_slot_opened(QueueInfo *qi);
extern bool pgmsg_queue_id_exists(int32 queue_id);
extern void pgmsg_catalog_init(void);
extern void pgmsg_catalog_invalidate(void);
extern void pgmsg_cache_retire(HTAB *cache, void (*destroy) (HTAB *cache));
extern void pgmsg_cache_release_retired(void);
extern uint64 pgmsg_catalog_generation(void);
extern bool pgmsg_catalog_has_in_flight(void);
extern void pgmsg_become_owner(Oid *save_userid, int *save_sec);
extern void pgmsg_restore_user(Oid save_userid, int save_sec);
extern char *pgmsg_table_name(const char *queue);
extern void pgmsg_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *args,
						   int expected);

#endif							/* PGMSG_CATALOG_H */
