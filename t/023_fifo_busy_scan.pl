# A receive of a FIFO queue whose messages all belong to busy groups:
# 100,000 messages in 1,000 groups, each group with one message in flight.
# The scan under the queue lock is bounded, so such a receive returns
# nothing without visiting the whole backlog; the time per receive is
# reported, not asserted.  Once the groups are released, every group is
# delivered in order.  Then the cost of a purge of one queue while another
# holds 90,000 leases.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fifo_busy_scan');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
# one queue holds most of the lease map here
pgmsg.queue_lease_share = 100
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('fb', fifo => true, visibility_timeout => '1 hour');
SELECT count(*) FROM generate_series(0, 99) b,
  LATERAL pgmsg.send_batch('fb',
    ARRAY(SELECT jsonb_build_object('g', g, 'n', b + 1) FROM generate_series(1, 1000) g),
    group_ids => ARRAY(SELECT 'g' || g FROM generate_series(1, 1000) g));
CREATE TABLE held AS SELECT * FROM pgmsg.receive('fb', 1) LIMIT 0;
DO $$
BEGIN
    FOR i IN 1 .. 1000 LOOP
        INSERT INTO held SELECT * FROM pgmsg.receive('fb', 1);
    END LOOP;
END
$$;
});
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT group_id), max((body->>'n')::int) FROM held}),
	'1000|1000|1', 'each of the 1,000 groups has its first message in flight');

my $timing = $node->safe_psql('postgres', q{
CREATE TEMP TABLE t (ms float8, got int);
DO $$
DECLARE
    t0 timestamptz;
    n int;
BEGIN
    FOR i IN 1 .. 20 LOOP
        t0 := clock_timestamp();
        SELECT count(*) INTO n FROM pgmsg.receive('fb', 10);
        INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000, n);
    END LOOP;
END
$$;
SELECT format('%s|%s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2), sum(got)) FROM t;
});
my ($ms, $got) = split /\|/, $timing;
note "receive of a FIFO queue with 100,000 messages in 1,000 busy groups: $ms ms (median of 20)";
is($got, '0', 'nothing is received while every group is busy');

# Released, the groups come again in order, each from its first message.
$node->safe_psql('postgres', q{SELECT pgmsg.change_visibility('fb', array_agg(receipt), '0') FROM held});
is( $node->safe_psql('postgres', q{
CREATE TEMP TABLE r AS SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fb', 1000);
SELECT count(*), count(*) FILTER (WHERE (body->>'n')::int = 1 AND receive_count = 2) FROM r;
}), '1000|1000', 'released, each group comes from its first message');

# Dropping one queue's leases walks that queue's own, however many other
# queues hold: a purge of a queue with one message in flight, while
# another queue has 90,000.
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('big', visibility_timeout => '1 hour');
SELECT count(*) FROM generate_series(1, 90) b,
  LATERAL pgmsg.send_batch('big',
    ARRAY(SELECT jsonb_build_object('n', (b - 1) * 1000 + i) FROM generate_series(1, 1000) i));
});
$node->safe_psql('postgres', q{
DO $$
BEGIN
    FOR i IN 1 .. 90 LOOP
        PERFORM count(*) FROM pgmsg.receive('big', 1000);
    END LOOP;
END
$$;
SELECT pgmsg.create_queue('small', visibility_timeout => '1 hour');
});
is($node->safe_psql('postgres', q{SELECT messages_in_flight FROM pgmsg.queues WHERE name = 'big'}),
	'90000', '90,000 messages in flight in another queue');
my $purge = $node->safe_psql('postgres', q{
CREATE TEMP TABLE p (ms float8);
CREATE PROCEDURE purge_small() LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    FOR i IN 1 .. 20 LOOP
        PERFORM pgmsg.send('small', '{}');
        PERFORM count(*) FROM pgmsg.receive('small', 1);
        COMMIT;
        t0 := clock_timestamp();
        PERFORM pgmsg.purge_queue('small');
        COMMIT;
        INSERT INTO p VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
END
$$;
CALL purge_small();
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM p;
});
note "purge of a queue with one message in flight, 90,000 in flight elsewhere: $purge ms (median of 20)";
is($node->safe_psql('postgres', q{
SELECT string_agg(name || ':' || messages_in_flight, ' ' ORDER BY name) FROM pgmsg.queues WHERE name IN ('big', 'small')}),
	'big:90000 small:0', 'the purges dropped only their own queue\'s leases');

$node->stop;
done_testing();
