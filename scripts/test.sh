#!/usr/bin/env bash
# The test command: `sudo scripts/test.sh` (or, as root, `scripts/test.sh`).
# Installs missing Debian packages, copies the checkout to a scratch directory
# under /var/tmp, builds pgmsg there from clean with its invariant checks
# (PGMSG_CHECKS=1) and installs it into a private copy of PostgreSQL's
# installation in that directory (the system-wide PostgreSQL, and any
# server running from it, is left alone), then runs the
# regression (sql/), isolation (specs/) and TAP (t/) suites there as the
# postgres user.  Each suite runs even if an earlier one failed; failures print
# their diffs and logs.  The last line is always "N passed, N failed"; the exit
# status is non-zero if anything failed or if no test ran.  Needs no terminal.
#
# While working on one thing, name a suite and, optionally, tests in it:
#   scripts/test.sh regress fifo send
#   scripts/test.sh isolation read_ahead
#   scripts/test.sh tap t/005_upgrade.pl
set -euo pipefail

ONLY_SUITE=${1:-}
case $ONLY_SUITE in
    ''|regress|isolation|tap) ;;
    *) echo "usage: $0 [regress|isolation|tap [TEST...]]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
ONLY_TESTS="$*"

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Per-suite wall-clock limit, so a hung test cannot eat a whole CI run.
STAGE_TIMEOUT=${PGMSG_TEST_TIMEOUT:-900}
PROVE_FLAGS=${PROVE_FLAGS:---timer}

# A failure while setting up (packages, copy, build) still ends with the
# summary line; errtrace makes the trap see failures inside functions too.
set -E
trap 'echo "test.sh: setup failed at: $BASH_COMMAND"; echo "0 passed, 1 failed"' ERR
require_root "$@"
ensure_packages

# The scratch copy, owned by postgres for the tests: installcheck writes
# results/, output_iso/ and tmp_check*/ into the source tree, and the checkout
# may not even be readable by postgres.  Building there too leaves the
# checkout untouched and makes every build a clean one.  The path is per
# checkout, so a rerun replaces the previous run's copy.
RUN_DIR=/var/tmp/pgmsg-test-$(checkout_tag)
stop_clusters_under "$RUN_DIR"
rm -rf "$RUN_DIR"
SRC_DIR=$RUN_DIR/src
install -d -m 755 "$RUN_DIR" "$SRC_DIR"
tar -C "$REPO_ROOT" --anchored \
    --exclude=./.git --exclude=./.demo --exclude=./node_modules \
    --exclude=./examples/node/node_modules \
    --exclude=./bench/results --exclude=./results --exclude=./output_iso \
    --exclude='./tmp_check*' --exclude=./log \
    --exclude=./regression.diffs --exclude=./regression.out \
    --no-anchored --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=node_modules \
    -cf - . | tar -C "$SRC_DIR" -xf -
# The node packages of the Node examples (t/040_examples.pl) and of the push
# tests' fake endpoints (test/push), exactly as their package-lock.json files
# pin them, from the npm registry.
ensure_node
for dir in examples/node test/push; do
    say "installing node packages in $dir (npm ci)"
    (cd "$SRC_DIR/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done
make_private_postgres "$RUN_DIR/pg"
# With pgmsg's own invariant checks compiled in (PGMSG_CHECK, see pgmsg.h).
build_and_install "$SRC_DIR" PGMSG_CHECKS=1
mkdir -p "$RUN_DIR/tmp"
chown -R postgres:postgres "$RUN_DIR"
trap - ERR
set +E
# Leave no test server behind, whatever happens.
trap 'stop_clusters_under "$RUN_DIR"' EXIT

total_pass=0
total_fail=0
summary=()

# Print the last $2 lines of file $1 under a header.
show_file() {
    [ -s "$1" ] || return 0
    local n
    n=$(wc -l <"$1")
    if [ "$n" -gt "$2" ]; then
        printf '\n----- %s (last %d of %d lines) -----\n' "${1#"$RUN_DIR"/}" "$2" "$n"
    else
        printf '\n----- %s -----\n' "${1#"$RUN_DIR"/}"
    fi
    tail -n "$2" "$1"
}

# Count "passed failed" in a pg_regress / pg_isolation_regress log (PG 15
# format).  The summary line is authoritative; the per-test "... ok" and
# "... FAILED" lines are the fallback when the run died before it.
count_regress() {
    awk '
        / \.\.\. +ok/                          { lp++ }
        / \.\.\. +FAILED/                      { lf++ }
        /^ *All [0-9]+ tests passed\./          { p = $2; f = 0; s = 1 }
        /^ *[0-9]+ of [0-9]+ tests passed, /    { p = $1; f = 0; s = 1 }
        /^ *[0-9]+ of [0-9]+ tests failed\./    { p = $3 - $1; f = $1; s = 1 }
        /^ *[0-9]+ of [0-9]+ tests failed, [0-9]+ of these failures ignored/ \
                                                { p = $3 - $1; f = $1 - $6; s = 1 }
        END { if (!s) { p = lp; f = lf }; print p + 0, f + 0 }
    ' "$1"
}

# Count "passed failed" individual TAP tests from prove's closing summary:
# "Files=N, Tests=M" gives the total; each failing file in the "Test Summary
# Report" adds its failed subtests, or 1 if it failed without one (died, bad
# plan).
count_prove() {
    awk '
        /^Files=[0-9]+, Tests=[0-9]+/ {
            t = $2; sub(/^Tests=/, "", t); sub(/,$/, "", t); total = t; seen = 1
        }
        /\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
            n = $0; sub(/.*Failed: /, "", n); sub(/\).*/, "", n)
            subfail += n; files += (n > 0 ? 0 : 1)
        }
        /^Result: FAIL/ { failed = 1 }
        END {
            if (!seen) { print 0, 0; exit }
            print total - subfail, (failed ? subfail + files : 0)
        }
    ' "$1"
}

