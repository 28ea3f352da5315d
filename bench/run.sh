#!/usr/bin/env bash
# The benchmark: `bench/run.sh` (full) or `bench/run.sh --quick`, as root.
#
# Installs what it needs from Debian, builds and installs pgmsg, starts a
# throwaway PostgreSQL 15 cluster with pgmsg preloaded, and measures pgmsg
# against raw PostgreSQL doing the same work in the same run.  Each figure is
# the median of several pgbench runs (one in quick mode), pgmsg and raw runs
# interleaved so that a noisy machine disturbs both alike.  It writes a
# markdown table to stdout and to bench/results/results.md.
#
# Nothing here asserts anything: it reports, and says whether each target
# was met.  A scenario that fails shows the error and is reported as such;
# the others still run.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

QUICK=0
case "${1:-}" in
    --quick) QUICK=1 ;;
    "") ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
if [ "$QUICK" = 1 ]; then
    RUNS=1; SECS=5; IDLE_SECS=5; FIFO_SIZE=100000
else
    RUNS=3; SECS=15; IDLE_SECS=15; FIFO_SIZE=400000
fi
BIG=1000000        # pending messages of the backlog queue
DEAD=50000         # deleted, unvacuumed messages at its head
SMALL=1000         # pending messages of the small queue it is compared with
LOOP_ROWS=200000   # rows of the consumer-loop queue and table, before each run
LEASES_LO=100000   # the two pgmsg.max_leases settings for the shared memory figure
LEASES_HI=1100000
PAYLOAD='{"order_id": 12345, "item": "widget", "qty": 3}'

require_root "$@"
hold_install_lock
ensure_packages
[ -x "$PGBIN/pgbench" ] || {
    # Debian 12 ships pgbench in postgresql-15; postgresql-contrib depends on it
    apt-get -qq -y install postgresql-contrib </dev/null >/dev/null
}
[ -x "$PGBIN/pgbench" ] || die "$PGBIN/pgbench is missing"
build_and_install "$REPO_ROOT"

# ---------------------------------------------------------------------------
# The cluster: a temp dir owned by postgres, a unix socket in it, no TCP.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgmsg-bench.XXXXXX")
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
if ! as_postgres test -w "$WORK"; then
    rm -rf "$WORK"
    WORK=$(mktemp -d /tmp/pgmsg-bench.XXXXXX)
    chmod 755 "$WORK"
    chown postgres:postgres "$WORK"
fi
PGDATA=$WORK/data
SCRIPTS=$WORK/scripts
LOGFILE=$WORK/server.log
mkdir -p "$SCRIPTS"
PORT=55439
while [ -e "$WORK/.s.PGSQL.$PORT" ] || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    PORT=$((PORT + 1))
done

BGPIDS=()
cleanup() {
    local pid
    for pid in "${BGPIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -f "$PGDATA/postmaster.pid" ]; then
        as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -t 30 -w stop >/dev/null 2>&1 ||
            as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pgmsg'
max_connections = 50
EOF

# pg_start [postgres options]: fails, showing the server log, if it does not start
pg_start() {
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t 60 ${1:+-o "$1"} start >/dev/null ||
        { tail -n 20 "$LOGFILE" >&2; return 1; }
}
pg_stop() { as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; }

PSQL=(as_postgres "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d postgres)
psql_c() { "${PSQL[@]}" -c "$1"; }
psql_f() { "${PSQL[@]}" -f "$1"; }

# ---------------------------------------------------------------------------
# Reporting.

ROWS=()
NOTES=()
fmt() { awk -v a="$1" -v d="$2" 'BEGIN {printf "%.*f", d, a}'; }
ratio() {
    case "$1$2" in *[!0-9.]*|"") echo "-"; return ;; esac
    awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "-"; else printf "%.2f", a / b}'
}
# met <value> <op> <bound>: "met", "not met" or nothing when there is no value
met() {
    case "$1" in ""|-|*[!0-9.]*) return ;; esac
    if awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {exit !((op == ">=" && a >= b) || (op == "<=" && a <= b) || (op == "<" && a < b))}'; then
        echo " (met)"
    else
        echo " (not met)"
    fi
}
# row <scenario> <pgmsg> <raw> <ratio> <target>
row() {
    ROWS+=("| $1 | $2 | $3 | $4 | $5 |")
    printf '  -> %s: pgmsg %s | raw %s | ratio %s | target %s\n' "$1" "$2" "$3" "$4" "$5"
}
note() { NOTES+=("$1"); }
section() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }

