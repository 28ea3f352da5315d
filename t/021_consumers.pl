# Concurrent consumers of a standard queue, which share its read-ahead,
# while producers keep sending: 1,000 messages sent first and 2 x 250 sent
# one per transaction during the run, taken by 4 sessions that receive 1 to
# 3 messages per transaction.  On a message's first receive they roll the
# whole transaction back for some, release some at once, let some expire
# after a short visibility, and delete the rest.  The log the consumers keep
# must show every message deleted exactly once and never held by two
# transactions at once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use t::Sessions;

my $nfirst = 1000;
my $nproducers = 2;
my $per_producer = 250;
my $nconsumers = 4;
my $total = $nfirst + $nproducers * $per_producer;

my $node = PostgreSQL::Test::Cluster->new('consumers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('cq', visibility_timeout => '30 seconds');

-- One row per message received in a committed transaction.
CREATE TABLE log (
    consumer        int NOT NULL,
    p               int NOT NULL,       -- producer, 0 for the first batch
    n               int NOT NULL,
    msg_id          bigint NOT NULL,
    receive_count   int NOT NULL,
    txid            bigint NOT NULL,
    action          text NOT NULL,      -- delete, release or expire
    ok              boolean,            -- what delete or change_visibility returned
    received_at     timestamptz NOT NULL,
    done_at         timestamptz
);
CREATE TABLE producers_done (p int PRIMARY KEY);
-- not transactional: counts the receives that were rolled back
CREATE SEQUENCE rolled_back;

CREATE PROCEDURE produce(pid int, count int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. count LOOP
        PERFORM pgmsg.send('cq', jsonb_build_object('p', pid, 'n', i));
        COMMIT;
    END LOOP;
    INSERT INTO producers_done VALUES (pid);
    COMMIT;
END
$$;

-- A consumer: one transaction per receive of 1 to 3 messages.  On a
-- message's first receive, p * 1000 + n decides: a multiple of 11 rolls
-- the transaction back (once per consumer and message), of 7 releases it at
-- once, of 13 gives it 0.2 seconds to expire; every other receive deletes.
-- It stops when every producer is done and the queue has stayed empty for
-- three tries in a row, or after 90 seconds.
CREATE PROCEDURE consume(cid int) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    t timestamptz;
    k int;
    act text;
    ok boolean;
    got int;
    roll boolean;
    rolled int[] := '{}';
    empty_tries int := 0;
    deadline timestamptz := clock_timestamp() + interval '90 seconds';
BEGIN
    LOOP
        got := 0;
        roll := false;
        FOR r IN SELECT * FROM pgmsg.receive('cq', 1 + (random() * 2)::int,
                                             wait => '0.2 seconds') LOOP
            got := got + 1;
            IF got = 1 THEN
                t := clock_timestamp();     -- the receive has returned
            END IF;
            k := (r.body->>'p')::int * 1000 + (r.body->>'n')::int;
            IF r.receive_count = 1 AND k % 11 = 0 AND NOT k = ANY (rolled) THEN
                rolled := rolled || k;
                roll := true;
                CONTINUE;
            ELSIF r.receive_count = 1 AND k % 7 = 0 THEN
                act := 'release';
                ok := pgmsg.change_visibility('cq', r.receipt, '0');
            ELSIF r.receive_count = 1 AND k % 13 = 0 THEN
                act := 'expire';
                ok := pgmsg.change_visibility('cq', r.receipt, '0.2 seconds');
            ELSE
                act := 'delete';
                ok := pgmsg.delete('cq', r.receipt);
            END IF;
            INSERT INTO log VALUES (cid, (r.body->>'p')::int, (r.body->>'n')::int,
                r.message_id, r.receive_count, pg_current_xact_id()::text::bigint,
                act, ok, t, NULL);
        END LOOP;
        IF roll THEN
            PERFORM nextval('rolled_back');
            ROLLBACK;
        ELSE
            UPDATE log SET done_at = clock_timestamp()
             WHERE txid = pg_current_xact_id()::text::bigint;
            COMMIT;
        END IF;

        IF got = 0
           AND (SELECT count(*) FROM producers_done) = 2
           AND (SELECT messages_visible + messages_in_flight + messages_delayed
                  FROM pgmsg.queues WHERE name = 'cq') = 0 THEN
            empty_tries := empty_tries + 1;
        ELSE
            empty_tries := 0;
        END IF;
        EXIT WHEN empty_tries >= 3 OR clock_timestamp() > deadline;
    END LOOP;
END
$$;
});

