# A receive of a FIFO queue whose messages all belong to busy groups:
# 100,000 messages in 1,000 groups, each group with one message in flight.
# The scan under the queue lock is bounded, so such a receive returns
# nothing without visiting the whole backlog; the time per receive is
# reported, not asserted.  Once the groups are released, every group is
# delivered in order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fifo_busy_scan');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
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

$node->stop;
done_testing();
