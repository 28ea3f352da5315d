# pgmsg: SQS and SNS semantics inside PostgreSQL.

MODULE_big = pgmsg
OBJS = \
	src/pgmsg.o \
	src/shmem.o \
	src/cursor.o \
	src/lease.o \
	src/inflight.o \
	src/receipt.o \
	src/xact.o \
	src/catalog.o \
	src/qtable.o \
	src/acl.o \
	src/roles.o \
	src/queue.o \
	src/topic.o \
	src/trigger.o \
	src/send.o \
	src/receive.o \
	src/waiters.o \
	src/ack.o \
	src/redrive.o \
	src/launcher.o \
	src/worker.o \
	src/stats.o \
	src/metrics.o \
	src/filter.o \
	src/push_subscribe.o \
	src/push_worker.o \
	src/push_sns.o \
	src/push_webhook.o

EXTENSION = pgmsg
DATA = pgmsg--1.0.sql pgmsg--1.1.sql pgmsg--1.0--1.1.sql
PGFILEDESC = "pgmsg - message queues with SQS and SNS semantics"

PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK += -lcurl
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
# Warnings are errors for developers and CI (scripts/test.sh sets WERROR=1),
# not for packagers building with another compiler.
ifdef WERROR
PG_CFLAGS += -Werror
endif
# pgmsg's own invariant checks (PGMSG_CHECK in pgmsg.h), for the test suite.
ifdef PGMSG_CHECKS
PG_CPPFLAGS += -DPGMSG_CHECKS
endif

# Tests run against a throwaway instance that preloads pgmsg.
REGRESS = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-config=$(srcdir)/test/pgmsg.conf --temp-instance=$(CURDIR)/tmp_check_regress --load-extension=pgmsg --encoding=UTF8
ISOLATION = $(sort $(patsubst specs/%.spec,%,$(wildcard specs/*.spec)))
ISOLATION_OPTS = --temp-config=$(srcdir)/test/pgmsg.conf --temp-instance=$(CURDIR)/tmp_check_iso --load-extension=pgmsg
TAP_TESTS = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard $(srcdir)/src/*.h)
