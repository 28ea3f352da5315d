# Concurrent consumers of a FIFO queue: 1,000 messages in 10 groups, taken
# by 4 sessions that delete most messages, release some at once with
# change_visibility and let others' leases expire.  Afterwards the log the
# consumers kept must show every message deleted exactly once, no group in
# two transactions at once, and every group delivered in send order.  Then
# the same with consumers that let their leases expire and delete late.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use t::Sessions;

my $ngroups = 10;
my $per_group = 100;
my $nconsumers = 4;

my $node = PostgreSQL::Test::Cluster->new('fifo_consumers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('fq', fifo => true, visibility_timeout => '2 seconds');

-- One row per message received: who, what, in which transaction and at
-- which place of its receive's result, what was done with it, when the
-- receive returned and when the transaction was about to commit.
CREATE TABLE log (
    consumer        int NOT NULL,
    g               int NOT NULL,
    n               int NOT NULL,
    msg_id          bigint NOT NULL,
    receive_count   int NOT NULL,
    txid            bigint NOT NULL,
    pos             int NOT NULL,
    action          text NOT NULL,      -- delete, release or leave
    ok              boolean,            -- what delete or change_visibility returned
    received_at     timestamptz NOT NULL,
    done_at         timestamptz
);

-- A consumer: one transaction per receive of up to 5 messages.  On its
-- first receive, a message whose g * 100 + n is a multiple of 7 is
-- released at once, and one that is a multiple of 13 is left to expire
-- (2 seconds); every other receive deletes.  It stops when the queue has
-- stayed empty for three tries in a row, or after 60 seconds.
CREATE PROCEDURE consume(cid int) LANGUAGE plpgsql AS $$
DECLARE
    msgs pgmsg.message[];
    m pgmsg.message;
    t timestamptz;
    pos int;
    k int;
    act text;
    ok boolean;
    empty_tries int := 0;
    deadline timestamptz := clock_timestamp() + interval '60 seconds';
BEGIN
    LOOP
        SELECT array_agg(ROW(r.message_id, r.receipt, r.body, r.attributes, r.receive_count,
                             r.sent_at, r.first_received_at, r.group_id)::pgmsg.message
                         ORDER BY r.o)
          INTO msgs
          FROM pgmsg.receive('fq', 5, visibility_timeout => '2 seconds',
                             wait => '0.5 seconds')
               WITH ORDINALITY AS r(message_id, receipt, body, attributes, receive_count,
                                    sent_at, first_received_at, group_id, o);
        t := clock_timestamp();
        pos := 0;
        IF msgs IS NOT NULL THEN
            FOREACH m IN ARRAY msgs LOOP
                pos := pos + 1;
                k := (m.body->>'g')::int * 100 + (m.body->>'n')::int;
                IF m.receive_count = 1 AND k % 7 = 0 THEN
                    act := 'release';
                    ok := pgmsg.change_visibility('fq', m.receipt, '0');
                ELSIF m.receive_count = 1 AND k % 13 = 0 THEN
                    act := 'leave';
                    ok := NULL;
                ELSE
                    act := 'delete';
                    ok := pgmsg.delete('fq', m.receipt);
                END IF;
                INSERT INTO log VALUES (cid, (m.body->>'g')::int, (m.body->>'n')::int,
                    m.message_id, m.receive_count, pg_current_xact_id()::text::bigint,
                    pos, act, ok, t, NULL);
            END LOOP;
            UPDATE log SET done_at = clock_timestamp()
             WHERE txid = pg_current_xact_id()::text::bigint;
        END IF;
        COMMIT;

        IF pos = 0 AND (SELECT messages_visible + messages_in_flight + messages_delayed
                          FROM pgmsg.queues WHERE name = 'fq') = 0 THEN
            empty_tries := empty_tries + 1;
        ELSE
            empty_tries := 0;
        END IF;
        EXIT WHEN empty_tries >= 3 OR clock_timestamp() > deadline;
    END LOOP;
END
$$;
});

# Send in order: n = 1..100 of every group, ten commits of 100 messages.
for my $batch (0 .. 9)
{
	my $from = $batch * 10 + 1;
	my $to = $from + 9;
	$node->safe_psql('postgres', qq{
SELECT count(*) FROM pgmsg.send_batch('fq',
    ARRAY(SELECT jsonb_build_object('g', g, 'n', n)
            FROM generate_series($from, $to) n, generate_series(1, $ngroups) g
           ORDER BY n, g),
    group_ids => ARRAY(SELECT 'group' || g
                         FROM generate_series($from, $to) n, generate_series(1, $ngroups) g
                        ORDER BY n, g));
});
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_fq}),
	$ngroups * $per_group, 'all messages sent');
is( $node->safe_psql('postgres', q{
SELECT bool_and(n_in_order) FROM (
  SELECT (body->>'n')::int > lag((body->>'n')::int, 1, 0) OVER (PARTITION BY group_id ORDER BY msg_id)
         AS n_in_order
    FROM pgmsg.q_fq) s}),
	't', 'each group was sent in order');

