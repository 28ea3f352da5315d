#!/usr/bin/env bash
# The benchmark, as root:
#   bench/run.sh            full mode (about an hour: a 10-minute sustained run, and
#                           7.5-minute runs with a long transaction)
#   bench/run.sh --quick    quick mode (under three minutes, for development)
#   bench/run.sh --quick --only send,publish   only some sections (names below)
#
# Installs what it needs from Debian (PostgreSQL 15, PgQ and its ticker pgqd,
# gnuplot, node), builds and installs pgmsg, starts a throwaway PostgreSQL 15
# cluster with pgmsg preloaded and PgQ installed, and runs every scenario for
# pgmsg, for raw PostgreSQL doing the same work by hand, and for PgQ where PgQ
# can do the same work.  Runs of the three are interleaved, so that a noisy
# machine disturbs them alike, and each figure is the median of several runs
# (one in quick mode).  It writes bench/results.md and bench/results.png.
#
# Sections: shm wal send batch loop publish policy backlog latency fifo redrive idle
# sustained (quick mode leaves out fifo, redrive and idle unless --only names
# them).  In quick mode SUS_SECS=N and SUS_OTHER_SECS=N in the environment
# set the length of pgmsg's sustained run and of the others' (0: not run),
# HOLD_SECS=N and HOLD_OTHER=1 the length of the long transaction of the
# "hold" run and whether raw and PgQ run it too, and PEAK_SECS=N the length
# of the peak runs and PEAK_RUNS=N how many of each system (the median is
# taken), for trying them out at other lengths.
#
# Nothing here asserts anything: it reports, and says whether each target
# was met.  A scenario that fails shows the error and is reported as such;
# the others still run.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

QUICK=0
ONLY=
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --only) ONLY=${2:?--only needs a list of sections}; shift ;;
        *) echo "usage: $0 [--quick] [--only section,section,...]" >&2; exit 2 ;;
    esac
    shift
done

# Quick mode keeps to three minutes: one short run per figure, the sustained
# run for pgmsg only, and none of the pgmsg-only extras (fifo, redrive, idle).
if [ "$QUICK" = 1 ]; then
    RUNS=1; SECS=2; BACKLOG_SECS=1; LOOP_ROWS=150000; BIG=300000; DEAD=15000
    PEAK_SECS=${PEAK_SECS:-3}; PEAK_RUNS=${PEAK_RUNS:-1}; SUS_SECS=${SUS_SECS:-15}; SUS_OTHER_SECS=${SUS_OTHER_SECS:-0}; SAMPLE_SECS=2; SIZE_EVERY=10
    HOLD_PRE=3; HOLD_SECS=${HOLD_SECS:-6}; HOLD_OTHER=${HOLD_OTHER:-0}
    LAT_MSGS=40; PGQ_LAT_MSGS=5
else
    RUNS=3; SECS=10; BACKLOG_SECS=10; IDLE_SECS=15; FIFO_SIZE=600000; REDRIVE_SIZE=100000; LOOP_ROWS=600000
    PEAK_SECS=15; PEAK_RUNS=5; SUS_SECS=600; SUS_OTHER_SECS=180; SAMPLE_SECS=5; SIZE_EVERY=30
    HOLD_PRE=120; HOLD_SECS=300; HOLD_OTHER=1
    LAT_MSGS=500; PGQ_LAT_MSGS=40
fi
# in quick mode "--only" may name an extra, which then runs at this size
IDLE_SECS=${IDLE_SECS:-3}; FIFO_SIZE=${FIFO_SIZE:-150000}; REDRIVE_SIZE=${REDRIVE_SIZE:-20000}
want() {
    if [ -n "$ONLY" ]; then [[ ",$ONLY," == *",$1,"* ]]
    else [ "$QUICK" = 0 ] || [[ ",fifo,redrive,idle," != *",$1,"* ]]; fi
}
BIG=${BIG:-1000000}  # pending messages of the backlog queue
DEAD=${DEAD:-50000}  # deleted, unvacuumed messages at its head
SMALL=1000         # pending messages of the small queue it is compared with
LEASES_LO=100000   # the two pgmsg.max_leases settings for the shared memory figure
LEASES_HI=1100000
SUS_LOAD=70        # percent of the measured peak that the sustained runs offer
PAYLOAD='{"order_id": 12345, "item": "widget", "qty": 3}'
ATTRS='{"kind": "order", "qty": 3, "region": "us"}'
VT="interval '1 hour'"   # the visibility timeout of the raw receives

require_root "$@"
PACKAGES+=(postgresql-contrib postgresql-15-pgq3 pgqd gnuplot-nox)
hold_install_lock
ensure_packages
[ -x "$PGBIN/pgbench" ] || die "$PGBIN/pgbench is missing"
command -v pgqd >/dev/null || die "pgqd is missing"
command -v gnuplot >/dev/null || die "gnuplot is missing"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "installing Debian packages: nodejs npm"
    { apt-get -qq update && apt-get -qq -y install nodejs npm; } </dev/null >/dev/null
fi
# from clean: objects left by a build with PGMSG_CHECKS=1 would be measured
make -C "$REPO_ROOT" -s clean
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
DATA=$WORK/chart
LOGFILE=$WORK/server.log
PGQD_INI=$WORK/pgqd.ini
mkdir -p "$SCRIPTS" "$DATA"
chown postgres:postgres "$SCRIPTS" "$DATA"
PORT=55439
while [ -e "$WORK/.s.PGSQL.$PORT" ] || (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    PORT=$((PORT + 1))
done

BGPIDS=()
PGQD_UP=0
pgqd_stop() {
    [ "$PGQD_UP" = 1 ] || return 0
    as_postgres pgqd -k "$PGQD_INI" >/dev/null 2>&1 || true
    PGQD_UP=0
}
cleanup() {
    local pid
    for pid in "${BGPIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    pgqd_stop
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
max_connections = 60
log_autovacuum_min_duration = 0
log_checkpoints = on
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

# pgqd, PgQ's ticker and maintenance daemon, for this cluster only; started
# by the sections that need ticks from it, stopped at the end.
pgqd_start() {
    [ "$PGQD_UP" = 1 ] && return 0
    cat >"$PGQD_INI" <<EOF
[pgqd]
logfile = $WORK/pgqd.log
pidfile = $WORK/pgqd.pid
base_connstr = host=$WORK port=$PORT user=postgres
initial_database = postgres
database_list = postgres
syslog = 0
ticker_period = 1
maint_period = 10
check_period = 60
EOF
    chown postgres:postgres "$PGQD_INI"
    as_postgres pgqd -q -d "$PGQD_INI" || return 1
    PGQD_UP=1
    sleep 1
}

# ---------------------------------------------------------------------------
# Reporting.  Each row: scenario, pgmsg, raw PostgreSQL, PgQ, pgmsg / raw,
# target or note.  CHART rows feed the throughput chart.

ROWS=()
NOTES=()
SKIPPED=()
CHART=()
fmt() { awk -v a="$1" -v d="$2" 'BEGIN {printf "%.*f", d, a}'; }
isnum() { case "$1" in ""|*[!0-9.]*) return 1 ;; *) return 0 ;; esac; }
ratio() {
    if ! isnum "$1" || ! isnum "$2"; then echo "-"; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "-"; else printf "%.2f", a / b}'
}
# met <value> <op> <bound>: "met", "not met" or nothing when there is no value
met() {
    isnum "$1" || return 0
    if awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {exit !((op == ">=" && a >= b) || (op == "<=" && a <= b) || (op == "<" && a < b))}'; then
        echo " (met)"
    else
        echo " (not met)"
    fi
}
# row <scenario> <pgmsg> <raw> <pgq> <ratio> <target or note>
row() {
    ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 |")
    printf '  -> %s: pgmsg %s | raw %s | PgQ %s | ratio %s | %s\n' "$1" "$2" "$3" "$4" "$5" "$6"
}
# chart <label> <pgmsg> <raw> <pgq>: messages/s, anything not a number left out
chart() {
    local v out=("$1") x
    for x in "$2" "$3" "$4"; do
        v=${x%% *}
        isnum "$v" && out+=("$v") || out+=("NaN")
    done
    CHART+=("$(printf '"%s"\t%s\t%s\t%s' "${out[@]}")")
}
note() { NOTES+=("$1"); }
section() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }

# ---------------------------------------------------------------------------
# pgbench.  Every run: -M prepared (all sides alike), -n, -T SECS, -c clients,
# -j min(clients, 2), a CHECKPOINT first so that no run inherits another's
# checkpoint.  A failed run prints pgbench's own output and yields "error".

PGB_OUT=$WORK/pgbench.out
PGB_LIMIT=()   # -t N instead of -T SECS, for scripts that would drain their table
PGB_DB=postgres  # pgbench's database, a connection string where a run needs settings
# pgb <clients> <script> [more pgbench options]: full output in $PGB_OUT
pgb() {
    local clients=$1 script=$2 rc=0 limit=(-T "$SECS")
    shift 2
    [ "${#PGB_LIMIT[@]}" -gt 0 ] && limit=("${PGB_LIMIT[@]}")
    psql_c "CHECKPOINT" >/dev/null 2>&1 || true
    as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared "${limit[@]}" \
        -c "$clients" -j "$(( clients < 2 ? clients : 2 ))" -f "$script" "$@" "$PGB_DB" \
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
# round_ratios <name of array a> <name of array b>: a[i] / b[i] for each
# round i, space-separated, or nothing unless both have one number per round
round_ratios() {
    local -n ra=$1 rb=$2
    local i out=()
    [ "${#ra[@]}" -gt 0 ] && [ "${#ra[@]}" = "${#rb[@]}" ] || return 0
    for i in "${!ra[@]}"; do
        isnum "${ra[$i]}" && isnum "${rb[$i]}" || return 0
        out+=("$(ratio "${ra[$i]}" "${rb[$i]}")")
    done
    echo "${out[*]}"
}
# round_median <name of array a> <name of array b>: RR set to the rounds'
# ratios (round_ratios) and RM to their median, "-" without them
round_median() {
    RR=$(round_ratios "$1" "$2"); RM=-
    # shellcheck disable=SC2086
    [ -z "$RR" ] || RM=$(median $RR)
}

# trio <clients> <pgmsg script> <raw script> <PgQ script or ""> [per_run_hook]:
# interleaved runs (raw, PgQ, pgmsg, then again), sets P, R and Q to the
# median TPS of each side ("error" if a run failed, "n/a" without a script)
# and P_RUNS and R_RUNS to pgmsg's and raw's TPS run by run, in order (empty
# if a run failed).
# With PAIR_R=1 the runs use pgbench -r, and P1, P2 and R1, R2 are set to the
# median latencies (ms) of the first two statements of the pgmsg and raw scripts.
PAIR_R=0
trio() {
    local clients=$1 ps=$2 rs=$3 qs=$4 hook=${5:-} i p r q opt=()
    local pv=() rv=() qv=() perr=0 rerr=0 qerr=0 p1=() p2=() r1=() r2=()
    [ "$PAIR_R" = 1 ] && opt=(-r)
    for i in $(seq "$RUNS"); do
        if [ -n "$hook" ]; then $hook || { perr=1; rerr=1; qerr=1; break; }; fi
        r=error; p=error; q=n/a
        if pgb "$clients" "$rs" "${opt[@]}"; then r=$(tps_of); r1+=("$(stmt_latency_of 1)"); r2+=("$(stmt_latency_of 2)"); fi
        if [ -n "$qs" ]; then q=error; if pgb "$clients" "$qs"; then q=$(tps_of); fi; fi
        if pgb "$clients" "$ps" "${opt[@]}"; then
            p=$(tps_of); p1+=("$(stmt_latency_of 1)"); p2+=("$(stmt_latency_of 2)")
        fi
        if isnum "$r"; then rv+=("$r"); else rerr=1; fi
        if isnum "$p"; then pv+=("$p"); else perr=1; fi
        if isnum "$q"; then qv+=("$q"); elif [ -n "$qs" ]; then qerr=1; fi
        echo "    run $i, $clients client(s): pgmsg ${p:-?} tps, raw ${r:-?} tps, PgQ ${q:-?} tps"
    done
    P=error; R=error; Q=error; P_RUNS=(); R_RUNS=()
    [ "$perr" = 0 ] && P=$(fmt "$(median "${pv[@]}")" 0) && P_RUNS=("${pv[@]}")
    [ "$rerr" = 0 ] && R=$(fmt "$(median "${rv[@]}")" 0) && R_RUNS=("${rv[@]}")
    [ "$qerr" = 0 ] && [ "${#qv[@]}" -gt 0 ] && Q=$(fmt "$(median "${qv[@]}")" 0)
    [ -z "$qs" ] && Q=n/a
    P1=$(median "${p1[@]}"); P2=$(median "${p2[@]}"); R1=$(median "${r1[@]}"); R2=$(median "${r2[@]}")
    return 0
}
# times <n> <var>...: multiply each numeric variable by n (TPS of batches to messages/s)
times() {
    local n=$1 v
    shift
    for v in "$@"; do isnum "${!v}" && printf -v "$v" '%s' "$(( ${!v} * n ))"; done
    return 0
}
# tgt <ratio> <op> <bound>: the target cell
tgt() {
    local sym
    case "$2" in ">=") sym="≥" ;; "<=") sym="≤" ;; *) sym=$2 ;; esac
    echo "$sym $3$(met "$1" "$2" "$3")"
}