# ---------------------------------------------------------------------------
# pgbench.  Every run: -M prepared (both sides alike), -n, -T SECS, -c clients,
# -j min(clients, 2), a CHECKPOINT first so that no run inherits another's
# checkpoint.  A failed run prints pgbench's own output and yields "error".

PGB_OUT=$WORK/pgbench.out
PGB_LIMIT=()   # -t N instead of -T SECS, for scripts that would drain their table
# pgb <clients> <script> [more pgbench options]: full output in $PGB_OUT
pgb() {
    local clients=$1 script=$2 rc=0 limit=(-T "$SECS")
    shift 2
    [ "${#PGB_LIMIT[@]}" -gt 0 ] && limit=("${PGB_LIMIT[@]}")
    psql_c "CHECKPOINT" >/dev/null 2>&1 || true
    as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared "${limit[@]}" \
        -c "$clients" -j "$(( clients < 2 ? clients : 2 ))" -f "$script" "$@" postgres \
        >"$PGB_OUT" 2>&1 || rc=$?
    if [ "$rc" != 0 ] || grep -q 'aborted' "$PGB_OUT"; then
        {
            echo "pgbench failed (exit $rc) on $(basename "$script"), $clients client(s):"
            sed 's/^/    /' "$script"
            grep -v '^\(progress\|transaction type\|scaling\|query mode\|number of\|maximum\|duration\|latency\|initial\|tps\)' "$PGB_OUT" | head -n 20 | sed 's/^/  | /'
        } >&2
        return 1
    fi
}
tps_of() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$PGB_OUT"; }
# average latency (ms) of statement number $1 (from 1) of the script, from -r
stmt_latency_of() {
    awk -v n="$1" '/^statement latencies/ {f = 1; next}
                   f && $1 ~ /^[0-9.]+$/ {if (++i == n) {print $1; exit}}' "$PGB_OUT"
}
median() {
    printf '%s\n' "$@" | awk '/^[0-9.]+$/' | sort -g |
        awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}

# pair <clients> <pgmsg script> <raw script> [per_run_hook]: interleaved runs,
# sets P and R to the median TPS of each side ("error" if a run failed).
# With PAIR_R=1 the runs use pgbench -r, and P1, P2 and R1 are set to the
# median latencies (ms) of the first two statements of the pgmsg script and
# the first of the raw one.
PAIR_R=0
pair() {
    local clients=$1 ps=$2 rs=$3 hook=${4:-} i p r pv=() rv=() perr=0 rerr=0 opt=() p1=() p2=() r1=()
    [ "$PAIR_R" = 1 ] && opt=(-r)
    for i in $(seq "$RUNS"); do
        if [ -n "$hook" ]; then $hook || { perr=1; rerr=1; break; }; fi
        r=error; p=error
        if pgb "$clients" "$rs" "${opt[@]}"; then r=$(tps_of); r1+=("$(stmt_latency_of 1)"); fi
        if pgb "$clients" "$ps" "${opt[@]}"; then
            p=$(tps_of); p1+=("$(stmt_latency_of 1)"); p2+=("$(stmt_latency_of 2)")
        fi
        if [ -n "$r" ] && [ "$r" != error ]; then rv+=("$r"); else rerr=1; fi
        if [ -n "$p" ] && [ "$p" != error ]; then pv+=("$p"); else perr=1; fi
        echo "    run $i, $clients client(s): pgmsg ${p:-?} tps, raw ${r:-?} tps"
    done
    P=error; R=error
    [ "$perr" = 0 ] && P=$(fmt "$(median "${pv[@]}")" 0)
    [ "$rerr" = 0 ] && R=$(fmt "$(median "${rv[@]}")" 0)
    P1=$(median "${p1[@]}"); P2=$(median "${p2[@]}"); R1=$(median "${r1[@]}")
    return 0
}
# ratio_row <scenario> <op: >= <= <> <bound>: a row from P and R
ratio_row() {
    local r sym
    r=$(ratio "$P" "$R")
    case "$2" in ">=") sym="≥" ;; "<=") sym="≤" ;; *) sym=$2 ;; esac
    row "$1" "$P" "$R" "$r" "$sym $3$(met "$r" "$2" "$3")"
}

