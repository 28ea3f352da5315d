#!/usr/bin/env bash
# The push benchmark, as root:  bench/push.sh [--quick]
#
# Builds pgmsg into a private copy of PostgreSQL 15 (as scripts/test.sh
# does), starts a throwaway cluster and the test suite's fake endpoints
# (test/push: a fake SNS that checks every SigV4 signature, a webhook
# receiver that checks every Standard Webhooks signature), both answering
# after 10 ms, and measures:
#   - SNS throughput: messages/s delivered through PublishBatch, from the
#     publishing commit until the last is acknowledged;
#   - webhook throughput: messages/s delivered as single signed POSTs;
#   - commit-to-delivery latency when idle: the time from a publish (its
#     commit included) until the webhook receiver has the message, p50/p99;
#   - isolation: webhook throughput with a second subscription of the same
#     topic whose endpoint is dead (connection refused) or hangs, against
#     the figure above from the same run.
# Nothing is asserted; it reports, and whether each target was met.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
N_SNS=$(( QUICK ? 10000 : 50000 ))
N_HTTP=$(( QUICK ? 5000 : 20000 ))
N_LAT=$(( QUICK ? 100 : 300 ))

require_root "$@"
ensure_packages
ensure_node
hold_install_lock

WORK=$(mktemp -d /var/tmp/pgmsg-push-bench.XXXXXX)
chmod 755 "$WORK"
SRC=$WORK/src
mkdir -p "$SRC"
tar -C "$REPO_ROOT" --exclude=./.git --exclude=node_modules --exclude='*.o' --exclude='*.so' \
    -cf - . | tar -C "$SRC" -xf -