# send_batch in chunks of 1,000 (its limit), as a psql script of one statement per chunk
load_queue() {
    local q=$1 n=$2 extra=${3:-} f=$SCRIPTS/load_$1.sql chunk
    : >"$f"
    while [ "$n" -gt 0 ]; do
        chunk=$(( n < 1000 ? n : 1000 ))
        echo "SELECT count(*) FROM pgmsg.send_batch('$q', array_fill('$PAYLOAD'::jsonb, ARRAY[$chunk])$extra);" >>"$f"
        n=$((n - chunk))
    done
    psql_f "$f" >/dev/null
}
# load_pgq <queue> <batches> <events per batch>: that many events, with a tick
# after each batch, so that a consumer gets batches of exactly that size.  Each
# statement commits on its own.  The queue must come from "pgq_queue <queue>
# 1": pgq.ticker then ticks whenever there is any new event, and never on
# time alone.
load_pgq() {
    local q=$1 n=$2 per=$3 f=$SCRIPTS/load_pgq_$1.sql
    for _ in $(seq "$n"); do
        echo "SELECT count(pgq.insert_event('$q', 'bench', '$PAYLOAD')) FROM generate_series(1, $per);"
        echo "SELECT pgq.ticker('$q');"
    done >"$f"
    psql_f "$f" >/dev/null
}
# pgq_queue <queue> [ticker_max_count]: a PgQ queue with one consumer,
# "bench"; with a ticker_max_count, ticks come only from that count (no
# ticks on lag or idle time).
pgq_queue() {
    psql_c "SELECT pgq.create_queue('$1'); SELECT pgq.register_consumer('$1', 'bench');" >/dev/null || return 1
    [ -z "${2:-}" ] || psql_c "SELECT pgq.set_queue_config('$1', 'ticker_max_count', '$2');
                              SELECT pgq.set_queue_config('$1', 'ticker_max_lag', '1 day');
                              SELECT pgq.set_queue_config('$1', 'ticker_idle_period', '1 day');" >/dev/null
}

# ---------------------------------------------------------------------------
SHM_HI=; SHM_LO=
if want shm; then
    section "shared memory of the lease map, pgmsg.max_leases = $LEASES_HI then $LEASES_LO"
    # Named pgmsg allocations, and all named-pgmsg plus anonymous ones: a shared
    # hash table's entries are allocated anonymously, so only the second sum
    # holds the whole lease map.
    SHM_Q="SELECT coalesce(sum(allocated_size) FILTER (WHERE name LIKE 'pgmsg%'), 0) || ' ' ||
                  coalesce(sum(allocated_size) FILTER (WHERE name LIKE 'pgmsg%' OR name = '<anonymous>'), 0) || ' ' ||
                  current_setting('shared_memory_size')
             FROM pg_shmem_allocations"
    if pg_start "-c pgmsg.max_leases=$LEASES_HI"; then
        SHM_HI=$(psql_c "$SHM_Q") || true
        pg_stop
    fi
fi
pg_start || die "the server did not start"
LEASES_NOW=$(psql_c "SHOW pgmsg.max_leases") || LEASES_NOW="?"
if want shm; then
    SHM_LO=$(psql_c "$SHM_Q") || true
    if [ -n "$SHM_HI" ] && [ -n "$SHM_LO" ]; then
        read -r NAMED_HI ALL_HI SIZE_HI <<<"$SHM_HI"
        read -r NAMED_LO ALL_LO SIZE_LO <<<"$SHM_LO"
        STEPS=$(( (LEASES_HI - LEASES_LO) / 100000 ))
        PER_ALL=$(( (ALL_HI - ALL_LO) / STEPS ))
        PER_NAMED=$(( (NAMED_HI - NAMED_LO) / STEPS ))
        row "shared memory per 100,000 leases (bytes)" "$PER_ALL" "-" "-" "-" "-"
        note "Shared memory: pg_shmem_allocations after a restart at each pgmsg.max_leases setting.
  Allocations named pgmsg%: $NAMED_LO bytes at $LEASES_LO leases, $NAMED_HI at $LEASES_HI ($PER_NAMED bytes per 100,000 leases).
  Named pgmsg% plus <anonymous> (where a shared hash table's entries go): $ALL_LO and $ALL_HI bytes ($PER_ALL per 100,000: the figure in the table).
  shared_memory_size: $SIZE_LO at $LEASES_LO, $SIZE_HI at $LEASES_HI."
    else
        row "shared memory per 100,000 leases (bytes)" "error" "-" "-" "-" "-"
    fi
fi

psql_c "CREATE EXTENSION pgmsg" || { tail -n 20 "$LOGFILE" >&2; die "CREATE EXTENSION pgmsg failed"; }
psql_c "CREATE EXTENSION pgq" || die "CREATE EXTENSION pgq failed"
psql_c "CREATE SCHEMA bench" >/dev/null
HAVE_PUBLISH=$(psql_c "SELECT count(*) FROM pg_proc WHERE proname = 'publish' AND pronamespace = 'pgmsg'::regnamespace")
PGQ_VERSION=$(psql_c "SELECT pgq.version()") || PGQ_VERSION="?"

# ---------------------------------------------------------------------------
if want wal; then
    section "WAL written by receiving 1,000 fresh messages"
    # Measured first, on a quiet cluster, in one session: the LSN before and
    # after.  A CHECKPOINT comes between sending and receiving, so that a page
    # the receive would write costs a full-page image.  The median of RUNS
    # tries, each on a fresh queue with autovacuum off.
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
        v=error
        [ "$err" = 0 ] && v=$(median "${vals[@]}") && echo "    tries: ${vals[*]} bytes"
        row "WAL for receiving 1,000 fresh messages, $label (bytes)" "$v" "-" "-" "-" "< 16384$(met "$v" "<" 16384)"
    done
fi

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
# raw_receive <table> <n>: the common table expressions of a receive by
# hand, as queues built on SKIP LOCKED do it: lock the oldest visible rows
# nobody holds and hide them for the visibility timeout, counting the
# receive.  The received ids come out of "u"; the caller adds the SELECT.
raw_receive() {
    cat <<EOF2
WITH c AS (SELECT msg_id FROM bench.$1 WHERE visible_at <= now()
            ORDER BY visible_at, msg_id LIMIT $2 FOR UPDATE SKIP LOCKED),
u AS (UPDATE bench.$1 t SET visible_at = now() + $VT, receive_count = t.receive_count + 1
        FROM c WHERE t.msg_id = c.msg_id RETURNING t.msg_id)
EOF2
}
SEND_OK=0
if want send || want batch || want publish; then
    { psql_c "SELECT pgmsg.create_queue('bsend')" >/dev/null && raw_table ins bsend && pgq_queue bqsend; } && SEND_OK=1
    echo "SELECT pgmsg.send('bsend', '$PAYLOAD');" >"$SCRIPTS/send.sql"
    echo "INSERT INTO bench.ins (visible_at, sent_at, body) VALUES (now(), now(), '$PAYLOAD');" >"$SCRIPTS/insert.sql"
    echo "SELECT pgq.insert_event('bqsend', 'bench', '$PAYLOAD');" >"$SCRIPTS/pgq_send.sql"
fi
if want send; then
    section "send, one message per transaction: pgmsg.send vs INSERT vs pgq.insert_event"
    for c in 1 8 32; do
        if [ "$SEND_OK" = 1 ]; then trio "$c" "$SCRIPTS/send.sql" "$SCRIPTS/insert.sql" "$SCRIPTS/pgq_send.sql"; else P=error; R=error; Q=error; P_RUNS=(); R_RUNS=(); fi
        # pgmsg against raw: the median of the rounds' ratios, each pgmsg
        # run divided by the INSERT run just before it (one client's runs
        # wait on the disk's flush, whose speed drifts between rounds)
        round_median P_RUNS R_RUNS
        t="rounds: ${RR:-none}"; [ "$c" = 32 ] || t="$(tgt "$RM" ">=" 0.90); $t"
        row "send, 1 per transaction, $c client$([ "$c" = 1 ] || echo s) (messages/s)" "$P" "$R" "$Q" "$RM" "$t"
        chart "send $c cl." "$P" "$R" "$Q"
    done
    note "send: \`pgmsg.send('bsend', payload)\` vs \`INSERT INTO bench.ins (visible_at, sent_at, body) VALUES (now(), now(), payload)\` vs \`pgq.insert_event('bqsend', 'bench', payload)\`, one per transaction; bench.ins copies the queue table (columns, identity msg_id, fillfactor, the (visible_at, msg_id) index). Each round runs the INSERT, then PgQ, then pgmsg; the ratio is the median of the rounds' ratios (listed after \"rounds\"), each pgmsg run divided by the INSERT run of its own round."
fi

# ---------------------------------------------------------------------------
if want batch; then
    section "send in batches: send_batch vs INSERT ... SELECT vs insert_event per row"
    for b in 100 1000; do
        echo "SELECT count(*) FROM pgmsg.send_batch('bsend', array_fill('$PAYLOAD'::jsonb, ARRAY[$b]));" >"$SCRIPTS/sendb.sql"
        echo "INSERT INTO bench.ins (visible_at, sent_at, body) SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $b);" >"$SCRIPTS/insertb.sql"
        echo "SELECT count(pgq.insert_event('bqsend', 'bench', '$PAYLOAD')) FROM generate_series(1, $b);" >"$SCRIPTS/pgq_sendb.sql"
        if [ "$SEND_OK" = 1 ]; then trio 1 "$SCRIPTS/sendb.sql" "$SCRIPTS/insertb.sql" "$SCRIPTS/pgq_sendb.sql"; else P=error; R=error; Q=error; fi
        r=$(ratio "$P" "$R")
        times "$b" P R Q
        row "send in batches of $b, 1 client (messages/s)" "$P" "$R" "$Q" "$r" "-"
        chart "batch $b" "$P" "$R" "$Q"
    done
    note "Batches: \`pgmsg.send_batch('bsend', array of N payloads)\` vs \`INSERT INTO bench.ins ... SELECT ... FROM generate_series(1, N)\` vs \`SELECT count(pgq.insert_event('bqsend', 'bench', payload)) FROM generate_series(1, N)\` (PgQ has no batch insert function of its own), one batch per transaction."
fi

# ---------------------------------------------------------------------------
# The consumer loop.  Before every run the queue, the raw table and the PgQ
# queue are topped up to the same number of messages and vacuumed, so each
# run starts from the same state.
LOOP_OK=0
if want loop; then
    # The runs of a round follow each other on the same cores, each leaving
    # thousands of dead rows in its own table; autovacuum would clean them up
    # during whichever run came next.  So the loop's tables are vacuumed by
    # hand before every round (top_up_loop, fill_pdel) and autovacuum is off
    # for them: no run pays for the one before it.
    { psql_c "SELECT pgmsg.create_queue('bloop', visibility_timeout => '1 hour')" >/dev/null &&
      raw_table del bloop && psql_c "ALTER TABLE bench.del ADD PRIMARY KEY (msg_id)" >/dev/null &&
      psql_c "ALTER TABLE pgmsg.q_bloop SET (autovacuum_enabled = off);
              ALTER TABLE bench.del SET (autovacuum_enabled = off)" >/dev/null &&
      pgq_queue bqloop 1; } && LOOP_OK=1
    PGQ_BATCHES=0   # batches that the next PgQ run consumes
    top_up_loop() {
        local have
        have=$(psql_c "SELECT count(*) FROM pgmsg.q_bloop") || return 1
        [ "$have" -lt "$LOOP_ROWS" ] && { load_queue bloop $((LOOP_ROWS - have)) || return 1; }
        psql_c "INSERT INTO bench.del (visible_at, sent_at, body)
                    SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $LOOP_ROWS - (SELECT count(*) FROM bench.del))" >/dev/null &&
        psql_c "VACUUM ANALYZE pgmsg.q_bloop, bench.del" >/dev/null || return 1
        [ "$PGQ_BATCHES" = 0 ] || load_pgq bqloop "$PGQ_BATCHES" 100
    }

    section "receive/delete loop, one message per transaction: receive(1), then delete"
    cat >"$SCRIPTS/loop.sql" <<'EOF'
