#!/usr/bin/env bash
# Quickstart: `sudo scripts/demo.sh` installs missing packages, builds pgmsg
# and installs it into the system-wide PostgreSQL 15 (the demo server runs
# from there), starts (or reuses) a private cluster that preloads pgmsg, and
# walks through a transactional send / receive / delete in database
# pgmsg_demo.  It also creates, once, an empty database pgmsg_examples with
# the extension, where README.md's examples run as written, in order.
# The server keeps running afterwards; `scripts/demo.sh stop` stops it and
# `scripts/demo.sh status` tells whether it runs.
#
# The cluster lives in .demo/ in the checkout, or in /var/tmp/pgmsg-demo-<hash>
# when the postgres user cannot reach the checkout.  It listens on 127.0.0.1
# and a socket in that directory only, with trust authentication: a local
# demo, not a server to keep data in.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DB=pgmsg_demo
EXAMPLES_DB=pgmsg_examples
FIRST_PORT=54329

usage() {
    echo "usage: $0 [start|stop|status]" >&2
    exit 2
}

# Choose DEMO_DIR (data, socket, log).  A unix socket path must stay under
# 108 bytes, which rules out very deep checkouts too.
pick_demo_dir() {
    DEMO_DIR=$REPO_ROOT/.demo
    FALLBACK_REASON=
    if ! as_postgres test -x "$REPO_ROOT"; then
        FALLBACK_REASON="the postgres user cannot traverse to $REPO_ROOT"
    elif [ "${#DEMO_DIR}" -gt 80 ]; then
        FALLBACK_REASON="$DEMO_DIR is too long a path for a unix socket"
    fi
    if [ -n "$FALLBACK_REASON" ]; then
        DEMO_DIR=/var/tmp/pgmsg-demo-$(checkout_tag)
    fi
    PGDATA=$DEMO_DIR/data
    LOGFILE=$DEMO_DIR/server.log
}

demo_pg_ctl() {
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" "$@"
}

is_running() {
    [ -f "$PGDATA/PG_VERSION" ] && demo_pg_ctl status >/dev/null 2>&1
}

# The port of the running server: line 4 of postmaster.pid.
running_port() {
    sed -n 4p "$PGDATA/postmaster.pid"
}

# Something already accepting TCP connections on 127.0.0.1:$1?
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port=$FIRST_PORT
    while port_busy "$port" || [ -e "$DEMO_DIR/.s.PGSQL.$port" ]; do
        port=$((port + 1))
        [ "$port" -lt $((FIRST_PORT + 100)) ] || die "no free port in $FIRST_PORT..$port"
    done
    echo "$port"
}

# Create the cluster once, then (re)write the demo settings on every start so
# the socket directory and port follow the checkout and whatever is free.
start_server() {
    local port
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        say "creating cluster in $PGDATA"
        as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 \
            --locale=C.UTF-8 >"$DEMO_DIR/initdb.log" 2>&1 \
            || { cat "$DEMO_DIR/initdb.log"; die "initdb failed"; }
        chown postgres:postgres "$DEMO_DIR/initdb.log"
        echo "include = 'pgmsg_demo.conf'" >>"$PGDATA/postgresql.conf"
    fi
    port=$(free_port)
    cat >"$PGDATA/pgmsg_demo.conf" <<EOF
# Written by scripts/demo.sh on every start.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DEMO_DIR'
port = $port
shared_preload_libraries = 'pgmsg'
EOF
    chown postgres:postgres "$PGDATA/pgmsg_demo.conf"
    say "starting PostgreSQL $PG_MAJOR on 127.0.0.1:$port (log: $LOGFILE)"
    demo_pg_ctl -l "$LOGFILE" -w -t 60 start >/dev/null \
        || { tail -n 50 "$LOGFILE" >&2; die "the demo server did not start"; }
}

# psql as postgres against the demo server; notices (such as "already
# exists, skipping" on reruns) are left out.
psql_demo() {
    PGOPTIONS='-c client_min_messages=warning' \
        as_postgres psql -X -q -v ON_ERROR_STOP=1 -P pager=off \
        -h 127.0.0.1 -p "$DEMO_PORT" -U postgres "$@"
}

cmd_stop() {
    pick_demo_dir
    if is_running; then
        demo_pg_ctl -m fast -w stop >/dev/null
        say "demo server stopped ($PGDATA)"
    else
        say "demo server is not running ($PGDATA)"
    fi
}

cmd_status() {
    pick_demo_dir
    if is_running; then
        say "demo server running on 127.0.0.1:$(running_port) ($PGDATA)"
    else
        say "demo server is not running ($PGDATA)"
        exit 3
    fi
}