# run_stage NAME MAKE-VARIABLES...: run "make installcheck" with the other
# suites switched off by the variables, then tally and explain its results.
run_stage() {
    local name=$1 rc=0 pass fail
    shift
    local log="$RUN_DIR/$name.log"
    say "$name tests"
    # TMPDIR: socket directories that failed TAP tests leave behind stay in
    # the scratch copy instead of piling up in /tmp.
    as_postgres env TMPDIR="$RUN_DIR/tmp" timeout -k 30 "$STAGE_TIMEOUT" \
        make -C "$SRC_DIR" PG_CONFIG="$PG_CONFIG" installcheck "$@" 2>&1 \
        | tee "$log" || rc=$?
    if [ "$name" = tap ]; then
        read -r pass fail < <(count_prove "$log")
    else
        read -r pass fail < <(count_regress "$log")
    fi
    if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        # The suite broke without a test to blame (server did not start,
        # timeout, crash): count it as one failure.
        fail=1
        [ "$rc" -eq 124 ] && echo "$name: timed out after ${STAGE_TIMEOUT}s"
        echo "$name: make installcheck exited with status $rc"
    fi
    if [ "$fail" -ne 0 ]; then
        echo
        echo "===== $name: $fail failed; details follow ====="
        case $name in
            regress)   show_outputs regression.diffs results log ;;
            isolation) show_outputs output_iso/regression.diffs output_iso/results output_iso/log ;;
            tap)       show_tap_logs "$log" ;;
        esac
        echo "===== end of $name details ====="
    fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    summary+=("$(printf '  %-10s %4d ok  %4d not ok' "$name" "$pass" "$fail")")
}

# show_outputs DIFFS RESULTS LOGDIR: a suite's diffs, the whole output of any
# test that has no expected/ file yet, and the tail of the server log (or of
# every log, when the server never got that far).
show_outputs() {
    local f
    [ -n "$1" ] && show_file "$SRC_DIR/$1" 3000
    if [ -n "$2" ]; then
        for f in "$SRC_DIR/$2"/*.out; do
            [ -e "$SRC_DIR/expected/$(basename "$f")" ] || show_file "$f" 3000
        done
    fi
    if [ -s "$SRC_DIR/$3/postmaster.log" ]; then
        show_file "$SRC_DIR/$3/postmaster.log" 200
        return
    fi
    for f in "$SRC_DIR/$3"/*; do
        show_file "$f" 200
    done
}

# show_tap_logs PROVE-LOG: the tail of the TAP logs (regress_log_NAME and each
# NAME_NODE.log) of the test files prove reported as failing, else of all.
show_tap_logs() {
    local name f names
    names=$(awk '/\(Wstat: .*Tests: [0-9]+ Failed: [0-9]+\)/ {
                     n = $1; sub(/^.*\//, "", n); sub(/\.pl$/, "", n); print n }' "$1")
    if [ -z "$names" ]; then
        show_outputs '' '' tmp_check/log
        return
    fi
    for name in $names; do
        for f in "$SRC_DIR/tmp_check/log/regress_log_$name" "$SRC_DIR/tmp_check/log/${name}"_*.log; do
            show_file "$f" 200
        done
    done
}

# Only suites that have tests run; an empty suite would fail (prove) or
# count nothing (pg_regress).
has_files() { compgen -G "$SRC_DIR/$1" >/dev/null; }

# wanted SUITE: whether SUITE runs; wanted_tests SUITE VARIABLE: the make
# variable that narrows it to the tests named on the command line, if any.
wanted() { [ -z "$ONLY_SUITE" ] || [ "$ONLY_SUITE" = "$1" ]; }
wanted_tests() {
    if [ "$ONLY_SUITE" = "$1" ] && [ -n "$ONLY_TESTS" ]; then
        printf '%s=%s' "$2" "$ONLY_TESTS"
    else
        printf 'PGMSG_ALL_TESTS=1'
    fi
}

if wanted regress && has_files 'sql/*.sql'; then
    run_stage regress ISOLATION= TAP_TESTS= "$(wanted_tests regress REGRESS)"
fi
if wanted isolation && has_files 'specs/*.spec'; then
    run_stage isolation REGRESS= TAP_TESTS= "$(wanted_tests isolation ISOLATION)"
fi
if wanted tap && has_files 't/*.pl'; then
    run_stage tap REGRESS= ISOLATION= PROVE_FLAGS="$PROVE_FLAGS" "$(wanted_tests tap PROVE_TESTS)"
fi

echo
echo "pgmsg test summary (TAP counted per test):"
if [ "${#summary[@]}" -gt 0 ]; then
    printf '%s\n' "${summary[@]}"
fi
status=0
if [ "$((total_pass + total_fail))" -eq 0 ]; then
    echo "error: no test ran"
    status=1
elif [ "$total_fail" -ne 0 ]; then
    echo "outputs kept in $RUN_DIR"
    status=1
else
    # Nothing worth keeping: drop the scratch copy.
    stop_clusters_under "$RUN_DIR"
    rm -rf "$RUN_DIR"
fi
echo "$total_pass passed, $total_fail failed"
exit "$status"
