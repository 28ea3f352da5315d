/*-------------------------------------------------------------------------
 *
 * roles.h
 *		Roles named by pgmsg's tables: DROP ROLE, REASSIGN OWNED and
 *		DROP OWNED (roles.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGMSG_ROLES_H
#define PGMSG_ROLES_H

#include "pgmsg.h"

extern void pgmsg_roles_init(void);

#endif							/* PGMSG_ROLES_H */