# send_batch in chunks of 10,000, as a psql script of one statement per chunk
load_queue() {
    local q=$1 n=$2 extra=${3:-} f=$SCRIPTS/load_$1.sql chunk
    : >"$f"
    while [ "$n" -gt 0 ]; do
        chunk=$(( n < 10000 ? n : 10000 ))
        echo "SELECT count(*) FROM pgmsg.send_batch('$q', array_fill('$PAYLOAD'::jsonb, ARRAY[$chunk])$extra);" >>"$f"
        n=$((n - chunk))
    done
    psql_f "$f" >/dev/null
}

# ---------------------------------------------------------------------------
section "shared memory of the lease map, pgmsg.max_leases = $LEASES_HI then $LEASES_LO"
# Named pgmsg allocations, and all named-pgmsg plus anonymous ones: a shared
# hash table's entries are allocated anonymously, so only the second sum
# holds the whole lease map.
SHM_Q="SELECT coalesce(sum(allocated_size) FILTER (WHERE name LIKE 'pgmsg%'), 0) || ' ' ||
              coalesce(sum(allocated_size) FILTER (WHERE name LIKE 'pgmsg%' OR name = '<anonymous>'), 0) || ' ' ||
              current_setting('shared_memory_size')
         FROM pg_shmem_allocations"
SHM_HI=; SHM_LO=
if pg_start "-c pgmsg.max_leases=$LEASES_HI"; then
    SHM_HI=$(psql_c "$SHM_Q") || true
    pg_stop
fi
pg_start || die "the server did not start"
LEASES_NOW=$(psql_c "SHOW pgmsg.max_leases") || LEASES_NOW="?"
SHM_LO=$(psql_c "$SHM_Q") || true
if [ -n "$SHM_HI" ] && [ -n "$SHM_LO" ]; then
    read -r NAMED_HI ALL_HI SIZE_HI <<<"$SHM_HI"
    read -r NAMED_LO ALL_LO SIZE_LO <<<"$SHM_LO"
    STEPS=$(( (LEASES_HI - LEASES_LO) / 100000 ))
    PER_ALL=$(( (ALL_HI - ALL_LO) / STEPS ))
    PER_NAMED=$(( (NAMED_HI - NAMED_LO) / STEPS ))
    row "shared memory per 100,000 leases (bytes)" "$PER_ALL" "-" "-" "-"
    note "Shared memory: pg_shmem_allocations after a restart at each pgmsg.max_leases setting.
  Allocations named pgmsg%: $NAMED_LO bytes at $LEASES_LO leases, $NAMED_HI at $LEASES_HI ($PER_NAMED bytes per 100,000 leases).
  Named pgmsg% plus <anonymous> (where a shared hash table's entries go): $ALL_LO and $ALL_HI bytes ($PER_ALL per 100,000: the figure in the table).
  shared_memory_size: $SIZE_LO at $LEASES_LO, $SIZE_HI at $LEASES_HI."
else
    row "shared memory per 100,000 leases (bytes)" "error" "-" "-" "-"
fi

psql_c "CREATE EXTENSION pgmsg" || { tail -n 20 "$LOGFILE" >&2; die "CREATE EXTENSION pgmsg failed"; }

# ---------------------------------------------------------------------------
section "WAL written by receiving 1,000 fresh messages"
# Measured first, on a quiet cluster, in one session: the LSN before and after.
# A CHECKPOINT comes between sending and receiving, so that a page the receive
# would write costs a full-page image.  The median of RUNS tries, each on a
# fresh queue with autovacuum off.
wal_try() {
    local q=$1 how=$2 out
    psql_c "SELECT pgmsg.create_queue('$q', visibility_timeout => '1 hour');
            ALTER TABLE pgmsg.q_$q SET (autovacuum_enabled = off);" >/dev/null || return 1
    load_queue "$q" 1000 || return 1
    psql_c "CHECKPOINT" >/dev/null || return 1
    if [ "$how" = one ]; then
        how="SELECT count(*) FROM pgmsg.receive('$q', 1000);"
    else
        how="DO \$\$ BEGIN FOR i IN 1..1000 LOOP PERFORM * FROM pgmsg.receive('$q', 1); END LOOP; END \$\$;"
    fi
    out=$("${PSQL[@]}" <<EOF
SELECT pg_current_wal_insert_lsn() AS before \gset
$how
SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'before')::bigint
       || ' ' || (SELECT messages_in_flight FROM pgmsg.queues WHERE name = '$q');
EOF
) || return 1
    out=$(printf '%s\n' "$out" | tail -n 1)
    [ "${out#* }" = 1000 ] || echo "    note: ${out#* } messages in flight after the receives, not 1000" >&2
    echo "${out% *}"
}
for how in one many; do
    vals=(); err=0
    for i in $(seq "$RUNS"); do
        if v=$(wal_try "bwal_${how}_$i" "$how"); then vals+=("$v"); else err=1; fi
    done
    [ "$how" = one ] && label="one receive(1000)" || label="1,000 receive(1) in one transaction"
    if [ "$err" = 0 ]; then
        v=$(median "${vals[@]}")
        echo "    tries: ${vals[*]} bytes"
        row "WAL for receiving 1,000 fresh messages, $label (bytes)" "$v" "-" "-" "< 16384$(met "$v" "<" 16384)"
    else
        row "WAL for receiving 1,000 fresh messages, $label (bytes)" "error" "-" "-" "< 16384"
    fi