cmd_start() {
    local lib before after
    hold_install_lock
    ensure_packages
    lib=$("$PG_CONFIG" --pkglibdir)/pgmsg.so
    # Nothing to compare on the first run, before pgmsg was ever installed.
    before=
    [ -f "$lib" ] && before=$(cksum <"$lib")
    build_and_install "$REPO_ROOT"
    after=$(cksum <"$lib")

    pick_demo_dir
    if [ -n "$FALLBACK_REASON" ]; then
        say "note: $FALLBACK_REASON; the demo cluster lives in $DEMO_DIR instead of $REPO_ROOT/.demo"
    fi
    install -d -o postgres -g postgres -m 755 "$DEMO_DIR"
    chown postgres:postgres "$DEMO_DIR"

    if is_running; then
        if [ "$before" != "$after" ]; then
            # The postmaster holds the preloaded library it started with.
            say "pgmsg.so changed: restarting the demo server"
            demo_pg_ctl -m fast -w -t 60 -l "$LOGFILE" restart >/dev/null
        else
            say "reusing the demo server already running in $PGDATA"
        fi
    else
        start_server
    fi
    DEMO_PORT=$(running_port)

    if [ -z "$(psql_demo -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
        psql_demo -d postgres -c "CREATE DATABASE $DB"
    fi

    say "running the demo in database $DB"
    echo
    # -e echoes each statement as sent; \echo lines narrate.
    psql_demo -d "$DB" -e <<'SQL' || die "the demo failed; server log: $LOGFILE"
\echo '-- pgmsg lives in its own schema; the library is preloaded by postgresql.conf.'
CREATE EXTENSION IF NOT EXISTS pgmsg;
\echo
\echo '-- A queue, and an ordinary business table.'
SELECT pgmsg.create_queue('orders')
 WHERE NOT EXISTS (SELECT FROM pgmsg.queues WHERE name = 'orders');
CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text);
\echo
\echo '-- Start from a clean slate: no orders, no messages.'
TRUNCATE orders RESTART IDENTITY;
SELECT pgmsg.purge_queue('orders') AS purged;
\echo
\echo '-- The order and its message commit together ...'
BEGIN;
INSERT INTO orders (item) VALUES ('coffee beans') RETURNING id AS order_id \gset
\echo '   (order' :order_id 'inserted)'
SELECT pgmsg.send('orders', jsonb_build_object('order_id', :order_id)) AS message_id;
COMMIT;
\echo
\echo '-- ... or roll back together: no order row, no message.'
BEGIN;
INSERT INTO orders (item) VALUES ('teapot') RETURNING id AS order_id \gset
\echo '   (order' :order_id 'inserted)'
SELECT pgmsg.send('orders', jsonb_build_object('order_id', :order_id)) AS message_id;
ROLLBACK;
\echo
\echo '-- One order exists ...'
SELECT * FROM orders;
\echo
\echo '-- ... and one message: receive it, then delete it by its receipt.'
WITH received AS (
    SELECT message_id, receipt, body FROM pgmsg.receive('orders', 10)
)
SELECT message_id, receipt, body, pgmsg.delete('orders', receipt) AS deleted
  FROM received;
\echo
\echo '-- The queue is empty again; its counters show the traffic.'
\x on
SELECT * FROM pgmsg.queues;
SQL
    echo

    # README.md's examples create their own queues and tables, some with the
    # names the demo uses: they get a database of their own, made once and
    # then left to the user.
    if [ -z "$(psql_demo -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$EXAMPLES_DB'")" ]; then
        psql_demo -d postgres -c "CREATE DATABASE $EXAMPLES_DB"
        psql_demo -d "$EXAMPLES_DB" -c "CREATE EXTENSION pgmsg"
        say "created database $EXAMPLES_DB, empty but for the extension: README.md's examples run there as written, in order"
    else
        say "database $EXAMPLES_DB already exists and is left as it is"
    fi
    echo
    say "the demo server keeps running on 127.0.0.1:$DEMO_PORT (data: $PGDATA;"
    echo "    trust authentication from this machine: a local demo only)"
    echo "    the demo:      psql -h 127.0.0.1 -p $DEMO_PORT -U postgres $DB"
    echo "    the examples:  psql -h 127.0.0.1 -p $DEMO_PORT -U postgres $EXAMPLES_DB"
    echo "    stop:          $0 stop"
}

case ${1:-start} in
    start)  require_root "$@"; cmd_start ;;
    stop)   require_root "$@"; cmd_stop ;;
    status) require_root "$@"; cmd_status ;;
    *)      usage ;;
esac