$node->safe_psql('postgres', qq{
SELECT count(*) FROM pgmsg.send_batch('cq',
    ARRAY(SELECT jsonb_build_object('p', 0, 'n', n) FROM generate_series(1, $nfirst) n));
});

# Producers and consumers, each in its own psql.
run_sessions($node, 'postgres',
	(map { [ "producer $_", "CALL produce($_, $per_producer)" ] } 1 .. $nproducers),
	(map { [ "consumer $_", "CALL consume($_)" ] } 1 .. $nconsumers));

note 'per consumer: transactions, messages: '
  . $node->safe_psql('postgres', q{
SELECT string_agg(format('%s: %s, %s', consumer, ntx, nmsg), '; ' ORDER BY consumer)
  FROM (SELECT consumer, count(DISTINCT txid) AS ntx, count(*) AS nmsg
          FROM log GROUP BY consumer) s});

is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_cq}),
	'0', 'the queue is empty');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT p, n FROM log WHERE action = 'delete' AND ok
                       GROUP BY p, n HAVING count(*) = 1) s}),
	$total, 'every message deleted exactly once');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log WHERE action = 'delete' AND ok}),
	$total, 'and no more deletes than messages');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log WHERE ok IS NOT TRUE}),
	'0', 'no receipt was stale');
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM log
 WHERE NOT ((p = 0 AND n BETWEEN 1 AND $nfirst) OR (p BETWEEN 1 AND $nproducers AND n BETWEEN 1 AND $per_producer))
    OR (SELECT count(DISTINCT msg_id) FROM log l2 WHERE l2.p = log.p AND l2.n = log.n) <> 1}),
	'0', 'only the messages sent were received');

# A committed receive counts once: each message's counts run 1, 2, ...
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT array_agg(receive_count ORDER BY receive_count) AS counts, count(*) AS c
    FROM log GROUP BY p, n) s
 WHERE counts <> ARRAY(SELECT generate_series(1, c::int))}),
	'0', 'receive counts count every committed receive');

# While a lease held, nobody else had the message: the transactions that
# received it did not overlap.  (A lease lasts 30 seconds, or 0.2 seconds
# after an "expire", which is set just before that transaction commits.)
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log a JOIN log b
    ON a.p = b.p AND a.n = b.n AND a.txid < b.txid
 WHERE a.received_at < b.done_at AND b.received_at < a.done_at}),
	'0', 'no message was held by two transactions at once');

my ($nrelease, $nexpire, $nredelivered, $nrolled) = split /\|/, $node->safe_psql(
	'postgres', q{
SELECT count(*) FILTER (WHERE action = 'release'),
       count(*) FILTER (WHERE action = 'expire'),
       count(*) FILTER (WHERE receive_count > 1),
       (SELECT last_value FROM rolled_back)
  FROM log});
cmp_ok($nrelease, '>', 0, "messages released: $nrelease");
cmp_ok($nexpire, '>', 0, "messages left to expire: $nexpire");
is($nredelivered, $nrelease + $nexpire, 'each of them delivered again once');
cmp_ok($nrolled, '>', 0, "receives rolled back: $nrolled");

# A rolled-back receive left no lease and no count: every message whose
# first receive was rolled back was later received with count 1.
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM log
 WHERE ((p * 1000 + n) % 11) = 0 AND receive_count = 1 AND action <> 'delete'
   AND ((p * 1000 + n) % 7) <> 0 AND ((p * 1000 + n) % 13) <> 0}),
	'0', 'a message given back by a rollback came back with count 1 and was deleted');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pgmsg.queues WHERE name = 'cq'
   AND (messages_in_flight <> 0 OR deleted_total <> received_total - (
        SELECT count(*) FROM log WHERE action <> 'delete'))}),
	'0', 'nothing in flight, and the counters agree with the log');

$node->stop;
done_testing();