done

# ---------------------------------------------------------------------------
# The raw baseline tables: the same columns, defaults (msg_id an identity
# column, that is a sequence default), storage options and index as a queue's
# table, copied from a real one.
raw_table() {  # raw_table <bench table> <queue whose table it copies>
    psql_c "CREATE TABLE bench.$1 (LIKE pgmsg.q_$2 INCLUDING ALL);
            DO \$\$ DECLARE o text; BEGIN
                SELECT array_to_string(reloptions, ', ') INTO o FROM pg_class WHERE oid = 'pgmsg.q_$2'::regclass;
                IF o IS NOT NULL THEN EXECUTE format('ALTER TABLE bench.$1 SET (%s)', o); END IF;
            END \$\$;" >/dev/null
}
psql_c "CREATE SCHEMA bench" >/dev/null

section "send, one message per transaction, vs INSERT of the same row"
SEND_OK=1
{ psql_c "SELECT pgmsg.create_queue('bsend')" >/dev/null && raw_table ins bsend; } || SEND_OK=0
echo "SELECT pgmsg.send('bsend', '$PAYLOAD');" >"$SCRIPTS/send.sql"
echo "INSERT INTO bench.ins (visible_at, sent_at, body) VALUES (now(), now(), '$PAYLOAD');" >"$SCRIPTS/insert.sql"
CLIENTS="1 8"; [ "$QUICK" = 1 ] || CLIENTS="1 8 32"
for c in $CLIENTS; do
    if [ "$SEND_OK" = 1 ]; then pair "$c" "$SCRIPTS/send.sql" "$SCRIPTS/insert.sql"; else P=error; R=error; fi
    [ "$c" = 32 ] && tgt="-" || tgt="≥ 0.90"
    if [ "$tgt" = - ]; then row "send, $c clients (messages/s)" "$P" "$R" "$(ratio "$P" "$R")" "-"
    else ratio_row "send, $c client$([ "$c" = 1 ] || echo s) (messages/s)" ">=" 0.90; fi
done
note "send: pgmsg.send('bsend', payload) vs INSERT INTO bench.ins (visible_at, sent_at, body) VALUES (now(), now(), payload), one per transaction; bench.ins copies the queue table (columns, identity msg_id, fillfactor, the (visible_at, msg_id) index)."

# ---------------------------------------------------------------------------
section "the consumer loop: receive(1) then delete, each its own transaction, vs DELETE by id"
# Before every run both the queue and the table are topped up to LOOP_ROWS
# rows and vacuumed, so each run starts from the same size.  The raw side
# deletes the next live row by primary key: rows get msg_id 1, 2, 3, ... in
# order and a shared sequence hands each delete the next id, so every delete
# hits a live row and no two clients race for one.
LOOP_OK=1
{ psql_c "SELECT pgmsg.create_queue('bloop', visibility_timeout => '1 hour')" >/dev/null &&
  raw_table del bloop &&
  psql_c "ALTER TABLE bench.del ADD PRIMARY KEY (msg_id); CREATE SEQUENCE bench.del_seq;" >/dev/null; } || LOOP_OK=0