make_private_postgres "$WORK/pg"
build_and_install "$SRC" >/dev/null
say "installing the fake endpoints' node packages"
(cd "$SRC/test/push" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
chown -R postgres:postgres "$WORK"

PGDATA=$WORK/data
PORT=5498
LOGFILE=$WORK/server.log
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_fake NAME: start test/push/NAME.js on a free port (TLS); prints its JSON line
start_fake() {
    local out=$WORK/$1.json
    (cd "$SRC/test/push" && exec runuser -u postgres -- env "${@:2}" node "$1.js" 0 --tls \
        >"$out" 2>"$WORK/$1.log") &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
    [ -s "$out" ] || die "$1 did not start: $(cat "$WORK/$1.log")"
}
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
control() { curl -sf -X "$2" -H 'content-type: application/json' ${3:+-d "$3"} "$(json "$WORK/$1.json" control_url)/_control$4"; }

KEY=AKIAPGMSGBENCH000001
SECRET=pgmsg-bench-secret
WHSEC=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
start_fake fake-sns FAKE_SNS_ACCESS_KEY=$KEY FAKE_SNS_SECRET_KEY=$SECRET FAKE_SNS_REGION=us-east-1
start_fake webhook WEBHOOK_SECRET=$WHSEC
SNS_URL=$(json "$WORK/fake-sns.json" url)/
HOOK_URL=$(json "$WORK/webhook.json" url)
control fake-sns POST '{"mode": "latency", "latency_ms": 10}' /mode >/dev/null
control webhook POST '{"mode": "latency", "latency_ms": 10}' /mode >/dev/null
control webhook POST '{"mode": "hang", "path": "/hang"}' /mode >/dev/null

as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$WORK'
shared_preload_libraries = 'pgmsg'
pgmsg.push_ca_file = '$(json "$WORK/fake-sns.json" ca_file)'
pgmsg.aws_access_key_id = '$KEY'
pgmsg.aws_secret_access_key = '$SECRET'
EOF
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -w -t 60 start >/dev/null
PSQL=(as_postgres "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION pgmsg"

# The fake SNS has one CA; the webhook receiver another: trust both.
cat "$(json "$WORK/fake-sns.json" ca_file)" "$(json "$WORK/webhook.json" ca_file)" >"$WORK/ca.pem"
chown postgres "$WORK/ca.pem"
"${PSQL[@]}" -c "ALTER SYSTEM SET pgmsg.push_ca_file = '$WORK/ca.pem'" -c "SELECT pg_reload_conf()" >/dev/null

now() { date +%s.%N; }
# wait_delivered SUBSCRIPTION N: until the view counts N delivered
wait_delivered() {
    until [ "$("${PSQL[@]}" -c "SELECT delivered >= $2 FROM pgmsg.subscriptions WHERE subscription_id = $1")" = t ]; do
        sleep 0.05
    done
}
# throughput TOPIC SUBSCRIPTION N: publish N messages in one transaction; messages/s delivered
throughput() {
    local t0 t1 base
    base=$("${PSQL[@]}" -c "SELECT delivered FROM pgmsg.subscriptions WHERE subscription_id = $2")
    "${PSQL[@]}" -c "SELECT count(pgmsg.publish('$1', jsonb_build_object('i', i, 'order', 'o-' || i), '{\"kind\": \"paid\"}')) FROM generate_series(1, $3) i" >/dev/null
    t0=$(now)
    wait_delivered "$2" $((base + $3))
    t1=$(now)
    python3 -c "print(round($3 / ($t1 - $t0)))"
}

say "SNS throughput ($N_SNS messages, endpoint answers after 10 ms)"
"${PSQL[@]}" -c "SELECT pgmsg.create_topic('bench_sns')" >/dev/null
SNS_ID=$("${PSQL[@]}" -c "SELECT pgmsg.subscribe_sns('bench_sns', 'arn:aws:sns:us-east-1:123456789012:bench', 'us-east-1', endpoint_url => '$SNS_URL')")
sleep 1
SNS_RATE=$(throughput bench_sns "$SNS_ID" "$N_SNS")
SNS_BAD=$(control fake-sns GET '' /summary | python3 -c "import json,sys; c=json.load(sys.stdin)['counts']; print(sum(v for k,v in c.items() if k not in ('ok',)))")

say "webhook throughput ($N_HTTP messages)"
"${PSQL[@]}" -c "SELECT pgmsg.create_topic('bench_http')" >/dev/null
HTTP_ID=$("${PSQL[@]}" -c "SELECT pgmsg.subscribe_http('bench_http', '$HOOK_URL/ok', raw_message_delivery => true, secret => '$WHSEC')")
sleep 1
HTTP_RATE=$(throughput bench_http "$HTTP_ID" "$N_HTTP")

say "webhook throughput beside a dead and a hanging endpoint"
"${PSQL[@]}" -c "SELECT pgmsg.subscribe_http('bench_http', 'https://127.0.0.1:1/dead', raw_message_delivery => true)" >/dev/null
"${PSQL[@]}" -c "SELECT pgmsg.subscribe_http('bench_http', '$HOOK_URL/hang', raw_message_delivery => true, secret => '$WHSEC')" >/dev/null
sleep 1
HTTP_RATE_DEAD=$(throughput bench_http "$HTTP_ID" "$N_HTTP")
"${PSQL[@]}" -c "SELECT pgmsg.unsubscribe_push(subscription_id) FROM pgmsg.subscriptions WHERE endpoint LIKE '%/dead' OR endpoint LIKE '%/hang'" >/dev/null

say "commit-to-delivery latency when idle ($N_LAT messages, one at a time)"
"${PSQL[@]}" -c "SELECT pgmsg.create_topic('bench_lat')" >/dev/null
"${PSQL[@]}" -c "SELECT pgmsg.subscribe_http('bench_lat', '$HOOK_URL/lat', raw_message_delivery => true, secret => '$WHSEC')" >/dev/null
control webhook POST '{"mode": "ok", "path": "/lat"}' /mode >/dev/null
sleep 1
for i in $(seq "$N_LAT"); do
    "${PSQL[@]}" -c "SELECT pgmsg.publish('bench_lat', jsonb_build_object('i', $i, 't', extract(epoch FROM clock_timestamp())))" >/dev/null
    sleep 0.05
done
sleep 1
LAT=$(control webhook GET '' /received | python3 -c "
import json, sys, datetime
d = json.load(sys.stdin)
ms = []
for r in d['requests']:
    if r['path'] != '/lat' or not r.get('json'): continue
    got = datetime.datetime.fromisoformat(r['received_at'].replace('Z', '+00:00')).timestamp()
    ms.append((got - r['json']['t']) * 1000)
ms.sort()
pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
print('%d %.1f %.1f' % (len(ms), pick(0.5), pick(0.99)))")
read -r LAT_N LAT_P50 LAT_P99 <<<"$LAT"

met() { python3 -c "print('met' if $1 else 'NOT met')"; }
cat <<EOF

## Push delivery ($(date -u +%Y-%m-%d), $(nproc) cores, endpoints on 127.0.0.1 answering after 10 ms, TLS)

| figure | result | target |
| --- | --- | --- |
| SNS PublishBatch throughput | $SNS_RATE msg/s ($N_SNS messages; requests refused by the fake: $SNS_BAD) | >= 5,000: $(met "$SNS_RATE >= 5000") |
| webhook throughput, one signed POST per message | $HTTP_RATE msg/s ($N_HTTP messages) | >= 2,000: $(met "$HTTP_RATE >= 2000") |
| commit-to-delivery latency, idle, p50 | $LAT_P50 ms ($LAT_N messages) | <= 10 ms: $(met "$LAT_P50 <= 10") |
| commit-to-delivery latency, idle, p99 | $LAT_P99 ms | <= 50 ms: $(met "$LAT_P99 <= 50") |
| webhook throughput beside a dead and a hanging endpoint | ${HTTP_RATE_DEAD:-?} msg/s | >= 90% of $HTTP_RATE: $(met "${HTTP_RATE_DEAD:-0} >= 0.9 * $HTTP_RATE") |
EOF