# The consumers, each running CALL consume(<id>) in its own psql.
run_sessions($node, 'postgres',
	map { [ "consumer $_", "CALL consume($_)" ] } 1 .. $nconsumers);

note 'per consumer: transactions, messages, transactions with several messages of one group: '
  . $node->safe_psql('postgres', q{
SELECT string_agg(format('%s: %s, %s, %s', consumer, ntx, nmsg, nmulti), '; ' ORDER BY consumer)
  FROM (SELECT consumer, count(DISTINCT txid) AS ntx, count(*) AS nmsg,
               count(DISTINCT txid) FILTER (WHERE per_group > 1) AS nmulti
          FROM (SELECT *, count(*) OVER (PARTITION BY txid, g) AS per_group FROM log) l
         GROUP BY consumer) s});

# Every message deleted exactly once, and nothing left.
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_fq}),
	'0', 'the queue is empty');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log WHERE action = 'delete' AND ok}),
	$ngroups * $per_group, 'as many deletes as messages');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT g, n FROM log WHERE action = 'delete' AND ok
                       GROUP BY g, n HAVING count(*) = 1) s}),
	$ngroups * $per_group, 'every message deleted exactly once');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log WHERE action IN ('delete', 'release') AND ok IS NOT TRUE}),
	'0', 'no receipt was stale');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log WHERE g NOT BETWEEN 1 AND 10 OR n NOT BETWEEN 1 AND 100
    OR (SELECT count(DISTINCT msg_id) FROM log l2 WHERE l2.g = log.g AND l2.n = log.n) <> 1}),
	'0', 'only the messages sent were received');

# Receive counts of each message run 1, 2, ... with no gap or repeat.
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT array_agg(receive_count ORDER BY receive_count) AS counts, count(*) AS c
    FROM log GROUP BY g, n) s
 WHERE counts <> ARRAY(SELECT generate_series(1, c::int))}),
	'0', 'receive counts count every receive');

# The consumers did release some messages and let some expire, and those
# were delivered again.
my ($nrelease, $nleave, $nredelivered) = split /\|/, $node->safe_psql(
	'postgres', q{
SELECT count(*) FILTER (WHERE action = 'release'),
       count(*) FILTER (WHERE action = 'leave'),
       count(*) FILTER (WHERE receive_count > 1)
  FROM log});
cmp_ok($nrelease, '>', 0, "messages released: $nrelease");
cmp_ok($nleave, '>', 0, "messages left to expire: $nleave");
is($nredelivered, $nrelease + $nleave, 'each of them delivered again once');

# No group was handed to two transactions at once: for each group, the
# [received_at, done_at] spans of different transactions do not overlap.
my $overlaps = $node->safe_psql('postgres', q{
WITH span AS (
  SELECT g, txid, min(consumer) AS consumer, min(received_at) AS t0, max(done_at) AS t1
    FROM log GROUP BY g, txid)
SELECT a.g, a.consumer, a.txid, a.t0, a.t1, b.consumer, b.txid, b.t0, b.t1
  FROM span a JOIN span b ON a.g = b.g AND a.txid < b.txid
 WHERE a.t0 <= b.t1 AND b.t0 <= a.t1
 ORDER BY a.g, a.t0
 LIMIT 20});
is($overlaps, '', 'no group was in two transactions at once');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM log WHERE done_at IS NULL OR done_at < received_at}),
	'0', 'every span has an end after its start');

# Each group's order: when message n of a group was received, every earlier
# message of the group had been deleted by a transaction done before then,
# or came earlier in the same receive.
my $out_of_order = $node->safe_psql('postgres', q{
SELECT r.g, r.n, r.receive_count, r.consumer, r.txid, m.m AS missing
  FROM log r, generate_series(1, r.n - 1) AS m(m)
 WHERE NOT EXISTS (SELECT 1 FROM log d
                    WHERE d.g = r.g AND d.n = m.m AND d.action = 'delete' AND d.ok
                      AND d.done_at < r.received_at)
   AND NOT EXISTS (SELECT 1 FROM log s
                    WHERE s.txid = r.txid AND s.g = r.g AND s.n = m.m AND s.pos < r.pos)
 ORDER BY r.g, r.n, r.receive_count
 LIMIT 20});
is($out_of_order, '', 'every group was delivered in order');

# Late holders.  A second queue of 1,000 messages in 10 groups, taken by 4
# sessions with a half-second visibility timeout and up to 1 to 5 messages a
# receive.  When a first receive's batch holds a message with n a multiple of
# 10, the consumer commits without deleting, waits past the timeout and only
# then deletes the batch, in a transaction of its own: by then another
# consumer may have taken the group again from its first message.  Every
# late delete must change nothing, and each group must still be processed in
# send order.
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('fl', fifo => true, visibility_timeout => '0.5 seconds');
CREATE TABLE llog (LIKE log);

CREATE PROCEDURE consume_late(cid int) LANGUAGE plpgsql AS $$
DECLARE
    msgs pgmsg.message[];
    m pgmsg.message;
    t timestamptz;
    pos int;
    late boolean;
    done timestamptz;
    tries int := 0;
    empty_tries int := 0;
    deadline timestamptz := clock_timestamp() + interval '90 seconds';