top_up_loop() {
    local have
    have=$(psql_c "SELECT count(*) FROM pgmsg.q_bloop") || return 1
    [ "$have" -lt "$LOOP_ROWS" ] && { load_queue bloop $((LOOP_ROWS - have)) || return 1; }
    psql_c "INSERT INTO bench.del (visible_at, sent_at, body)
                SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $LOOP_ROWS - (SELECT count(*) FROM bench.del))" >/dev/null &&
    psql_c "VACUUM ANALYZE pgmsg.q_bloop, bench.del" >/dev/null
}
cat >"$SCRIPTS/loop.sql" <<'EOF'
SELECT receipt FROM pgmsg.receive('bloop', 1) \gset
SELECT pgmsg.delete('bloop', :receipt);
EOF
echo "DELETE FROM bench.del WHERE msg_id = (SELECT nextval('bench.del_seq'));" >"$SCRIPTS/delete.sql"
PAIR_R=1
LOOP_LAT=()
for c in 1 8; do
    if [ "$LOOP_OK" = 1 ]; then pair "$c" "$SCRIPTS/loop.sql" "$SCRIPTS/delete.sql" top_up_loop; else P=error; R=error; fi
    ratio_row "receive(1) + delete loop, $c client$([ "$c" = 1 ] || echo s) (messages/s)" ">=" 0.90
    [ "$P" != error ] && [ "$R" != error ] &&
        LOOP_LAT+=("$c client(s): receive ${P1:-?} ms + delete ${P2:-?} ms, against the raw DELETE's ${R1:-?} ms")
done
PAIR_R=0
note "Consumer loop: pgmsg runs \`SELECT receipt FROM pgmsg.receive('bloop', 1) \\gset\` then \`SELECT pgmsg.delete('bloop', :receipt)\`, two transactions per message (pgbench binds :receipt as a parameter; it has no :'var' quoting). The raw side runs \`DELETE FROM bench.del WHERE msg_id = (SELECT nextval('bench.del_seq'))\`, one transaction per message: bench.del copies the queue table plus a primary key on msg_id (the queue table has none), and the sequence hands out ids 1, 2, 3, ... in insertion order, so each delete removes a live row and clients never collide. Both start every run with $LOOP_ROWS rows, freshly vacuumed. Average statement latencies (pgbench -r, on both sides) for $(printf '%s; ' "${LOOP_LAT[@]:-no run}" | sed 's/; $//')."

# ---------------------------------------------------------------------------
section "backlog: $BIG pending with $DEAD deleted but unvacuumed at the head, vs $SMALL pending"
# Both queues run the same script: receive(1) and delete in one statement
# (one transaction), then a send in the next, which keeps the queue's size.
# The figure is the average latency of the first statement alone (pgbench -r),
# one client.  Autovacuum is off for the big queue's table, so the dead rows
# at its head only grow during the runs.
BACKLOG_OK=1
{ psql_c "SELECT pgmsg.create_queue('bbig', visibility_timeout => '1 hour');
          SELECT pgmsg.create_queue('bsmall', visibility_timeout => '1 hour');
          ALTER TABLE pgmsg.q_bbig SET (autovacuum_enabled = off);" >/dev/null &&
  echo "    loading $((BIG + DEAD)) messages" &&
  load_queue bbig $((BIG + DEAD)) && load_queue bsmall "$SMALL" &&
  for _ in $(seq $((DEAD / 1000))); do
      echo "SELECT pgmsg.delete('bbig', array_agg(receipt)) FROM pgmsg.receive('bbig', 1000);"
  done >"$SCRIPTS/kill_head.sql" && psql_f "$SCRIPTS/kill_head.sql" >/dev/null &&
  psql_c "ANALYZE pgmsg.q_bbig" >/dev/null && psql_c "VACUUM ANALYZE pgmsg.q_bsmall" >/dev/null; } || BACKLOG_OK=0
# dead tuples of the big queue's table, as the statistics count them
dead_rows() {
    sleep 1   # let the last backends' statistics arrive
    psql_c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'pgmsg.q_bbig'::regclass" 2>/dev/null || echo "?"
}
for q in bbig bsmall; do
    cat >"$SCRIPTS/$q.sql" <<EOF
