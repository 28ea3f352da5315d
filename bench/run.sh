#!/usr/bin/env bash
# The benchmark: `bench/run.sh` (full) or `bench/run.sh --quick`, as root.
# Starts a throwaway PostgreSQL 15 cluster with pgmsg preloaded, runs every
# scenario for pgmsg and for raw PostgreSQL doing the same work by hand, and
# writes bench/results/results.md.  Figures are medians of several pgbench
# runs (one in quick mode); ratios compare pgmsg with the raw baseline
# measured in the same run.  Nothing here asserts anything: it reports.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1
if [ "$QUICK" = 1 ]; then RUNS=1; SECS=5; BIG=200000; else RUNS=3; SECS=15; BIG=1000000; fi

require_root
ensure_packages
# the latency client uses Node.js and the npm package pg
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get -qq -y install nodejs npm </dev/null >/dev/null
fi
build_and_install "$REPO_ROOT"

WORK=$(mktemp -d /var/tmp/pgmsg-bench.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
PORT=55439
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
PGDATA=$WORK/data
trap 'as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pgmsg'
max_connections = 50
EOF

# Shared memory per 100,000 leases, from the server's own sizing.
shm() { as_postgres "$PGBIN/postgres" -D "$PGDATA" -C shared_memory_size -c pgmsg.max_leases="$1"; }
SHM_100K=$(shm 100000)
SHM_1100K=$(shm 1100000)

as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w start >/dev/null
PSQL=(as_postgres "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d postgres)
psql_c() { "${PSQL[@]}" -c "$1"; }
psql_c "CREATE EXTENSION pgmsg"

PAYLOAD='{"order_id": 12345, "item": "widget", "qty": 3}'
SCRIPTS=$WORK/scripts
mkdir -p "$SCRIPTS"

# pgbench TPS, the median of RUNS runs: tps <clients> <script> [extra args]
tps() {
    local clients=$1 script=$2 out vals=()
    shift 2
    for _ in $(seq "$RUNS"); do
        out=$(as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared \
            -T "$SECS" -c "$clients" -j "$(( clients < 2 ? clients : 2 ))" \
            -f "$script" "$@" postgres 2>&1) || { echo "$out" >&2; exit 1; }
        vals+=("$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')")
    done
    printf '%s\n' "${vals[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a * b}'; }

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 |"); echo "  $1: pgmsg $2, raw $3, ratio $4 (target $5)"; }

# The raw baseline: tables of the same shape and indexes as a queue's.
psql_c "
CREATE SCHEMA bench;
CREATE TABLE bench.ins (msg_id bigint GENERATED ALWAYS AS IDENTITY, visible_at timestamptz NOT NULL,
    sent_at timestamptz NOT NULL, receive_count int NOT NULL DEFAULT 0, first_received_at timestamptz,
    body jsonb NOT NULL, attributes jsonb, source_queue text, group_id text) WITH (fillfactor = 90);
CREATE INDEX ON bench.ins (visible_at, msg_id);
CREATE TABLE bench.del (LIKE bench.ins INCLUDING ALL);
ALTER TABLE bench.del ADD PRIMARY KEY (msg_id);
CREATE SEQUENCE bench.del_seq;
SELECT pgmsg.create_queue('bsend');
SELECT pgmsg.create_queue('bloop', visibility_timeout => '1 hour');
"

echo "== send, one message per transaction"
echo "SELECT pgmsg.send('bsend', '$PAYLOAD');" >"$SCRIPTS/send.sql"
echo "INSERT INTO bench.ins (visible_at, sent_at, body) VALUES (now(), now(), '$PAYLOAD');" >"$SCRIPTS/insert.sql"
for c in 1 8 32; do
    raw=$(tps "$c" "$SCRIPTS/insert.sql"); msg=$(tps "$c" "$SCRIPTS/send.sql")
    row "send, $c clients (tps)" "$msg" "$raw" "$(ratio "$msg" "$raw")" "≥ 0.90"
done

echo "== send in batches"
for b in 100 1000; do
    echo "SELECT count(*) FROM pgmsg.send_batch('bsend', array_fill('$PAYLOAD'::jsonb, ARRAY[$b]));" >"$SCRIPTS/sendb.sql"
    echo "INSERT INTO bench.ins (visible_at, sent_at, body) SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $b);" >"$SCRIPTS/insertb.sql"
    raw=$(tps 1 "$SCRIPTS/insertb.sql"); msg=$(tps 1 "$SCRIPTS/sendb.sql")
    row "send_batch of $b, 1 client (messages/s)" "$(mul "$msg" "$b")" "$(mul "$raw" "$b")" "$(ratio "$msg" "$raw")" "-"
done

echo "== the consumer loop: receive(1), then delete, vs DELETE by id"
psql_c "INSERT INTO bench.del (visible_at, sent_at, body) SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, 600000);"
for i in $(seq 60); do psql_c "SELECT count(*) FROM pgmsg.send_batch('bloop', array_fill('$PAYLOAD'::jsonb, ARRAY[10000]));" >/dev/null; done
psql_c "VACUUM ANALYZE"
cat >"$SCRIPTS/loop.sql" <<'EOF'
SELECT receipt FROM pgmsg.receive('bloop', 1) \gset
SELECT pgmsg.delete('bloop', :receipt);
EOF
echo "DELETE FROM bench.del WHERE msg_id = (SELECT nextval('bench.del_seq'));" >"$SCRIPTS/delete.sql"
for c in 1 8; do
    raw=$(tps "$c" "$SCRIPTS/delete.sql"); msg=$(tps "$c" "$SCRIPTS/loop.sql")
    row "receive + delete loop, $c clients (messages/s)" "$msg" "$raw" "$(ratio "$msg" "$raw")" "≥ 0.90"
done
cat >"$SCRIPTS/loopb.sql" <<'EOF'
SELECT pgmsg.delete('bloop', array_agg(receipt)) FROM pgmsg.receive('bloop', 100);
EOF
echo "DELETE FROM bench.del WHERE msg_id BETWEEN (SELECT nextval('bench.del_seq')) AND (SELECT currval('bench.del_seq') + 99); SELECT setval('bench.del_seq', currval('bench.del_seq') + 99);" >"$SCRIPTS/deleteb.sql"
raw=$(tps 1 "$SCRIPTS/deleteb.sql"); msg=$(tps 1 "$SCRIPTS/loopb.sql")
row "receive(100) + delete(100), 1 client (messages/s)" "$(mul "$msg" 100)" "$(mul "$raw" 100)" "$(ratio "$msg" "$raw")" "-"

echo "== backlog: $BIG pending with 50,000 deleted at the head, vs 1,000 pending"
psql_c "SELECT pgmsg.create_queue('bbig', visibility_timeout => '1 hour'); SELECT pgmsg.create_queue('bsmall', visibility_timeout => '1 hour');
        ALTER TABLE pgmsg.q_bbig SET (autovacuum_enabled = off);"
for i in $(seq $(( (BIG + 50000) / 10000 ))); do psql_c "SELECT count(*) FROM pgmsg.send_batch('bbig', array_fill('$PAYLOAD'::jsonb, ARRAY[10000]));" >/dev/null; done
psql_c "SELECT count(*) FROM pgmsg.send_batch('bsmall', array_fill('$PAYLOAD'::jsonb, ARRAY[1000]));" >/dev/null
for i in $(seq 50); do psql_c "SELECT pgmsg.delete('bbig', array_agg(receipt)) FROM pgmsg.receive('bbig', 1000);" >/dev/null; done
# Each transaction of the script receives and deletes one message and sends
# one, so the queue keeps its size for the whole run.
for q in bbig bsmall; do
    cat >"$SCRIPTS/$q.sql" <<EOF
SELECT pgmsg.delete('$q', receipt) FROM pgmsg.receive('$q', 1);
SELECT pgmsg.send('$q', '$PAYLOAD');
EOF
done
small=$(tps 1 "$SCRIPTS/bsmall.sql"); big=$(tps 1 "$SCRIPTS/bbig.sql")
row "receive on $BIG pending + 50k dead at head vs 1,000 pending (slowdown)" "$(ratio "$small" "$big")×" "1.00×" "$(ratio "$small" "$big")" "≤ 1.5"

echo "== FIFO: receive + delete with 8 consumers over 100 groups, vs a standard queue"
psql_c "SELECT pgmsg.create_queue('bfifo', fifo => true, visibility_timeout => '1 hour');
        SELECT pgmsg.create_queue('bstd', visibility_timeout => '1 hour');"
for i in $(seq $(( BIG / 20000 + 10 ))); do
    psql_c "SELECT count(*) FROM pgmsg.send_batch('bfifo', array_fill('$PAYLOAD'::jsonb, ARRAY[10000]),
             group_ids => (SELECT array_agg('g' || (g % 100)) FROM generate_series(1, 10000) g));
            SELECT count(*) FROM pgmsg.send_batch('bstd', array_fill('$PAYLOAD'::jsonb, ARRAY[10000]));" >/dev/null
done
for q in bfifo bstd; do
    echo "SELECT pgmsg.delete('$q', receipt) FROM pgmsg.receive('$q', 1);" >"$SCRIPTS/c_$q.sql"
done
std=$(tps 8 "$SCRIPTS/c_bstd.sql"); fifo=$(tps 8 "$SCRIPTS/c_bfifo.sql")
row "FIFO receive(1) + delete, 8 clients, 100 groups (messages/s)" "$fifo" "$std (standard queue)" "$(ratio "$fifo" "$std")" "≥ 0.5"

echo "== WAL written by receiving 1,000 fresh messages"
psql_c "SELECT pgmsg.create_queue('bwal', visibility_timeout => '1 hour');
        SELECT count(*) FROM pgmsg.send_batch('bwal', array_fill('$PAYLOAD'::jsonb, ARRAY[1000]));
        SELECT count(*) FROM pgmsg.q_bwal; CHECKPOINT;" >/dev/null
WAL=$(psql_c "SELECT pg_current_wal_insert_lsn()")
psql_c "SELECT count(*) FROM pgmsg.receive('bwal', 1000)" >/dev/null
WAL=$(psql_c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$WAL')")
row "WAL for receiving 1,000 fresh messages (bytes)" "$WAL" "-" "-" "< 16384"

echo "== start_redrive of 100,000 while producers run"
psql_c "SELECT pgmsg.create_queue('bdlq'); SELECT pgmsg.create_queue('bsrc', visibility_timeout => '0', dead_letter_queue => 'bdlq', max_receive_count => 1);"
for i in $(seq 10); do psql_c "SELECT count(*) FROM pgmsg.send_batch('bsrc', array_fill('$PAYLOAD'::jsonb, ARRAY[10000]));" >/dev/null; done
while [ "$(psql_c "SELECT count(*) FROM pgmsg.q_bsrc")" != 0 ]; do
    psql_c "SELECT count(*) FROM pgmsg.receive('bsrc', 1000)" >/dev/null
done
echo "SELECT pgmsg.send('bsend', '$PAYLOAD');" >"$SCRIPTS/producer.sql"
as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared -T 600 -c 2 -j 1 -f "$SCRIPTS/producer.sql" postgres >/dev/null 2>&1 &
PRODUCERS=$!
TASK=$(psql_c "SELECT pgmsg.start_redrive('bdlq')")
LONGEST=0
while [ "$(psql_c "SELECT state FROM pgmsg.redrive_tasks WHERE task_id = $TASK")" = running ]; do
    x=$(psql_c "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start) * 1000), 0)::int
                  FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'")
    [ "$x" -gt "$LONGEST" ] && LONGEST=$x
    sleep 0.05
done
kill "$PRODUCERS" 2>/dev/null || true
wait "$PRODUCERS" 2>/dev/null || true
RATE=$(psql_c "SELECT round(moved / extract(epoch FROM finished_at - started_at)) FROM pgmsg.redrive_tasks WHERE task_id = $TASK")
row "start_redrive of 100,000 with producers running (messages/s)" "$RATE" "-" "-" "-"
row "longest transaction the redrive held (ms, sampled)" "$LONGEST" "-" "-" "-"

echo "== wakeup latency, COMMIT to a waiting receive returning"
NODE_DIR=$WORK/node
mkdir -p "$NODE_DIR"
cp "$REPO_ROOT/bench/latency.js" "$NODE_DIR/"
(cd "$NODE_DIR" && npm install --silent --no-audit --no-fund pg@8 >/dev/null 2>&1)
chown -R postgres:postgres "$NODE_DIR"
for c in 1 8; do
    out=$(cd "$NODE_DIR" && as_postgres node "$NODE_DIR/latency.js" "postgresql:///postgres?host=$WORK&port=$PORT" "$c" 500)
    p50=$(printf '%s' "$out" | sed 's/.*"p50_ms":\([0-9.]*\).*/\1/')
    p99=$(printf '%s' "$out" | sed 's/.*"p99_ms":\([0-9.]*\).*/\1/')
    row "wakeup latency p50 / p99, $c waiting consumers (ms)" "$p50 / $p99" "-" "-" "≤ 1 / ≤ 5"
done

echo "== idle cost: 8 receives waiting, a worker with 100 idle queues"
psql_c "SELECT count(pgmsg.create_queue('idle' || i)) FROM generate_series(1, 100) i" >/dev/null
for _ in $(seq 8); do "${PSQL[@]}" -c "SELECT count(*) FROM pgmsg.receive('idle1', 1, wait => '20 seconds')" >/dev/null & done
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
WAITERS=$(psql_c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE wait_event_type = 'Extension' AND backend_type = 'client backend'")
WORKER=$(psql_c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'")
w0=0; for p in $WAITERS; do w0=$((w0 + $(ticks "$p"))); done
k0=$(ticks "$WORKER")
sleep 15
w1=0; for p in $WAITERS; do w1=$((w1 + $(ticks "$p"))); done
k1=$(ticks "$WORKER")
HZ=$(getconf CLK_TCK)
row "CPU of 8 waiting receives together (% of a core)" "$(ratio "$(( (w1 - w0) * 100 ))" "$(( HZ * 15 ))")" "-" "-" "< 2"
row "CPU of an idle worker with 100 idle queues (% of a core)" "$(ratio "$(( (k1 - k0) * 100 ))" "$(( HZ * 15 ))")" "-" "-" "< 1"
wait

OUT=$REPO_ROOT/bench/results
mkdir -p "$OUT"
{
    echo "# pgmsg benchmark"
    echo
    echo "- mode: $([ "$QUICK" = 1 ] && echo quick || echo full), median of $RUNS run(s) of $SECS s each"
    echo "- machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $("$PGBIN/postgres" --version)"
    echo "- synchronous_commit = $(psql_c 'SHOW synchronous_commit'), fsync = $(psql_c 'SHOW fsync'), shared_buffers = $(psql_c 'SHOW shared_buffers')"
    echo "- shared memory: $SHM_100K MB with pgmsg.max_leases = 100000, $SHM_1100K MB with 1100000: $(ratio "$(( SHM_1100K - SHM_100K ))" 10) MB per 100,000 leases"
    echo
    echo "| scenario | pgmsg | raw PostgreSQL | ratio | target |"
    echo "| --- | --- | --- | --- | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Raw baselines: INSERT into a table of the same shape and indexes as a queue table;"
    echo "DELETE by primary key of the next live row (a table of the same shape plus a primary key);"
    echo "the backlog row compares pgmsg with itself on a small queue."
} >"$OUT/results.md"
echo
cat "$OUT/results.md"
