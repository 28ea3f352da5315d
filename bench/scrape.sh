#!/usr/bin/env bash
# The cost of one Prometheus scrape of pgmsg, as root:
#   bench/scrape.sh               1,000 queues, 3 rounds of 10 s per query
#   QUEUES=200 SECS=5 ROUNDS=1 bench/scrape.sh
#
# Builds pgmsg from this checkout into a private copy of PostgreSQL 15 under
# /var/tmp (the system-wide installation and its servers are left alone),
# starts a throwaway cluster with pgmsg preloaded, creates QUEUES queues with
# 10 messages each, 3 of them in flight (one received three times), and
# times with pgbench, one client, the exact queries of
# monitoring/queries.yaml: each section alone and all of them together (one
# scrape), against a baseline in the same run, SELECT count(*) FROM
# pg_stat_user_tables, which a stock exporter setup runs on every scrape
# too (it lists the 1,000 queue tables among the rest).  Rounds alternate
# between the queries so that a noisy machine disturbs them alike; each
# figure is the median of the rounds' average latencies.  Then it restarts
# the server and times pgmsg.queues again, before any queue is used, when no
# queue has a slot in shared memory and each is counted from its index.  It
# reports and asserts nothing.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

QUEUES=${QUEUES:-1000}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-3}

require_root "$@"
PACKAGES+=(python3-yaml)
ensure_packages

WORK=/var/tmp/pgmsg-scrape-$(checkout_tag)
stop_clusters_under "$WORK"
rm -rf "$WORK"
install -d -m 755 "$WORK" "$WORK/src" "$WORK/sql"
tar -C "$REPO_ROOT" --exclude=./.git --exclude=./.demo --exclude=node_modules \
    --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$WORK/src" -xf -
make_private_postgres "$WORK/pg"
build_and_install "$WORK/src" >/dev/null
chown -R postgres:postgres "$WORK"
trap 'stop_clusters_under "$WORK"; rm -rf "$WORK"' EXIT

PGDATA=$WORK/data
as_postgres "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust >/dev/null
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = 5432
shared_preload_libraries = 'pgmsg'
pgmsg.max_queues = $((QUEUES + 100))
max_locks_per_transaction = 256
CONF
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w start >/dev/null
psql_run() { as_postgres "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -d postgres "$@"; }

say "creating $QUEUES queues"
psql_run <<SQL
CREATE EXTENSION pgmsg;
DO \$\$
BEGIN
  FOR i IN 1..$QUEUES LOOP
    PERFORM pgmsg.create_queue(format('q%s', i));
    PERFORM pgmsg.send_batch(format('q%s', i), array_fill('{"n": 1}'::jsonb, ARRAY[10]));
    COMMIT;
  END LOOP;
END
\$\$;
SQL
# in flight: one message received three times, two more received once
for i in $(seq 1 "$QUEUES"); do
    printf "SELECT count(*) FROM pgmsg.receive('q%s', 1, visibility_timeout => '0');\n" "$i"
    printf "SELECT count(*) FROM pgmsg.receive('q%s', 1, visibility_timeout => '0');\n" "$i"
    printf "SELECT count(*) FROM pgmsg.receive('q%s', 3, visibility_timeout => '1 hour');\n" "$i"
done | psql_run >/dev/null
psql_run -At -c "SELECT sum(messages_in_flight), max(r.receive_count_max)
                   FROM pgmsg.queues q JOIN pgmsg.queue_receive_counts() r ON r.queue = q.name" |
    { IFS='|' read -r inflight maxrc; say "in flight: $inflight, largest receive count: $maxrc"; }

# The exporter's queries, one file per section and one with all of them.
/usr/bin/python3 - "$REPO_ROOT/monitoring/queries.yaml" "$WORK/sql" <<'PY'
import sys, yaml
sections = yaml.safe_load(open(sys.argv[1]))
out = sys.argv[2]
with open(f"{out}/scrape.sql", "w") as scrape:
    for name, section in sections.items():
        sql = " ".join(section["query"].split()) + ";\n"
        open(f"{out}/{name}.sql", "w").write(sql)
        scrape.write(sql)
PY
echo 'SELECT count(*) FROM pg_stat_user_tables;' >"$WORK/sql/baseline.sql"
chown -R postgres:postgres "$WORK/sql"
names=(scrape $(cd "$WORK/sql" && ls -- *.sql | sed 's/\.sql$//' | grep -vx -e scrape -e baseline) baseline)

declare -A results
time_query() {
    as_postgres "$PGBIN/pgbench" -n -h "$WORK" -c 1 -T "$SECS" -f "$WORK/sql/$1.sql" postgres 2>&1 |
        awk '/latency average/ { print $4 }'
}
for round in $(seq 1 "$ROUNDS"); do
    for name in "${names[@]}"; do
        ms=$(time_query "$name")
        results[$name]+="$ms "
        say "round $round: $name ${ms} ms"
    done
done

# After a restart no queue has a slot until it is used: pgmsg.queues counts
# each from its index.  Reading the view sets up no slot, so every round
# measures that.
as_postgres "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w restart >/dev/null
psql_run -At -c "SELECT sum(messages_visible + messages_in_flight) FROM pgmsg.queues" |
    { read -r stored; say "after the restart: $stored messages counted"; }
for round in $(seq 1 "$ROUNDS"); do
    for name in pgmsg_queue baseline; do
        ms=$(time_query "$name")
        results[cold_$name]+="$ms "
        say "round $round after the restart: $name ${ms} ms"
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "Scrape cost with $QUEUES queues (median of $ROUNDS rounds of ${SECS} s, one client):"
for name in "${names[@]}"; do
    case $name in
        scrape)   label="one scrape (every pgmsg query)" ;;
        baseline) label="baseline: SELECT count(*) FROM pg_stat_user_tables" ;;
        *)        label="  section $name" ;;
    esac
    printf '  %-55s %8.2f ms\n' "$label" "$(echo "${results[$name]}" | median)"
done
echo "After a restart, before any queue is used (no queue slot):"
printf '  %-55s %8.2f ms\n' "  section pgmsg_queue" "$(echo "${results[cold_pgmsg_queue]}" | median)"
printf '  %-55s %8.2f ms\n' "baseline: SELECT count(*) FROM pg_stat_user_tables" \
    "$(echo "${results[cold_baseline]}" | median)"