SELECT pgmsg.delete('$q', receipt) FROM pgmsg.receive('$q', 1);
SELECT pgmsg.send('$q', '$PAYLOAD');
EOF
done
if [ "$BACKLOG_OK" = 1 ]; then
    DEAD_START=$(dead_rows)
    bv=(); sv=(); err=0
    for i in $(seq "$RUNS"); do
        s=error; b=error
        if pgb 1 "$SCRIPTS/bsmall.sql" -r; then s=$(stmt_latency_of 1); fi
        if pgb 1 "$SCRIPTS/bbig.sql" -r; then b=$(stmt_latency_of 1); fi
        if [ -n "$s" ] && [ "$s" != error ]; then sv+=("$s"); else err=1; fi
        if [ -n "$b" ] && [ "$b" != error ]; then bv+=("$b"); else err=1; fi
        echo "    run $i: big queue ${b:-?} ms, small queue ${s:-?} ms"
    done
    DEAD_END=$(dead_rows)
    if [ "$err" = 0 ]; then
        B=$(median "${bv[@]}"); S=$(median "${sv[@]}")
        r=$(ratio "$B" "$S")
        row "receive(1) + delete latency, $BIG pending + $DEAD dead at head vs $SMALL pending (ms)" \
            "$(fmt "$B" 3) (big queue)" "$(fmt "$S" 3) (pgmsg, $SMALL pending)" "$r" "≤ 1.5$(met "$r" "<=" 1.5)"
    else
        row "receive(1) + delete latency, $BIG pending + $DEAD dead at head vs $SMALL pending (ms)" error error - "≤ 1.5"
    fi
    note "Backlog: both sides are pgmsg; the big queue had $DEAD messages received and deleted through the API at its head and autovacuum off (dead tuples counted by the statistics: $DEAD_START before the runs, $DEAD_END after). Latency is pgbench's per-statement average of \`SELECT pgmsg.delete(q, receipt) FROM pgmsg.receive(q, 1)\`; a send after it keeps the queue's size."
else
    row "receive(1) + delete latency, $BIG pending + $DEAD dead at head vs $SMALL pending (ms)" error error - "≤ 1.5"
fi

# ---------------------------------------------------------------------------
# More figures, without a raw counterpart or a target of the same kind.

section "send_batch vs INSERT ... SELECT of the same rows"
for b in 100 1000; do
    echo "SELECT count(*) FROM pgmsg.send_batch('bsend', array_fill('$PAYLOAD'::jsonb, ARRAY[$b]));" >"$SCRIPTS/sendb.sql"
    echo "INSERT INTO bench.ins (visible_at, sent_at, body) SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $b);" >"$SCRIPTS/insertb.sql"
    if [ "$SEND_OK" = 1 ]; then pair 1 "$SCRIPTS/sendb.sql" "$SCRIPTS/insertb.sql"; else P=error; R=error; fi
    r=$(ratio "$P" "$R")
    [ "$P" != error ] && P=$((P * b)); [ "$R" != error ] && R=$((R * b))
    row "send_batch of $b, 1 client (messages/s)" "$P" "$R" "$r" "-"
done

section "receive(100) + delete of the 100 in one transaction vs DELETE of 100 ids"
cat >"$SCRIPTS/loopb.sql" <<'EOF'
SELECT pgmsg.delete('bloop', array_agg(receipt)) FROM pgmsg.receive('bloop', 100);
EOF
cat >"$SCRIPTS/deleteb.sql" <<'EOF'
DELETE FROM bench.del WHERE msg_id IN (SELECT nextval('bench.del_seq') FROM generate_series(1, 100));
EOF
# At some 100,000 messages a second a timed run would drain its table: each
# run is a fixed count of transactions instead, 150,000 of the 200,000 rows.
PGB_LIMIT=(-t $(( LOOP_ROWS * 3 / 4 / 100 )))
if [ "$LOOP_OK" = 1 ]; then pair 1 "$SCRIPTS/loopb.sql" "$SCRIPTS/deleteb.sql" top_up_loop; else P=error; R=error; fi
PGB_LIMIT=()
r=$(ratio "$P" "$R")
[ "$P" != error ] && P=$((P * 100)); [ "$R" != error ] && R=$((R * 100))
row "receive(100) + delete(100), 1 client (messages/s)" "$P" "$R" "$r" "-"
note "receive(100) + delete(100): \`SELECT pgmsg.delete('bloop', array_agg(receipt)) FROM pgmsg.receive('bloop', 100)\` vs \`DELETE FROM bench.del WHERE msg_id IN (SELECT nextval('bench.del_seq') FROM generate_series(1, 100))\`, one transaction each; runs of $(( LOOP_ROWS * 3 / 4 / 100 )) transactions from $LOOP_ROWS rows rather than timed runs."