SELECT receipt FROM pgmsg.receive('bloop', 1) \gset
SELECT pgmsg.delete('bloop', :receipt);
EOF
    { raw_receive del 1; echo "SELECT msg_id AS id FROM u \\gset"
      echo "DELETE FROM bench.del WHERE msg_id = :id;"; } >"$SCRIPTS/rloop.sql"
    # pgmsg's delete commits without waiting for the WAL flush (an
    # acknowledgement lost in a crash redelivers the message, which the
    # visibility timeout allows anyway), so the baselines of plain DELETEs
    # commit the same way: synchronous_commit = off for their sessions.
    NOFLUSH_DB="dbname=postgres options=-csynchronous_commit=off"
    # The plain baseline: a commit loop of "DELETE ... WHERE msg_id = $1"
    # alone, over a table as big, each client deleting its own ids in turn
    # (pgbench keeps :n per client from one transaction to the next).
    cat >"$SCRIPTS/pdel.sql" <<'EOF'
\set n :n + 1
\set id :base + :n * :nc + :client_id
DELETE FROM bench.pdel WHERE msg_id = :id;
EOF
    # The floor of any consumer loop with two round trips: the same DELETE
    # preceded by a statement that does no work (a receive that cost
    # nothing would still cost this round trip).
    cat >"$SCRIPTS/pfloor.sql" <<'EOF'