BEGIN
    LOOP
        tries := tries + 1;
        SELECT array_agg(ROW(r.message_id, r.receipt, r.body, r.attributes, r.receive_count,
                             r.sent_at, r.first_received_at, r.group_id)::pgmsg.message
                         ORDER BY r.o)
          INTO msgs
          FROM pgmsg.receive('fl', 1 + (cid + tries) % 5, wait => '0.5 seconds')
               WITH ORDINALITY AS r(message_id, receipt, body, attributes, receive_count,
                                    sent_at, first_received_at, group_id, o);
        t := clock_timestamp();
        pos := 0;
        IF msgs IS NOT NULL THEN
            SELECT bool_or(x.receive_count = 1 AND (x.body->>'n')::int % 10 = 0) INTO late
              FROM unnest(msgs) x;
            FOREACH m IN ARRAY msgs LOOP
                pos := pos + 1;
                INSERT INTO llog VALUES (cid, (m.body->>'g')::int, (m.body->>'n')::int,
                    m.message_id, m.receive_count, pg_current_xact_id()::text::bigint,
                    pos, CASE WHEN late THEN 'late' ELSE 'delete' END,
                    CASE WHEN late THEN NULL ELSE pgmsg.delete('fl', m.receipt) END, t, NULL);
            END LOOP;
            -- one time for the whole transaction: its rows are ordered by pos
            done := clock_timestamp();
            UPDATE llog SET done_at = done
             WHERE txid = pg_current_xact_id()::text::bigint;
            COMMIT;
            IF late THEN
                -- past the timeout: t was read after the receive took its leases
                PERFORM pg_sleep(greatest(0, extract(epoch FROM
                    t + interval '0.55 seconds' - clock_timestamp()))::float8);
                pos := 0;
                FOREACH m IN ARRAY msgs LOOP
                    pos := pos + 1;
                    UPDATE llog SET ok = pgmsg.delete('fl', m.receipt)
                     WHERE msg_id = m.message_id AND receive_count = m.receive_count;
                END LOOP;
                COMMIT;
            END IF;
        END IF;
        COMMIT;

        IF pos = 0 AND (SELECT messages_visible + messages_in_flight + messages_delayed
                          FROM pgmsg.queues WHERE name = 'fl') = 0 THEN
            empty_tries := empty_tries + 1;
        ELSE
            empty_tries := 0;
        END IF;
        EXIT WHEN empty_tries >= 3 OR clock_timestamp() > deadline;
    END LOOP;
END
$$;
SELECT count(*) FROM pgmsg.send_batch('fl',
    ARRAY(SELECT jsonb_build_object('g', g, 'n', n)
            FROM generate_series(1, 100) n, generate_series(1, 10) g ORDER BY n, g),
    group_ids => ARRAY(SELECT 'group' || g
                         FROM generate_series(1, 100) n, generate_series(1, 10) g ORDER BY n, g));
});

run_sessions($node, 'postgres',
	map { [ "late consumer $_", "CALL consume_late($_)" ] } 1 .. $nconsumers);

is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_fl}),
	'0', 'late holders: the queue is empty');
my ($nlate, $nlate_ok) = split /\|/, $node->safe_psql('postgres', q{
SELECT count(*), count(*) FILTER (WHERE ok IS NOT FALSE) FROM llog WHERE action = 'late'});
cmp_ok($nlate, '>=', 100, "late holders: messages deleted late: $nlate");
is($nlate_ok, '0', 'late holders: no late delete deleted anything');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT g, n FROM llog WHERE action = 'delete' AND ok
                       GROUP BY g, n HAVING count(*) = 1) s}),
	$ngroups * $per_group, 'late holders: every message deleted exactly once');
# Deletes in time are in the receiving transaction, so they never fail.
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM llog WHERE action = 'delete' AND ok IS NOT TRUE}),
	'0', 'late holders: every delete in time deleted');
# Per group, the deletes committed in send order, and a message was only
# received once every earlier one had been deleted or came before it in the
# same receive.
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT n, lag(n) OVER (PARTITION BY g ORDER BY done_at, pos) AS prev
    FROM llog WHERE action = 'delete' AND ok) s
 WHERE n <> coalesce(prev, 0) + 1}),
	'0', 'late holders: each group deleted in send order');
is( $node->safe_psql('postgres', q{
SELECT count(*)
  FROM llog r, generate_series(1, r.n - 1) AS m(m)
 WHERE NOT EXISTS (SELECT 1 FROM llog d
                    WHERE d.g = r.g AND d.n = m.m AND d.action = 'delete' AND d.ok
                      AND d.done_at < r.received_at)
   AND NOT EXISTS (SELECT 1 FROM llog s
                    WHERE s.txid = r.txid AND s.g = r.g AND s.n = m.m AND s.pos < r.pos)}),
	'0', 'late holders: every group was delivered in order');

$node->stop;
done_testing();