section "FIFO: receive(1) + delete, 8 clients, 100 groups, vs a standard queue"
FIFO_OK=1
{ psql_c "SELECT pgmsg.create_queue('bfifo', fifo => true, visibility_timeout => '1 hour');
          SELECT pgmsg.create_queue('bstd', visibility_timeout => '1 hour');" >/dev/null &&
  load_queue bfifo "$FIFO_SIZE" ", group_ids => (SELECT array_agg('g' || (g % 100)) FROM generate_series(1, 10000) g)" &&
  load_queue bstd "$FIFO_SIZE" &&
  psql_c "VACUUM ANALYZE pgmsg.q_bfifo, pgmsg.q_bstd" >/dev/null; } || FIFO_OK=0
for q in bfifo bstd; do
    echo "SELECT pgmsg.delete('$q', receipt) FROM pgmsg.receive('$q', 1);" >"$SCRIPTS/c_$q.sql"
done
if [ "$FIFO_OK" = 1 ]; then pair 8 "$SCRIPTS/c_bfifo.sql" "$SCRIPTS/c_bstd.sql"; else P=error; R=error; fi
r=$(ratio "$P" "$R")
row "FIFO receive(1) + delete, 8 clients, 100 groups (messages/s)" "$P" "$R (standard queue)" "$r" "≥ 0.5$(met "$r" ">=" 0.5)"