\set n :n + 1
\set id :base + :n * :nc + :client_id
SELECT :id AS id \gset
DELETE FROM bench.pdel WHERE msg_id = :id;
EOF
    psql_c "CREATE TABLE bench.pdel (LIKE bench.del INCLUDING ALL) WITH (autovacuum_enabled = off)" >/dev/null || LOOP_OK=0
    # fill_pdel: bench.pdel refilled to LOOP_ROWS rows and vacuumed; its
    # first msg_id goes to PD_BASE
    fill_pdel() {
        psql_c "TRUNCATE bench.pdel;
                INSERT INTO bench.pdel (visible_at, sent_at, body)
                    SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $LOOP_ROWS)" >/dev/null &&
            psql_c "VACUUM ANALYZE bench.pdel" >/dev/null &&
            PD_BASE=$(psql_c "SELECT min(msg_id) FROM bench.pdel")
    }
    # pdel_lasted: whether the run just made left every client's last id in
    # bench.pdel, that is whether no client ran out of rows and went on
    # deleting nothing (cheaper than deleting) for the rest of the run.
    pdel_lasted() {
        local left
        left=$(psql_c "SELECT count(*) FROM bench.pdel
                        WHERE msg_id >= $PD_BASE + $LOOP_ROWS - $LOOP_C") || return 1
        [ "$left" = "$LOOP_C" ] && return 0
        echo "a DELETE by id run at $LOOP_C client(s) ran out of its $LOOP_ROWS rows: raise LOOP_ROWS" >&2
        return 1
    }
    # loop_round: before each round of the consumer loop's runs, top the
    # queue and bench.del up, then run the plain baseline and the floor once
    # each at LOOP_C clients, each on a refilled bench.pdel, so that their
    # runs are interleaved with the others'.  Their TPS go to PD_VALS and
    # FL_VALS.
    loop_round() {
        top_up_loop && fill_pdel || return 1
        if PGB_DB=$NOFLUSH_DB pgb "$LOOP_C" "$SCRIPTS/pdel.sql" -D n=-1 -D nc="$LOOP_C" -D base="$PD_BASE" &&
            pdel_lasted; then
            PD_VALS+=("$(tps_of)")
            echo "    plain DELETE by id, $LOOP_C client(s): ${PD_VALS[-1]} tps"
        else
            PD_ERR=1
        fi
        fill_pdel || return 1
        if PGB_DB=$NOFLUSH_DB pgb "$LOOP_C" "$SCRIPTS/pfloor.sql" -D n=-1 -D nc="$LOOP_C" -D base="$PD_BASE" &&
            pdel_lasted; then
            FL_VALS+=("$(tps_of)")
            echo "    empty round trip, then DELETE by id, $LOOP_C client(s): ${FL_VALS[-1]} tps"
        else
            PD_ERR=1
        fi
    }
    PAIR_R=1
    LOOP_LAT=()
    for c in 1 8; do
        D=error; F=error; PD_VALS=(); FL_VALS=(); PD_ERR=0; LOOP_C=$c
        if [ "$LOOP_OK" = 1 ]; then
            trio "$c" "$SCRIPTS/loop.sql" "$SCRIPTS/rloop.sql" "" loop_round
            [ "$PD_ERR" = 0 ] && [ "${#PD_VALS[@]}" -gt 0 ] && D=$(fmt "$(median "${PD_VALS[@]}")" 0)
            [ "$PD_ERR" = 0 ] && [ "${#FL_VALS[@]}" -gt 0 ] && F=$(fmt "$(median "${FL_VALS[@]}")" 0)
        else P=error; R=error; fi
        r=$(ratio "$P" "$R")
        row "receive(1), then delete, $c client$([ "$c" = 1 ] || echo s) (messages/s)" "$P" "$R" "n/a: no per-message ack" "$r" "raw: receive and delete by hand (SKIP LOCKED)"
        # Against the plain DELETE loop and the floor, each pgmsg run is
        # divided by the baseline run of its own round, a few minutes
        # before it, and the ratio is the median of those: the machine's
        # speed drifts between rounds more than the gap being measured.
        [ "$PD_ERR" = 0 ] || { PD_VALS=(); FL_VALS=(); }
        round_median P_RUNS PD_VALS
        row "receive(1), then delete, $c client$([ "$c" = 1 ] || echo s), against a plain DELETE ... WHERE id = \$1 commit loop (messages/s)" "$P" "$D" "n/a" "$RM" "$(tgt "$RM" ">=" 0.90); rounds: ${RR:-none}; the floor below: $(ratio "$F" "$D")"
        round_median P_RUNS FL_VALS
        row "receive(1), then delete, $c client$([ "$c" = 1 ] || echo s), against the floor: an empty round trip, then the same DELETE (messages/s)" "$P" "$F" "n/a" "$RM" "$(tgt "$RM" ">=" 0.97); rounds: ${RR:-none}"
        chart "loop 1/tx $c cl." "$P" "$R" "n/a"
        isnum "$P" && isnum "$R" &&
            LOOP_LAT+=("$c client(s): pgmsg receive ${P1:-?} ms + delete ${P2:-?} ms, raw receive ${R1:-?} ms + delete ${R2:-?} ms")
    done
    PAIR_R=0
    note "Consumer loop, one message per transaction: pgmsg runs \`SELECT receipt FROM pgmsg.receive('bloop', 1) \\gset\` then \`SELECT pgmsg.delete('bloop', :receipt)\`, two transactions per message. The raw side does the same work by hand, as queues built on SKIP LOCKED do: \`WITH c AS (SELECT msg_id FROM bench.del WHERE visible_at <= now() ORDER BY visible_at, msg_id LIMIT 1 FOR UPDATE SKIP LOCKED), u AS (UPDATE bench.del t SET visible_at = now() + interval '1 hour', receive_count = t.receive_count + 1 FROM c WHERE t.msg_id = c.msg_id RETURNING t.msg_id) SELECT msg_id AS id FROM u \\gset\`, then \`DELETE FROM bench.del WHERE msg_id = :id\` (bench.del copies the queue table plus a primary key on msg_id). Both start every run with $LOOP_ROWS messages, freshly vacuumed; the loop's tables are vacuumed by hand and have autovacuum off, so that no run pays for the dead rows the run before it left in its own table. The second row's baseline does less work than a consumer: a commit loop of \`DELETE FROM bench.pdel WHERE msg_id = :id\` alone, one round trip and one commit per message where the consumer loop has two round trips (the receive commits without writing WAL or waiting for a flush), over a table of $LOOP_ROWS rows shaped like bench.del, each client deleting its own ids, committing with synchronous_commit = off as pgmsg's delete does (an acknowledgement needs no flush: one lost in a crash redelivers the message); one of its runs opens each round of the pgmsg and raw runs. The third row's baseline is the floor of every consumer loop with two round trips: the same DELETE loop with \`SELECT :id AS id \\gset\` before each DELETE, a statement that does no work, as a receive would that cost nothing but its round trip; one of its runs follows each plain DELETE run, on a refilled table. In these two rows the ratio is the median of the rounds' ratios, each pgmsg run divided by the baseline run of its own round (listed after \"rounds\"), not the ratio of the medians: the machine's speed drifts between rounds. Average statement latencies (pgbench -r): $(printf '%s; ' "${LOOP_LAT[@]:-no run}" | sed 's/; $//'). PgQ: n/a, it has no receive of one message, no per-message delete and no visibility timeout; a consumer acknowledges whole batches."

    section "receive/delete loop in batches of 100: receive(100), then delete the 100"
    cat >"$SCRIPTS/loopb.sql" <<'EOF'
SELECT coalesce(array_agg(receipt), '{}') AS r FROM pgmsg.receive('bloop', 100) \gset
SELECT pgmsg.delete('bloop', :r::text[]);
EOF
    { raw_receive del 100; echo "SELECT coalesce(array_agg(msg_id), '{}') AS ids FROM u \\gset"
      echo "DELETE FROM bench.del WHERE msg_id = ANY (:ids::bigint[]);"; } >"$SCRIPTS/rloopb.sql"
    cat >"$SCRIPTS/pgq_loopb.sql" <<'EOF'
SELECT pgq.next_batch('bqloop', 'bench') AS b \gset
SELECT count(*) FROM pgq.get_batch_events(:b);
SELECT pgq.finish_batch(:b);
EOF
    # At some 100,000 messages a second a timed run would drain its table:
    # each run is a fixed count, three quarters of the LOOP_ROWS messages.
    PGQ_BATCHES=$(( LOOP_ROWS * 3 / 4 / 100 ))
    PGB_LIMIT=(-t "$PGQ_BATCHES")
    if [ "$LOOP_OK" = 1 ]; then trio 1 "$SCRIPTS/loopb.sql" "$SCRIPTS/rloopb.sql" "$SCRIPTS/pgq_loopb.sql" top_up_loop; else P=error; R=error; Q=error; fi
    PGB_LIMIT=()
    r=$(ratio "$P" "$R")
    times 100 P R Q
    row "receive 100, then delete them, 1 client (messages/s)" "$P" "$R" "$Q" "$r" "-"
    chart "loop 100/tx" "$P" "$R" "$Q"
    note "Consumer loop in batches of 100: pgmsg runs \`SELECT coalesce(array_agg(receipt), '{}') AS r FROM pgmsg.receive('bloop', 100) \\gset\` then \`SELECT pgmsg.delete('bloop', :r::text[])\`; raw the same SKIP LOCKED receive with LIMIT 100 then \`DELETE ... WHERE msg_id = ANY (:ids::bigint[])\`; PgQ \`pgq.next_batch\` + \`pgq.get_batch_events\` in one transaction, \`pgq.finish_batch\` in the next, on a queue loaded with a tick after every 100 events so that its batches hold 100 events (PgQ acknowledges the batch as a whole and deletes nothing: its event tables are truncated in rotation). Each run is $PGQ_BATCHES batches from $LOOP_ROWS messages rather than a timed run."
    PGQ_BATCHES=0
fi

# ---------------------------------------------------------------------------
if want publish; then
    section "publish to a topic with 1 subscription and with 10 (5 matching), compared to send"
    if [ "$HAVE_PUBLISH" = 0 ]; then
        echo "    pgmsg.publish does not exist in this build: publish rows unavailable"
        for n in 1 10; do
            row "publish, $n subscription$([ "$n" = 1 ] || echo "s"), 8 clients (messages/s)" "unavailable" "-" "-" "-" "pgmsg.publish is not in this build"
        done
    else
        # Filter policies on MessageAttributes: the first five match the
        # published attributes, the last five do not.
        POLICIES=(
            '{"kind": ["order"]}'
            '{"kind": [{"prefix": "ord"}]}'
            '{"qty": [{"numeric": [">", 0]}]}'
            '{"region": [{"anything-but": ["eu"]}]}'
            '{"kind": ["order", "refund"], "qty": [{"numeric": [">=", 1, "<", 100]}]}'
            '{"kind": ["refund"]}'
            '{"kind": [{"prefix": "ref"}]}'
            '{"qty": [{"numeric": [">", 100]}]}'
            '{"region": ["eu"]}'
            '{"kind": ["order"], "region": ["eu"]}'
        )
        PUB_OK=0
        setup_publish() {
            local i
            psql_c "SELECT pgmsg.create_topic('btopic1'); SELECT pgmsg.create_queue('bpub1');
                    SELECT pgmsg.subscribe('btopic1', 'bpub1');
                    SELECT pgmsg.create_topic('btopic10');" >/dev/null || return 1
            raw_table pub1 bpub1 || return 1
            for i in "${!POLICIES[@]}"; do
                psql_c "SELECT pgmsg.create_queue('bpub10_$i');
                        SELECT pgmsg.subscribe('btopic10', 'bpub10_$i', '${POLICIES[$i]}', 'MessageAttributes', true);" >/dev/null || return 1
                [ "$i" -lt 5 ] && { raw_table "pub10_$i" "bpub10_$i" || return 1; }
            done
            pgq_queue bqpub
        }
        setup_publish && [ "$SEND_OK" = 1 ] && PUB_OK=1
        # what one publish delivers, in a transaction rolled back
        for n in 1 10; do
            got=$("${PSQL[@]}" -c "BEGIN" -c "SELECT pgmsg.publish('btopic$n', '$PAYLOAD', '$ATTRS')" -c "ROLLBACK" 2>&1) || PUB_OK=0
            echo "    one publish to btopic$n delivers $got cop$([ "$got" = 1 ] && echo y || echo ies)"
            want_n=1; [ "$n" = 10 ] && want_n=5
            [ "$got" = "$want_n" ] || { echo "    expected $want_n" >&2; PUB_OK=0; }
        done
        echo "SELECT pgmsg.publish('btopic1', '$PAYLOAD', '$ATTRS');" >"$SCRIPTS/pub1.sql"
        echo "INSERT INTO bench.pub1 (visible_at, sent_at, body, attributes) VALUES (now(), now(), '$PAYLOAD', '$ATTRS');" >"$SCRIPTS/rpub1.sql"
        echo "SELECT pgq.insert_event('bqpub', 'bench', '$PAYLOAD');" >"$SCRIPTS/pgq_pub1.sql"
        echo "SELECT pgmsg.publish('btopic10', '$PAYLOAD', '$ATTRS');" >"$SCRIPTS/pub10.sql"
        {
            for i in 0 1 2 3; do
                echo "$([ "$i" = 0 ] && echo WITH || echo ,) i$i AS (INSERT INTO bench.pub10_$i (visible_at, sent_at, body, attributes) VALUES (now(), now(), '$PAYLOAD', '$ATTRS'))"
            done
            echo "INSERT INTO bench.pub10_4 (visible_at, sent_at, body, attributes) VALUES (now(), now(), '$PAYLOAD', '$ATTRS');"
        } >"$SCRIPTS/rpub10.sql"
        # A send at 8 clients opens each round of publish runs: a row's
        # publish / send divides by the median of the sends of its own rounds,
        # taken under the load its publish runs had, not by the send row's,
        # taken many minutes earlier.
        send_beside() {
            local t
            pgb 8 "$SCRIPTS/send.sql" && t=$(tps_of) && isnum "$t" && SEND_BESIDE+=("$t")
            return 0
        }
        for n in 1 10; do
            SEND_BESIDE=()
            if [ "$PUB_OK" = 1 ]; then
                if [ "$n" = 1 ]; then trio 8 "$SCRIPTS/pub1.sql" "$SCRIPTS/rpub1.sql" "$SCRIPTS/pgq_pub1.sql" send_beside
                else trio 8 "$SCRIPTS/pub10.sql" "$SCRIPTS/rpub10.sql" "" send_beside; Q="n/a: no filter policies"; fi
            else P=error; R=error; Q=error; fi
            SB=-; [ "${#SEND_BESIDE[@]}" -gt 0 ] && SB=$(fmt "$(median "${SEND_BESIDE[@]}")" 0)
            r=$(ratio "$P" "$R")
            rs=$(ratio "$P" "$SB")
            if [ "$n" = 1 ]; then
                t="publish / send (8 clients, send beside it $SB) = $rs, $(tgt "$rs" ">=" 0.85)"
            else
                t="one publish costs $(ratio "$SB" "$P") sends (8 clients, send beside it $SB), $(tgt "$(ratio "$SB" "$P")" "<=" 6)"
            fi
            row "publish, $n subscription$([ "$n" = 1 ] || echo "s (5 match)"), 8 clients (messages/s)" "$P" "$R" "$Q" "$r" "$t"
            chart "publish $n sub" "$P" "$R" "$Q"
        done
        note "Publish: \`pgmsg.publish(topic, payload, '$ATTRS')\`, one per transaction, 8 clients, raw message delivery. With 1 subscription (no filter policy) the raw side INSERTs the message into one table shaped like a queue's and PgQ inserts one event into a queue with one consumer. With 10 subscriptions whose filter policies (on the message attributes) match for 5, the raw side INSERTs into the 5 matching tables in one statement: it evaluates no policy, the application is assumed to know where each message goes. PgQ: n/a, it has no filter policies or per-subscriber copies; every consumer reads the one event log and filters for itself. The publish / send figures divide by a send at 8 clients (\`pgmsg.send\` without attributes, the send row's script) run beside them: one send run opens each round of a row's runs, and the row divides by the median of its own $RUNS, so that publish and send are taken under the same load (the send row itself is measured minutes earlier, when the machine's load may differ). Policies: $(printf "\`%s\` " "${POLICIES[@]}")(the first five match)."
    fi
fi

# ---------------------------------------------------------------------------
if want policy; then
    section "filter policy evaluation alone: a 3-key policy against 1,000,000 attribute sets"
    # One backend, no parallel workers: the time of a scan that evaluates the
    # policy for every row, less the time of the same scan without it.  The
    # policy is compiled once (pgmsg.filter_matches keeps it between calls),
    # as a subscription's is; about a third of the rows match.
    EVAL_POLICY='{"kind": ["order", "refund"], "qty": [{"numeric": [">=", 1, "<", 100]}], "region": [{"anything-but": ["eu"]}]}'
    EVAL_ROWS=1000000
    EVAL_RUNS=$(( RUNS < 3 ? 3 : RUNS ))
    POLICY_OK=0
    psql_c "CREATE TABLE bench.attrs AS
              SELECT jsonb_build_object('kind', (ARRAY['order', 'refund', 'other'])[1 + i % 3],
                                        'qty', i % 150,
                                        'region', (ARRAY['us', 'eu', 'ap', 'sa'])[1 + i % 4]) AS a
                FROM generate_series(1, $EVAL_ROWS) i" >/dev/null &&
        psql_c "VACUUM ANALYZE bench.attrs" >/dev/null && POLICY_OK=1
    eval_try() {
        "${PSQL[@]}" <<EOF | tail -n 1
SET max_parallel_workers_per_gather = 0;
SELECT count(*) FROM bench.attrs;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FILTER (WHERE a IS NOT NULL) FROM bench.attrs;
SELECT clock_timestamp() AS t1 \gset
SELECT count(*) FILTER (WHERE pgmsg.filter_matches('$EVAL_POLICY', a)) AS matched FROM bench.attrs \gset
SELECT clock_timestamp() AS t2 \gset
SELECT round($EVAL_ROWS / extract(epoch FROM (:'t2'::timestamptz - :'t1'::timestamptz)
                                        - (:'t1'::timestamptz - :'t0'::timestamptz)))
       || ' ' || :matched;
EOF
    }
    vals=(); v=error
    if [ "$POLICY_OK" = 1 ]; then
        for i in $(seq "$EVAL_RUNS"); do
            out=$(eval_try) || { vals=(); break; }
            echo "    run $i: ${out% *} evaluations/s, ${out#* } of $EVAL_ROWS matched"
            vals+=("${out% *}")
        done
        [ "${#vals[@]}" -gt 0 ] && v=$(median "${vals[@]}")
    fi
    row "filter policy evaluation, 3 keys, 1 core (evaluations/s)" "$v" "-" "n/a: no filter policies" "-" "$(tgt "$v" ">=" 1000000)"
    note "Policy evaluation: \`SELECT count(*) FILTER (WHERE pgmsg.filter_matches(policy, a)) FROM bench.attrs\` over $EVAL_ROWS attribute sets such as \`{\"kind\": \"order\", \"qty\": 3, \"region\": \"us\"}\`, less the time of the same scan with \`a IS NOT NULL\` in place of the policy, in one backend without parallel workers; the median of $EVAL_RUNS runs. The policy, \`$EVAL_POLICY\`, is compiled once and kept between calls, as a subscription's is; the figure includes a SQL function call per row, which publish does not pay."
fi

# ---------------------------------------------------------------------------
if want backlog; then
    section "backlog: receive(1) + delete at $SMALL pending vs $BIG pending with $DEAD dead at the head"
    # Each side runs: receive one message and delete it in one statement (one
    # transaction), then a send in the next, which keeps the size.  The figure
    # is the average latency of the first statement (pgbench -r), one client.
    # Autovacuum is off for the big tables, so the dead rows at their head
    # only grow during the runs.
    BACKLOG_OK=0
    setup_backlog() {
        psql_c "SELECT pgmsg.create_queue('bbig', visibility_timeout => '1 hour');
                SELECT pgmsg.create_queue('bsmall', visibility_timeout => '1 hour');
                ALTER TABLE pgmsg.q_bbig SET (autovacuum_enabled = off);" >/dev/null || return 1
        raw_table rbig bbig && raw_table rsmall bsmall || return 1
        psql_c "ALTER TABLE bench.rbig ADD PRIMARY KEY (msg_id); ALTER TABLE bench.rsmall ADD PRIMARY KEY (msg_id);
                ALTER TABLE bench.rbig SET (autovacuum_enabled = off);" >/dev/null || return 1
        echo "    loading $((BIG + DEAD)) messages into a queue and into a table, side by side"
        psql_c "INSERT INTO bench.rbig (visible_at, sent_at, body) SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $((BIG + DEAD)));
                INSERT INTO bench.rsmall (visible_at, sent_at, body) SELECT now(), now(), '$PAYLOAD' FROM generate_series(1, $SMALL);
                DELETE FROM bench.rbig WHERE msg_id <= $DEAD;" >/dev/null &
        local raw_load=$!
        BGPIDS+=("$raw_load")
        if ! load_queue bbig $((BIG + DEAD)) || ! load_queue bsmall "$SMALL"; then wait "$raw_load"; return 1; fi
        for _ in $(seq $((DEAD / 1000))); do
            echo "SELECT pgmsg.delete('bbig', array_agg(receipt)) FROM pgmsg.receive('bbig', 1000);"
        done >"$SCRIPTS/kill_head.sql"
        psql_f "$SCRIPTS/kill_head.sql" >/dev/null || { wait "$raw_load"; return 1; }
        wait "$raw_load" || return 1
        psql_c "ANALYZE pgmsg.q_bbig, bench.rbig" >/dev/null && psql_c "VACUUM ANALYZE pgmsg.q_bsmall, bench.rsmall" >/dev/null
    }
    setup_backlog && BACKLOG_OK=1
    dead_rows() {  # dead tuples of a table, as the statistics count them
        sleep 1    # let the last backends' statistics arrive
        psql_c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = '$1'::regclass" 2>/dev/null || echo "?"
    }
    for q in bbig bsmall; do
        printf '%s\n' "SELECT pgmsg.delete('$q', receipt) FROM pgmsg.receive('$q', 1);" \
            "SELECT pgmsg.send('$q', '$PAYLOAD');" >"$SCRIPTS/$q.sql"
    done
    for t in rbig rsmall; do
        printf '%s\n' "WITH c AS (SELECT msg_id FROM bench.$t WHERE visible_at <= now() ORDER BY visible_at, msg_id LIMIT 1 FOR UPDATE SKIP LOCKED) DELETE FROM bench.$t d USING c WHERE d.msg_id = c.msg_id;" \
            "INSERT INTO bench.$t (visible_at, sent_at, body) VALUES (now(), now(), '$PAYLOAD');" >"$SCRIPTS/$t.sql"
    done
    if [ "$BACKLOG_OK" = 1 ]; then
        DEAD_START="$(dead_rows pgmsg.q_bbig) / $(dead_rows bench.rbig)"
        declare -A LAT=()
        err=0
        for i in $(seq "$RUNS"); do
            for s in rsmall bsmall rbig bbig; do
                v=error
                if pgb 1 "$SCRIPTS/$s.sql" -r -T "$BACKLOG_SECS"; then v=$(stmt_latency_of 1); fi
                isnum "$v" || err=1
                LAT[$s]="${LAT[$s]:-} $v"
            done
            echo "    run $i: pgmsg ${LAT[bsmall]##* } / ${LAT[bbig]##* } ms, raw ${LAT[rsmall]##* } / ${LAT[rbig]##* } ms (small / big)"
        done
        DEAD_END="$(dead_rows pgmsg.q_bbig) / $(dead_rows bench.rbig)"
        if [ "$err" = 0 ]; then
            declare -A M=()
            for s in rsmall bsmall rbig bbig; do
                # shellcheck disable=SC2086
                M[$s]=$(fmt "$(median ${LAT[$s]})" 3)
            done
            M_bsmall=${M[bsmall]}; M_rsmall=${M[rsmall]}; M_bbig=${M[bbig]}; M_rbig=${M[rbig]}
            row "receive(1) + delete latency, $SMALL pending (ms)" "$M_bsmall" "$M_rsmall" "n/a" "$(ratio "$M_bsmall" "$M_rsmall")" "lower is better"
            row "receive(1) + delete latency, $BIG pending + $DEAD dead at the head (ms)" "$M_bbig" "$M_rbig" "n/a" "$(ratio "$M_bbig" "$M_rbig")" "lower is better"
            rp=$(ratio "$M_bbig" "$M_bsmall"); rr=$(ratio "$M_rbig" "$M_rsmall")
            row "backlog slowdown: latency at $BIG / at $SMALL" "$rp" "$rr" "n/a" "-" "pgmsg $(tgt "$rp" "<=" 1.5)"
        else
            row "receive(1) + delete latency, $BIG pending + $DEAD dead at the head (ms)" error error n/a - "≤ 1.5"
        fi
        note "Backlog: pgmsg runs \`SELECT pgmsg.delete(q, receipt) FROM pgmsg.receive(q, 1)\`, raw \`WITH c AS (SELECT msg_id ... ORDER BY visible_at, msg_id LIMIT 1 FOR UPDATE SKIP LOCKED) DELETE ... USING c\`, each followed by a send (INSERT) that keeps the size; the latency is pgbench's per-statement average of the first. The big queue and the big table had $DEAD messages received and deleted at their head and autovacuum off (dead tuples counted by the statistics, pgmsg / raw: $DEAD_START before the runs, $DEAD_END after). PgQ: n/a, it has no receive of one message: a consumer gets whatever lies between two ticks."
    else
        row "receive(1) + delete latency, $BIG pending + $DEAD dead at the head (ms)" error error n/a - "≤ 1.5"
    fi
fi

# ---------------------------------------------------------------------------
if want latency; then
    section "wakeup latency, COMMIT to a waiting consumer getting the message"
    latency() {
        local node_dir=$WORK/node out p50 p99 c mode n
        mkdir -p "$node_dir"
        cp "$REPO_ROOT/bench/latency.js" "$node_dir/"
        (cd "$node_dir" && npm install --silent --no-audit --no-fund pg@8 >/dev/null 2>&1) || return 1
        chown -R postgres:postgres "$node_dir"
        pgqd_start || { echo "pgqd did not start" >&2; return 1; }
        declare -A res=() r50=() r99=()
        for mode in notify pgmsg raw pgq; do
            for c in 1 8; do
                [ "$mode" = pgq ] && [ "$c" != 1 ] && continue
                n=$LAT_MSGS; [ "$mode" = pgq ] && n=$PGQ_LAT_MSGS
                if out=$(cd "$node_dir" && as_postgres node "$node_dir/latency.js" \
                            "postgresql:///postgres?host=$WORK&port=$PORT" "$mode" "$c" "$n"); then
                    p50=$(printf '%s' "$out" | sed 's/.*"p50_ms":\([0-9.]*\).*/\1/')
                    p99=$(printf '%s' "$out" | sed 's/.*"p99_ms":\([0-9.]*\).*/\1/')
                    res[$mode$c]="$p50 / $p99"; r50[$mode$c]=$p50; r99[$mode$c]=$p99
                else
                    res[$mode$c]=error
                fi
            done
        done
        row "wakeup latency p50 / p99, 1 waiting consumer (ms)" "${res[pgmsg1]}" "${res[raw1]}" "${res[pgq1]}" "-" "-"
        row "wakeup latency p50 / p99, 8 waiting consumers (ms)" "${res[pgmsg8]}" "${res[raw8]}" "n/a: one consumer per subscription" "-" "-"
        for c in 1 8; do
            p=$(ratio "${r50[pgmsg$c]:-}" "${r50[notify$c]:-}"); q=$(ratio "${r99[pgmsg$c]:-}" "${r99[notify$c]:-}")
            row "wakeup latency p50 / p99, $c waiting consumer$([ "$c" = 1 ] || echo s), against LISTEN/NOTIFY and one trivial query (ms)" \
                "${res[pgmsg$c]}" "${res[notify$c]}" "-" "$p / $q" "p50 $(tgt "$p" "<=" 1.0), p99 $(tgt "$q" "<=" 1.5)"
        done
        note "Wakeup latency: from the publisher sending COMMIT (consumers are woken during the commit, often before the publisher hears it is done; the publisher commits with synchronous_commit = off so that the disk's flush is not part of the figure) to the consumer having the message, measured by one client process (\`bench/latency.js\`), $LAT_MSGS messages one after another. pgmsg: a long-polling \`pgmsg.receive(q, 1, wait => '2 seconds')\`. The time is taken when the receive's result arrives; the consumer deletes the message after that, before the next message is sent. The floor of any wakeup through PostgreSQL (the rows against LISTEN/NOTIFY): consumers LISTEN, the publisher INSERTs a row (so that its commit flushes WAL as a send does) and runs \`pg_notify\` in one transaction, and a woken consumer runs \`SELECT 1\` before it counts as having the message (all 8 listeners are woken, the first to finish counts); the ratio is pgmsg's p50 / the floor's p50 and p99 / p99. Raw: the same by hand with LISTEN/NOTIFY: the publisher INSERTs and NOTIFYs in one transaction, a woken consumer takes the row with \`DELETE ... WHERE msg_id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING body\`. PgQ: its latency is the ticker's; pgqd runs the ticker once a second (its default ticker_period) and the queue's ticker_max_lag is set to 0 so that every round with a new event makes a tick (with PgQ's default of 3 seconds a trickle of events waits up to 3 s); one consumer polls \`pgq.next_batch\` every 10 ms, and $PGQ_LAT_MSGS events are sent at random phases of the ticker period. PgQ gives each consumer name every event, so 8 waiting consumers of one subscription is not a PgQ setup."
    }
    latency || row "wakeup latency (ms)" error error error "-" "-"
fi

# ---------------------------------------------------------------------------
# More pgmsg figures, without a raw or PgQ counterpart.

if want fifo; then
    section "FIFO: receive(1) + delete, 8 clients, 100 groups, vs a standard queue"
    # Both queues are filled to FIFO_SIZE before every run, so that neither
    # runs dry (a receive of an empty queue is a cheaper transaction than one
    # that gets a message); a queue found empty after a run is reported.
    FIFO_DRY=0
    fifo_dry_check() {
        local q
        for q in bfifo bstd; do
            [ "$(psql_c "SELECT count(*) FROM pgmsg.q_$q")" != 0 ] || FIFO_DRY=1
        done
    }
    fifo_fill() {
        local q
        [ "${FIFO_FILLED:-0}" = 0 ] || fifo_dry_check
        for q in bfifo bstd; do
            psql_c "SELECT pgmsg.purge_queue('$q')" >/dev/null || return 1
        done
        load_queue bfifo "$FIFO_SIZE" ", group_ids => (SELECT array_agg('g' || (g % 100)) FROM generate_series(1, 1000) g)" &&
            load_queue bstd "$FIFO_SIZE" &&
            psql_c "VACUUM ANALYZE pgmsg.q_bfifo, pgmsg.q_bstd" >/dev/null || return 1
        FIFO_FILLED=1
    }
    FIFO_OK=1
    # refilled and vacuumed before every round, as the loop's tables are,
    # with autovacuum off: the FIFO run does not pay for the standard one's
    psql_c "SELECT pgmsg.create_queue('bfifo', fifo => true, visibility_timeout => '1 hour');
            SELECT pgmsg.create_queue('bstd', visibility_timeout => '1 hour');
            ALTER TABLE pgmsg.q_bfifo SET (autovacuum_enabled = off);
            ALTER TABLE pgmsg.q_bstd SET (autovacuum_enabled = off);" >/dev/null || FIFO_OK=0
    for q in bfifo bstd; do
        echo "SELECT pgmsg.delete('$q', receipt) FROM pgmsg.receive('$q', 1);" >"$SCRIPTS/c_$q.sql"
    done
    # the standard queue stands in the raw column here
    if [ "$FIFO_OK" = 1 ]; then trio 8 "$SCRIPTS/c_bfifo.sql" "$SCRIPTS/c_bstd.sql" "" fifo_fill; else P=error; R=error; fi
    [ "$FIFO_OK" = 1 ] && fifo_dry_check
    r=$(ratio "$P" "$R")
    dry=; [ "$FIFO_DRY" = 0 ] || dry="; a queue ran dry during a run: raise FIFO_SIZE"
    row "FIFO receive(1) + delete, 8 clients, 100 groups (messages/s)" "$P" "$R (pgmsg standard queue)" "-" "$r" "$(tgt "$r" ">=" 0.95)$dry"
fi

if want redrive; then
    section "start_redrive of $REDRIVE_SIZE while producers run"
    redrive() {
        local task longest=0 x deadline producers
        psql_c "SELECT pgmsg.create_queue('bdlq');
                SELECT pgmsg.create_queue('bsrc', visibility_timeout => '0', dead_letter_queue => 'bdlq', max_receive_count => 1);
                SELECT pgmsg.create_queue('bprod');" >/dev/null || return 1
        load_queue bsrc "$REDRIVE_SIZE" || return 1
        deadline=$((SECONDS + 300))
        while [ "$(psql_c "SELECT count(*) FROM pgmsg.q_bsrc")" != 0 ]; do
            psql_c "SELECT count(*) FROM pgmsg.receive('bsrc', 1000)" >/dev/null || return 1
            [ "$SECONDS" -lt "$deadline" ] || { echo "bsrc did not drain to its dead-letter queue" >&2; return 1; }
        done
        echo "SELECT pgmsg.send('bprod', '$PAYLOAD');" >"$SCRIPTS/producer.sql"
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
        row "start_redrive of $REDRIVE_SIZE with producers running (messages/s)" "${x#* }" "-" "-" "-" "-"
        row "longest transaction the redrive held (ms, sampled)" "$longest" "-" "-" "-" "-"
    }
    redrive || row "start_redrive of $REDRIVE_SIZE with producers running (messages/s)" error "-" "-" "-" "-"
fi

if want idle; then
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
        row "CPU of $(wc -w <<<"$pids") waiting receives together (% of a core)" "$(ratio "$(( (w1 - w0) * 100 ))" "$(( hz * IDLE_SECS ))")" "-" "-" "-" "< 2"
        row "CPU of an idle worker with 100 idle queues (% of a core)" "$(ratio "$(( (k1 - k0) * 100 ))" "$(( hz * IDLE_SECS ))")" "-" "-" "-" "< 1"
    }
    idle || row "idle CPU (% of a core)" error "-" "-" "-" "-"
fi

# ---------------------------------------------------------------------------
# The sustained run.  For each system: producers (4 clients, one send per
# transaction) and consumers running together, first at full speed to measure
# the peak rate, then for a long run with the producers held to SUS_LOAD% of
# that peak (pgbench -R).  A sampler records, every SAMPLE_SECS, the messages
# sent and consumed so far, the table + index size and the dead tuples.
SUS_SUMMARY=()
SUS_VERDICT=
if want sustained; then
    section "sustained: producers and consumers together at $SUS_LOAD% of the measured peak"
    if [ "$SUS_OTHER_SECS" -gt 0 ]; then
        pgqd_start || echo "pgqd did not start: PgQ sustained figures will be missing" >&2
    fi
    ROTATE=$(( SUS_OTHER_SECS / 3 > 10 ? SUS_OTHER_SECS / 3 : 10 ))
    # pgmsg consumers long-poll; raw consumers sleep 10 ms when they find
    # nothing; the PgQ consumer (one, PgQ's model) sleeps 100 ms without a batch.
    setup_sustained() {
        psql_c "SELECT pgmsg.create_queue('bsus', visibility_timeout => '1 minute')" >/dev/null || return 1
        raw_table sus bsus && psql_c "ALTER TABLE bench.sus ADD PRIMARY KEY (msg_id)" >/dev/null || return 1
        # PgQ rotates its event tables (TRUNCATE, no vacuum) every
        # rotation_period, 2 hours by default: shortened to fit the run.
        pgq_queue bqsus && psql_c "SELECT pgq.set_queue_config('bqsus', 'rotation_period', '$ROTATE seconds')" >/dev/null
    }
    SUS_OK=0
    setup_sustained && SUS_OK=1
    echo "SELECT pgmsg.send('bsus', '$PAYLOAD');" >"$SCRIPTS/sus_prod_pgmsg.sql"
    echo "INSERT INTO bench.sus (visible_at, sent_at, body) VALUES (now(), now(), '$PAYLOAD');" >"$SCRIPTS/sus_prod_raw.sql"
    echo "SELECT pgq.insert_event('bqsus', 'bench', '$PAYLOAD');" >"$SCRIPTS/sus_prod_pgq.sql"
    cat >"$SCRIPTS/sus_cons_pgmsg.sql" <<'EOF'
SELECT count(*) AS n, coalesce(array_agg(receipt), '{}') AS r FROM pgmsg.receive('bsus', 100, wait => '1 second', batch_window => '20 milliseconds') \gset
\if :n > 0
SELECT pgmsg.delete('bsus', :r::text[]);
\endif
EOF
    { raw_receive sus 100
      echo "SELECT count(*) AS n, coalesce(array_agg(msg_id), '{}') AS ids FROM u \\gset"
      printf '%s\n' '\if :n > 0' 'DELETE FROM bench.sus WHERE msg_id = ANY (:ids::bigint[]);' '\else' '\sleep 10 ms' '\endif'
    } >"$SCRIPTS/sus_cons_raw.sql"
    cat >"$SCRIPTS/sus_cons_pgq.sql" <<'EOF'
SELECT coalesce(pgq.next_batch('bqsus', 'bench'), 0) AS b \gset
\if :b > 0
SELECT count(*) FROM pgq.get_batch_events(:b);
SELECT pgq.finish_batch(:b);
\else
\sleep 100 ms
\endif
EOF
    # sample <system>: "sent consumed bytes dead"
    sample() {
        case "$1" in
            pgmsg) psql_c "SELECT q.sent_total || ' ' || q.deleted_total || ' ' || pg_total_relation_size('pgmsg.q_bsus') || ' ' || s.n_dead_tup
                             FROM pgmsg.queues q, pg_stat_user_tables s WHERE q.name = 'bsus' AND s.relid = 'pgmsg.q_bsus'::regclass" ;;
            raw) psql_c "SELECT n_tup_ins || ' ' || n_tup_del || ' ' || pg_total_relation_size(relid) || ' ' || n_dead_tup
                           FROM pg_stat_user_tables WHERE relid = 'bench.sus'::regclass" ;;
            pgq) psql_c "SELECT pgq.seq_getval(q.queue_event_seq) || ' ' || t.tick_event_seq || ' ' ||
                                (SELECT sum(pg_total_relation_size(i.inhrelid)) || ' ' || sum(coalesce(pg_stat_get_dead_tuples(i.inhrelid), 0))
                                   FROM pg_inherits i WHERE i.inhparent = q.queue_data_pfx::regclass)
                           FROM pgq.queue q JOIN pgq.subscription s ON s.sub_queue = q.queue_id
                           JOIN pgq.tick t ON t.tick_queue = q.queue_id AND t.tick_id = s.sub_last_tick
                          WHERE q.queue_name = 'bqsus'" ;;
        esac
    }
    # drive <system> <seconds> <rate or 0> <file> [<hold at> <hold for>]:
    # producers and consumers for that long, samples into file as "seconds
    # sent consumed bytes dead".  With a hold, a session opens a REPEATABLE
    # READ transaction that many seconds in, takes its snapshot and sits idle
    # in transaction for the hold, and the consumers log their transactions'
    # latencies per second to $WORK/clog_<system>.*; T0 is the start, in
    # seconds since the epoch.
    drive() {
        local sys=$1 secs=$2 rate=$3 file=$4 hold_at=${5:-0} hold_for=${6:-0} cons=4 prod cpid ppid hpid=0 t0 now left s clog=()
        [ "$sys" = pgq ] && cons=1
        # With a rate, a producer transaction already a second late when its
        # turn comes is skipped (-L): after the machine stalls, pgbench would
        # otherwise send the backlog of its schedule at full speed, and the
        # run would no longer be at the rate it reports.
        prod=(-c 4 -j 2); [ "$rate" = 0 ] || prod+=(-R "$rate" -L 1000)
        : >"$file"
        if [ "$hold_for" -gt 0 ]; then
            rm -f "$WORK/clog_$sys".*
            clog=(-l --aggregate-interval=1 --log-prefix="$WORK/clog_$sys")
            { sleep "$hold_at"
              echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"
              echo "SELECT count(*) FROM pg_class;"
              sleep "$hold_for"
              echo "COMMIT;"
            } | "${PSQL[@]}" >/dev/null 2>&1 &
            hpid=$!; BGPIDS+=("$hpid")
        fi
        T0=$(date +%s)
        as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared -T "$secs" -c "$cons" -j "$(( cons < 2 ? cons : 2 ))" \
            "${clog[@]}" -f "$SCRIPTS/sus_cons_$sys.sql" postgres >"$WORK/cons.out" 2>&1 &
        cpid=$!; BGPIDS+=("$cpid")
        as_postgres "$PGBIN/pgbench" -h "$WORK" -p "$PORT" -n -M prepared -T "$secs" "${prod[@]}" \
            -f "$SCRIPTS/sus_prod_$sys.sql" postgres >"$WORK/prod.out" 2>&1 &
        ppid=$!; BGPIDS+=("$ppid")
        t0=$(date +%s.%N)
        echo "$t0" >"$file.t0"
        while :; do
            s=$(sample "$sys") || s=
            now=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
            [ -n "$s" ] && echo "$now $s" >>"$file"
            left=$(awk -v n="$now" -v e="$secs" -v p="$SAMPLE_SECS" 'BEGIN {l = e - n; if (l > p) l = p; printf "%.2f", l}')
            awk -v l="$left" 'BEGIN {exit !(l <= 0)}' && break
            sleep "$left"
        done
        wait "$cpid" || { echo "consumers failed:" >&2; tail -n 5 "$WORK/cons.out" >&2; }
        wait "$ppid" || { echo "producers failed:" >&2; tail -n 5 "$WORK/prod.out" >&2; }
        if [ "$rate" != 0 ]; then
            s=$(sed -n 's/^number of transactions skipped: \([0-9]*\).*/\1/p' "$WORK/prod.out")
            SKIPPED+=("$(basename "$file" .tsv) ${s:-?}")
        fi
        [ "$hpid" = 0 ] || wait "$hpid" || true
        sleep 1
        return 0
    }
    # clat <system> <from s> <to s>: the consumers' mean transaction latency
    # (ms) between those seconds of the last drive with a hold
    clat() {
        cat "$WORK/clog_$1".* 2>/dev/null |
            awk -v a=$((T0 + $2)) -v b=$((T0 + $3)) '$1 >= a && $1 < b {n += $2; l += $3}
                END {if (n) printf "%.2f", l / n / 1000; else print "-"}'
    }
    # empty_queue <system>: the queue emptied before a run
    empty_queue() {
        case "$1" in
            pgmsg) { psql_c "SELECT pgmsg.purge_queue('bsus')" && psql_c "VACUUM pgmsg.q_bsus"; } >/dev/null || true ;;
            raw) psql_c "TRUNCATE bench.sus" >/dev/null || true ;;
            pgq)  # PgQ cannot purge: finish batches until the consumer has
                  # caught up with every event (30 s at most)
                for _ in $(seq 60); do
                    read -r sent consumed _ < <(sample pgq) || break
                    [ "$consumed" -ge "$sent" ] && break
                    psql_c "SELECT pgq.finish_batch(b) FROM coalesce(pgq.next_batch('bqsus', 'bench'), 0) b WHERE b > 0" >/dev/null || true
                    sleep 0.5
                done ;;
        esac
    }
    # rate_between <file> <from s> <to s> <column: 2 sent, 3 consumed>:
    # messages/s between the first sample at or after "from" and the last
    # one before "to" (or within half a second past it)
    rate_between() {
        awk -v a="$2" -v b="$3" -v c="$4" '
            $1 >= a && !fa {va = $c; ta = $1; fa = 1}
            $1 <= b + 0.5 {vb = $c; tb = $1}
            END {if (fa && tb > ta) printf "%.0f", (vb - va) / (tb - ta); else print "-"}' "$1"
    }
    mib() { isnum "$1" && awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}' || echo "-"; }
    declare -A PEAK=() FIRST=() LAST=() KEEP=() SZMID=() SZEND=() DEADMAX=() DEADEND=() SUSLEN=() WIN=()
    declare -A HB=() HL=() HK=() HLB=() HLL=() HLK=() HDEAD=()
    HOLD_POST=$(( HOLD_SECS / 10 > 3 ? HOLD_SECS / 10 : 3 ))
    HWIN=$(( HOLD_SECS / 2 < 60 ? HOLD_SECS / 2 : 60 )); [ "$HWIN" -le "$HOLD_PRE" ] || HWIN=$HOLD_PRE
    # The systems taking part, and their peaks: PEAK_RUNS rounds of the
    # three in turn, each from an empty queue, and the median of each, so
    # that a spell of load from outside does not land on one system alone.
    # Every other round runs them in the reverse order, so that a drift of
    # the machine's speed within a round favours no system, and pgmsg
    # against PgQ is the median of the rounds' ratios (PEAK_RM), each
    # pgmsg run divided by the PgQ run of its own round.
    SUS_SYS=()
    for sys in pgmsg raw pgq; do
        [ "$SUS_OK" = 1 ] || break
        [ "$sys" != pgmsg ] && [ "$SUS_OTHER_SECS" = 0 ] && continue
        [ "$sys" = pgq ] && [ "$PGQD_UP" = 0 ] && continue
        SUS_SYS+=("$sys")
    done
    declare -A PEAKS=() GOT=()
    PEAK_PG=(); PEAK_Q=()   # pgmsg's and PgQ's peak runs, round by round
    for i in $(seq "$PEAK_RUNS"); do
        order=("${SUS_SYS[@]}")
        if [ $((i % 2)) = 0 ]; then
            order=()
            for ((k = ${#SUS_SYS[@]} - 1; k >= 0; k--)); do order+=("${SUS_SYS[$k]}"); done
        fi
        GOT=()
        for sys in "${order[@]}"; do
            echo "    $sys: peak run $i, $PEAK_SECS s at full speed"
            drive "$sys" "$PEAK_SECS" 0 "$DATA/peak_$sys.tsv"
            x=$(rate_between "$DATA/peak_$sys.tsv" 0 "$PEAK_SECS" 3)
            if isnum "$x"; then PEAKS[$sys]="${PEAKS[$sys]:-} $x"; GOT[$sys]=$x
            else echo "    no peak for $sys; samples:" >&2; cat "$DATA/peak_$sys.tsv" >&2; fi
            empty_queue "$sys"
        done
        PEAK_PG+=("${GOT[pgmsg]:-none}"); PEAK_Q+=("${GOT[pgq]:-none}")
    done
    round_median PEAK_PG PEAK_Q; PEAK_RR=$RR; PEAK_RM=$RM
    [ -z "$PEAK_RR" ] || echo "    pgmsg / PgQ, round by round: $PEAK_RR"
    for sys in "${SUS_SYS[@]}"; do
        # shellcheck disable=SC2086
        [ -n "${PEAKS[$sys]:-}" ] && PEAK[$sys]=$(fmt "$(median ${PEAKS[$sys]})" 0)
        echo "    $sys: peak runs${PEAKS[$sys]:- (none)}"
    done
    for sys in "${SUS_SYS[@]}"; do
        isnum "${PEAK[$sys]:-}" || continue
        len=$SUS_OTHER_SECS; [ "$sys" = pgmsg ] && len=$SUS_SECS
        win=$(( len / 3 < 60 ? len / 3 : 60 ))
        rate=$(( ${PEAK[$sys]} * SUS_LOAD / 100 ))
        echo "    $sys: peak ${PEAK[$sys]} messages/s; $len s at $rate messages/s"
        drive "$sys" "$len" "$rate" "$DATA/sus_$sys.tsv"
        SUSLEN[$sys]=$len; WIN[$sys]=$win
        FIRST[$sys]=$(rate_between "$DATA/sus_$sys.tsv" 0 "$win" 3)
        LAST[$sys]=$(rate_between "$DATA/sus_$sys.tsv" $((len - win)) "$len" 3)
        KEEP[$sys]=$(ratio "${LAST[$sys]}" "${FIRST[$sys]}")
        # the largest size in the first half of the run and in the second
        SZMID[$sys]=$(awk -v h=$((len / 2)) 'BEGIN {m = 0} $1 <= h && $4 > m {m = $4} END {print m}' "$DATA/sus_$sys.tsv")
        SZEND[$sys]=$(awk -v h=$((len / 2)) 'BEGIN {m = 0} $1 > h && $4 > m {m = $4} END {print m}' "$DATA/sus_$sys.tsv")
        DEADMAX[$sys]=$(awk 'BEGIN {m = 0} $5 > m {m = $5} END {print m}' "$DATA/sus_$sys.tsv")
        DEADEND[$sys]=$(tail -n 1 "$DATA/sus_$sys.tsv" | awk '{print $5}')
        echo "    $sys: ${FIRST[$sys]} messages/s in the first $win s, ${LAST[$sys]} in the last; largest size $(mib "${SZMID[$sys]}") MiB in the first half, $(mib "${SZEND[$sys]}") MiB in the second"
        # The same load with a long transaction in the middle: a snapshot
        # held for HOLD_SECS after HOLD_PRE seconds, then HOLD_POST more.
        [ "$sys" != pgmsg ] && [ "$HOLD_OTHER" = 0 ] && continue
        [ "$HOLD_SECS" -gt 0 ] || continue
        empty_queue "$sys"
        hlen=$((HOLD_PRE + HOLD_SECS + HOLD_POST))
        echo "    $sys: $hlen s at $rate messages/s, a snapshot held from $HOLD_PRE s for $HOLD_SECS s"
        drive "$sys" "$hlen" "$rate" "$DATA/hold_$sys.tsv" "$HOLD_PRE" "$HOLD_SECS"
        HB[$sys]=$(rate_between "$DATA/hold_$sys.tsv" $((HOLD_PRE - HWIN)) "$HOLD_PRE" 3)
        HL[$sys]=$(rate_between "$DATA/hold_$sys.tsv" $((HOLD_PRE + HOLD_SECS - HWIN)) $((HOLD_PRE + HOLD_SECS)) 3)
        HK[$sys]=$(ratio "${HL[$sys]}" "${HB[$sys]}")
        HLB[$sys]=$(clat "$sys" $((HOLD_PRE - HWIN)) "$HOLD_PRE")
        HLL[$sys]=$(clat "$sys" $((HOLD_PRE + HOLD_SECS - HWIN)) $((HOLD_PRE + HOLD_SECS)))
        HLK[$sys]=$(ratio "${HLL[$sys]}" "${HLB[$sys]}")
        HDEAD[$sys]=$(awk -v a="$HOLD_PRE" -v b=$((HOLD_PRE + HOLD_SECS)) 'BEGIN {m = 0} $1 >= a && $1 <= b + 1 && $5 > m {m = $5} END {print m}' "$DATA/hold_$sys.tsv")
        echo "    $sys: ${HB[$sys]} messages/s before the hold, ${HL[$sys]} in its last $HWIN s; consumer latency ${HLB[$sys]} ms, then ${HLL[$sys]} ms; ${HDEAD[$sys]} dead tuples at most"
    done
    # flat: the largest size of the second half is at most 10% (or 1 MiB)
    # above the largest of the first (sizes saw-tooth between vacuums)
    flat() {
        if ! isnum "${SZMID[$1]:-}" || ! isnum "${SZEND[$1]:-}"; then echo "-"; return; fi
        awk -v m="${SZMID[$1]}" -v e="${SZEND[$1]}" 'BEGIN {print (e <= m * 1.1 || e - m <= 1048576) ? "yes" : "no"}'
    }
    cell() {  # cell <value> <system>
        if [ -n "$1" ]; then echo "$1"
        elif [ "$SUS_OTHER_SECS" = 0 ] && [ "$2" != pgmsg ]; then echo "full mode only"
        else echo "-"; fi
    }
    # sysrow <scenario> <array> <ratio?> <note>: one row from an array per system
    sysrow() {
        local -n arr=$2
        local r="-"
        [ "$3" = ratio ] && r=$(ratio "${arr[pgmsg]:-}" "${arr[raw]:-}")
        row "$1" "$(cell "${arr[pgmsg]:-}" pgmsg)" "$(cell "${arr[raw]:-}" raw)" "$(cell "${arr[pgq]:-}" pgq)" "$r" "$4"
    }
    declare -A SZ=() DEADS=()
    # shellcheck disable=SC2034  # read through sysrow's name reference
    for sys in pgmsg raw pgq; do
        [ -n "${SZEND[$sys]:-}" ] && SZ[$sys]="$(mib "${SZMID[$sys]}") → $(mib "${SZEND[$sys]}")"
        [ -n "${DEADEND[$sys]:-}" ] && DEADS[$sys]="${DEADMAX[$sys]} / ${DEADEND[$sys]}"
    done
    # vspgq <array> <bound>: pgmsg / PgQ and whether it meets the bound, or
    # "-" without both figures
    vspgq() {
        local -n arr=$1
        local r
        r=$(ratio "${arr[pgmsg]:-}" "${arr[pgq]:-}")
        if [ "$r" = "-" ]; then echo "-"; else echo "pgmsg / PgQ = $r, $(tgt "$r" ">=" "$2")"; fi
    }
    # the peak against PgQ: the median of the rounds' ratios where every
    # round has both, else the ratio of the medians
    peak_vspgq() {
        [ -n "$PEAK_RR" ] || { vspgq PEAK 1.0; return; }
        echo "pgmsg / PgQ = $PEAK_RM, $(tgt "$PEAK_RM" ">=" 1.0); rounds: $PEAK_RR"
    }
    sysrow "peak send + consume, 4 producers + consumers (messages/s)" PEAK ratio "$(peak_vspgq)"
    chart "send+consume peak" "${PEAK[pgmsg]:-}" "${PEAK[raw]:-}" "${PEAK[pgq]:-}"
    sysrow "sustained at $SUS_LOAD% of peak: consumed in the first window (messages/s)" FIRST ratio \
        "window: ${WIN[pgmsg]:-?} s of ${SUSLEN[pgmsg]:-?} s for pgmsg$([ "$SUS_OTHER_SECS" = 0 ] || echo ", ${WIN[raw]:-?} s of ${SUSLEN[raw]:-?} s for the others")$(v=$(vspgq FIRST 1.0); [ "$v" = - ] || echo "; $v")"
    sysrow "sustained: consumed in the last window (messages/s)" LAST ratio "$(vspgq LAST 1.0)"
    sysrow "sustained: last / first window" KEEP - "pgmsg $(tgt "${KEEP[pgmsg]:-}" ">=" 0.95)"
    sysrow "sustained: largest table + index size, first half → second half (MiB)" SZ - "pgmsg flat: $(flat pgmsg)"
    sysrow "sustained: dead tuples, most sampled / at the end" DEADS - "-"
    hcell() {  # hcell <value> <system>
        if [ -n "$1" ]; then echo "$1"
        elif [ "$HOLD_OTHER" = 0 ] && [ "$2" != pgmsg ]; then echo "full mode only"
        else echo "-"; fi
    }
    hrow() {  # hrow <scenario> <array> <note>
        local -n arr=$2
        row "$1" "$(hcell "${arr[pgmsg]:-}" pgmsg)" "$(hcell "${arr[raw]:-}" raw)" "$(hcell "${arr[pgq]:-}" pgq)" "-" "$3"
    }
    hrow "long transaction: consumed in the $HWIN s before a snapshot is held (messages/s)" HB "same load as the sustained run; snapshot held ${HOLD_SECS} s"
    hrow "long transaction: consumed in the last $HWIN s of the hold (messages/s)" HL "-"
    hrow "long transaction: last $HWIN s of the hold / the $HWIN s before" HK "pgmsg $(tgt "${HK[pgmsg]:-}" ">=" 0.9)"
    declare -A HLAT=()
    for sys in pgmsg raw pgq; do [ -n "${HLB[$sys]:-}" ] && HLAT[$sys]="${HLB[$sys]} → ${HLL[$sys]} (${HLK[$sys]}×)"; done
    hrow "long transaction: consumer transaction latency, before → last $HWIN s of the hold (ms)" HLAT "pgmsg $(tgt "${HLK[pgmsg]:-}" "<=" 1.5)"
    hrow "long transaction: dead tuples during the hold, most sampled" HDEAD "-"
    if isnum "${KEEP[pgmsg]:-}" && [ "$(flat pgmsg)" != "-" ]; then
        if awk -v k="${KEEP[pgmsg]}" 'BEGIN {exit !(k >= 0.95)}' && [ "$(flat pgmsg)" = yes ]; then
            SUS_VERDICT="**It holds.**"
        else
            SUS_VERDICT="**It does not hold.**"
        fi
        SUS_VERDICT="$SUS_VERDICT Over the ${SUSLEN[pgmsg]}-second run at $SUS_LOAD% of its peak, pgmsg consumed ${FIRST[pgmsg]} messages/s in the first ${WIN[pgmsg]} s and ${LAST[pgmsg]} in the last: ${KEEP[pgmsg]}× (at least 0.95× required). Its table + index size peaked at $(mib "${SZMID[pgmsg]}") MiB in the first half and $(mib "${SZEND[pgmsg]}") MiB in the second (flat: $(flat pgmsg); flat means at most 10%, or 1 MiB, above the first half's peak)."
        [ "$QUICK" = 1 ] && SUS_VERDICT="$SUS_VERDICT A quick run is too short for this verdict: autovacuum looks at each table once a minute (autovacuum_naptime) and the table grows until its first vacuum, so a run of less than a minute has no steady state to show; only a full run answers the question."
    else
        SUS_VERDICT="The sustained run did not complete for pgmsg, so whether it holds is unknown."
    fi
    # the size over time, every SIZE_EVERY seconds
    for sys in pgmsg raw pgq; do
        [ -s "$DATA/sus_$sys.tsv" ] || continue
        SUS_SUMMARY+=("$sys|$(awk -v e="$SIZE_EVERY" 'BEGIN {n = 0} $1 >= n {printf "%s%d s: %.2f MiB, %d dead; ", "", $1, $4 / 1048576, $5; n += e}' "$DATA/sus_$sys.tsv" | sed 's/; $//')")
    done
    note "Sustained: 4 producer clients send one message per transaction; consumers run at the same time: pgmsg 4 clients \`receive(q, 100, wait => '1 second', batch_window => '20 milliseconds')\` (as the README tells consumers to), then delete the received in one statement in the next transaction; raw 4 clients, the SKIP LOCKED receive with LIMIT 100 then \`DELETE ... = ANY\`, sleeping 10 ms when they find nothing; PgQ one consumer (PgQ's model: one reader per consumer name) \`next_batch\` + \`get_batch_events\`, then \`finish_batch\`, sleeping 100 ms without a batch, with pgqd ticking once a second and rotating the queue's event tables every $ROTATE s (rotation_period, 2 hours by default). The peak is the consumed rate with the producers unthrottled for $PEAK_SECS s, the median of $PEAK_RUNS run(s) of each system taken in turn, every other round in the reverse order, each from an empty queue (pgmsg / PgQ: the median of the rounds' ratios, each pgmsg run divided by the PgQ run of its own round); the long run holds the producers to $SUS_LOAD% of it with pgbench -R, from an empty queue, and -L 1000: a producer transaction already a second late when its turn comes is skipped, so that after a stall of the machine the producers do not send their schedule's backlog in a burst (skipped, per run: $(printf '%s; ' "${SKIPPED[@]:-none}" | sed 's/; $//')). Throughput is messages consumed per second (pgmsg: \`pgmsg.queues.deleted_total\`; raw: the statistics' n_tup_del; PgQ: the event sequence at the consumer's last finished tick) over the first and the last window. Size is pg_total_relation_size of the queue table (PgQ: of its event tables), sampled every $SAMPLE_SECS s; autovacuum at its defaults. pgmsg ran ${SUSLEN[pgmsg]:-?} s, raw and PgQ $([ "$SUS_OTHER_SECS" = 0 ] && echo "not at all (full mode only)" || echo "${SUSLEN[raw]:-?} s each")."
    note "Long transaction: the sustained run's load (producers at $SUS_LOAD% of the system's peak, the same consumers), from an empty queue, for $HOLD_PRE + $HOLD_SECS + $HOLD_POST s; $HOLD_PRE s in, another session runs \`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class;\` and sits idle in transaction for $HOLD_SECS s, holding back the xmin horizon so that vacuum can remove no row deleted meanwhile, then commits. Consumed rates as in the sustained run, over the $HWIN s before the snapshot was taken and the last $HWIN s of the hold; consumer transaction latency is pgbench's mean latency of the consumer script's transactions (receive, delete, and any sleep when there was nothing) over the same windows, from its per-second log. pgmsg $([ "$HOLD_OTHER" = 0 ] && echo "alone (raw and PgQ in full mode only)" || echo "raw and PgQ each")."
fi
pgqd_stop

# ---------------------------------------------------------------------------
setting() { psql_c "SHOW $1" 2>/dev/null || echo "?"; }
REV=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
git -C "$REPO_ROOT" diff --quiet HEAD -- 2>/dev/null || REV="$REV (with uncommitted changes)"
MODE="full"; [ "$QUICK" = 1 ] && MODE="quick"; [ -n "$ONLY" ] && MODE="$MODE, only $ONLY"
OUT=$REPO_ROOT/bench
{
    echo "# pgmsg benchmark"
    echo
    echo "- mode: **$MODE** (\`bench/run.sh$([ "$QUICK" = 1 ] && echo " --quick")\`), median of $RUNS run(s) of $SECS s each, the three systems' runs interleaved, pgbench -M prepared, a CHECKPOINT before each run; total wall time $((SECONDS / 60)) min $((SECONDS % 60)) s"
    echo "- machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory, load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $("$PGBIN/postgres" --version), pgmsg at $REV, PgQ $PGQ_VERSION (Debian's postgresql-15-pgq3, ticker pgqd)"
    echo "- synchronous_commit = $(setting synchronous_commit), fsync = $(setting fsync), full_page_writes = $(setting full_page_writes), wal_level = $(setting wal_level), shared_buffers = $(setting shared_buffers), max_wal_size = $(setting max_wal_size), autovacuum = $(setting autovacuum), pgmsg.max_leases = $LEASES_NOW (defaults of initdb and pgmsg; log_autovacuum_min_duration = 0 and log_checkpoints = on only for results-samples/server.log)"
    echo "- payload: \`$PAYLOAD\` in every system"
    echo
    echo "![throughput per scenario and the sustained run](results.png)"
    echo
    echo "| scenario | pgmsg | raw PostgreSQL | PgQ | pgmsg / raw | target / note |"
    echo "| --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "pgmsg / raw is a ratio of throughputs (higher is better for pgmsg) except for latencies (lower is better). n/a: PgQ cannot do that work (the reason follows the n/a or is in the notes)."
    if [ -n "$SUS_VERDICT" ]; then
        echo
        echo "## Sustained run: does pgmsg decay under vacuum pressure?"
        echo
        echo "$SUS_VERDICT"
        echo
        echo "Table + index size and dead tuples over time, every $SIZE_EVERY s:"
        echo
        for s in "${SUS_SUMMARY[@]}"; do echo "- ${s%%|*}: ${s#*|}"; done
    fi
    echo
    echo "## Notes"
    for n in "${NOTES[@]}"; do
        echo
        echo "$n"
    done
} >"$OUT/results.md"

# The samples of the runs with producers and consumers together, kept so
# that a figure can be read back to what happened during its run: one file
# per run and system, from this run only, as results.md is.
rm -rf "$OUT/results-samples"
for f in "$DATA"/peak_*.tsv "$DATA"/sus_*.tsv "$DATA"/hold_*.tsv; do
    [ -s "$f" ] || continue
    mkdir -p "$OUT/results-samples"
    { echo "# started $(date -u -d "@$(cat "$f.t0" 2>/dev/null || echo 0)" '+%F %T.%3N UTC')"
      echo "# seconds since the start, messages sent, messages consumed (both cumulative), table + index bytes, dead tuples"
      cat "$f"; } >"$OUT/results-samples/$(basename "$f")"
done
# and what the server did meanwhile: autovacuum's runs and the checkpoints,
# in the server's clock, which the files' start times are in
[ -d "$OUT/results-samples" ] &&
    grep -E 'automatic (vacuum|analyze) of table "postgres\.(pgmsg|bench|pgq)|checkpoint (starting|complete)' "$LOGFILE" \
        >"$OUT/results-samples/server.log" 2>/dev/null || true

# The chart: throughput per scenario, and the sustained runs over time.
printf "%s\n" "${CHART[@]}" >"$DATA/bars.tsv"
for sys in pgmsg raw pgq; do
    # per-interval consumed rate and size, from the cumulative samples
    [ -s "$DATA/sus_$sys.tsv" ] && awk 'NR > 1 && $1 > t {printf "%.1f %.1f %.3f\n", $1, ($3 - c) / ($1 - t), $4 / 1048576} {t = $1; c = $3}' \
        "$DATA/sus_$sys.tsv" >"$DATA/rate_$sys.dat"
    [ -s "$DATA/rate_$sys.dat" ] || echo "0 NaN NaN" >"$DATA/rate_$sys.dat"
done
if [ "${#CHART[@]}" -gt 0 ]; then
    HAS_SUS=0; [ -s "$DATA/sus_pgmsg.tsv" ] && HAS_SUS=1
    gnuplot -e "datadir='$DATA'; outfile='$OUT/results.png'; hassus=$HAS_SUS; subtitle='mode: $MODE, $(nproc) cores, PostgreSQL $(setting server_version | cut -d' ' -f1)'" \
        "$REPO_ROOT/bench/chart.gp" || echo "gnuplot failed: no chart" >&2
fi
echo
cat "$OUT/results.md"
echo
say "wrote $OUT/results.md and $OUT/results.png in $((SECONDS / 60)) min $((SECONDS % 60)) s"