section "start_redrive of 100,000 while producers run"
redrive() {
    local task longest=0 x deadline producers
    psql_c "SELECT pgmsg.create_queue('bdlq');
            SELECT pgmsg.create_queue('bsrc', visibility_timeout => '0', dead_letter_queue => 'bdlq', max_receive_count => 1);" >/dev/null || return 1
    load_queue bsrc 100000 || return 1
    deadline=$((SECONDS + 300))
    while [ "$(psql_c "SELECT count(*) FROM pgmsg.q_bsrc")" != 0 ]; do
        psql_c "SELECT count(*) FROM pgmsg.receive('bsrc', 1000)" >/dev/null || return 1
        [ "$SECONDS" -lt "$deadline" ] || { echo "bsrc did not drain to its dead-letter queue" >&2; return 1; }
    done
    echo "SELECT pgmsg.send('bsend', '$PAYLOAD');" >"$SCRIPTS/producer.sql"
    as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared -T 300 -c 2 -j 1 \
        -f "$SCRIPTS/producer.sql" postgres >/dev/null 2>&1 &
    producers=$!
    BGPIDS+=("$producers")
    task=$(psql_c "SELECT pgmsg.start_redrive('bdlq')") || { kill "$producers"; return 1; }
    deadline=$((SECONDS + 240))
    while [ "$(psql_c "SELECT state FROM pgmsg.redrive_tasks WHERE task_id = $task")" = running ] &&
          [ "$SECONDS" -lt "$deadline" ]; do
        x=$(psql_c "SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start) * 1000), 0)::int
                      FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'") || x=0
        [ "$x" -gt "$longest" ] && longest=$x
        sleep 0.05
    done
    kill "$producers" 2>/dev/null || true
    wait "$producers" 2>/dev/null || true
    x=$(psql_c "SELECT state || ' ' || coalesce(round(moved / nullif(extract(epoch FROM finished_at - started_at), 0))::text, '-')
                  FROM pgmsg.redrive_tasks WHERE task_id = $task") || return 1
    [ "${x% *}" = completed ] || { echo "redrive task $task: ${x% *}" >&2; return 1; }
    row "start_redrive of 100,000 with producers running (messages/s)" "${x#* }" "-" "-" "-"
    row "longest transaction the redrive held (ms, sampled)" "$longest" "-" "-" "-"
}
redrive || row "start_redrive of 100,000 with producers running (messages/s)" error "-" "-" "-"

section "wakeup latency, COMMIT to a waiting receive returning"
latency() {
    local node_dir=$WORK/node out p50 p99 c
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        { apt-get -qq update && apt-get -qq -y install nodejs npm; } </dev/null >/dev/null || return 1
    fi
    mkdir -p "$node_dir"
    cp "$REPO_ROOT/bench/latency.js" "$node_dir/"
    (cd "$node_dir" && npm install --silent --no-audit --no-fund pg@8 >/dev/null 2>&1) || return 1
    chown -R postgres:postgres "$node_dir"
    for c in 1 8; do
        out=$(cd "$node_dir" && as_postgres node "$node_dir/latency.js" "postgresql:///postgres?host=$WORK&port=$PORT" "$c" 500) || return 1
        p50=$(printf '%s' "$out" | sed 's/.*"p50_ms":\([0-9.]*\).*/\1/')
        p99=$(printf '%s' "$out" | sed 's/.*"p99_ms":\([0-9.]*\).*/\1/')
        row "wakeup latency p50 / p99, $c waiting consumer$([ "$c" = 1 ] || echo s) (ms)" "$p50 / $p99" "-" "-" "≤ 1 / ≤ 5"
    done
}
latency || row "wakeup latency (ms)" error "-" "-" "-"

section "idle cost: 8 receives waiting, a worker with 100 idle queues"
idle() {
    local waiters=() w0=0 w1=0 k0 k1 p worker pids hz wait_s=$((IDLE_SECS + 3))
    hz=$(getconf CLK_TCK)
    ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
    psql_c "SELECT count(pgmsg.create_queue('idle' || i)) FROM generate_series(1, 100) i" >/dev/null || return 1
    for _ in $(seq 8); do
        "${PSQL[@]}" -c "SELECT count(*) FROM pgmsg.receive('idle1', 1, wait => '$wait_s seconds')" >/dev/null 2>&1 &
        waiters+=("$!"); BGPIDS+=("$!")
    done
    sleep 2
    pids=$(psql_c "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity
                    WHERE wait_event_type = 'Extension' AND backend_type = 'client backend'") || return 1
    worker=$(psql_c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg worker' LIMIT 1") || return 1
    [ -n "$worker" ] || { echo "no pgmsg worker is running" >&2; return 1; }
    for p in $pids; do w0=$((w0 + $(ticks "$p"))); done
    k0=$(ticks "$worker")
    sleep "$IDLE_SECS"
    for p in $pids; do w1=$((w1 + $(ticks "$p"))); done
    k1=$(ticks "$worker")
    wait "${waiters[@]}" 2>/dev/null || true
    row "CPU of $(wc -w <<<"$pids") waiting receives together (% of a core)" "$(ratio "$(( (w1 - w0) * 100 ))" "$(( hz * IDLE_SECS ))")" "-" "-" "< 2"
    row "CPU of an idle worker with 100 idle queues (% of a core)" "$(ratio "$(( (k1 - k0) * 100 ))" "$(( hz * IDLE_SECS ))")" "-" "-" "< 1"
}
idle || row "idle CPU (% of a core)" error "-" "-" "-"

# ---------------------------------------------------------------------------
OUT=$REPO_ROOT/bench/results
mkdir -p "$OUT"
setting() { psql_c "SHOW $1" 2>/dev/null || echo "?"; }
REV=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$REPO_ROOT" diff --quiet HEAD -- 2>/dev/null || REV="$REV (with uncommitted changes)"
{
    echo "# pgmsg benchmark"
    echo
    echo "- mode: $([ "$QUICK" = 1 ] && echo quick || echo full), median of $RUNS run(s) of $SECS s each, pgmsg and raw runs interleaved, pgbench -M prepared, a CHECKPOINT before each run"
    echo "- machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $("$PGBIN/postgres" --version), pgmsg at $REV"
    echo "- synchronous_commit = $(setting synchronous_commit), fsync = $(setting fsync), full_page_writes = $(setting full_page_writes), wal_level = $(setting wal_level), data_checksums = $(setting data_checksums), shared_buffers = $(setting shared_buffers), max_wal_size = $(setting max_wal_size), pgmsg.max_leases = $LEASES_NOW (defaults of initdb and pgmsg)"
    echo
    echo "| scenario | pgmsg | raw PostgreSQL | ratio | target |"
    echo "| --- | --- | --- | --- | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Ratios are pgmsg / raw for throughput, and big / small queue for the backlog latency."
    for n in "${NOTES[@]}"; do
        echo
        echo "$n"
    done
} >"$OUT/results.md"
echo
cat "$OUT/results.md"
