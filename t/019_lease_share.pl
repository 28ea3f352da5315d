# One queue cannot take the whole lease map: its in-flight limit is the
# lesser of its max_in_flight and pgmsg.queue_lease_share percent of
# pgmsg.max_leases, so the other queues of every database can still
# receive.  The share is reloadable.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('lease_share');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.max_leases = 100
});
$node->start;
is($node->safe_psql('postgres', 'SHOW pgmsg.queue_lease_share'), '50', 'the default share is 50 percent');

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('big', visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('other', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('big', array_fill('{}'::jsonb, ARRAY[200]));
SELECT count(*) FROM pgmsg.send_batch('other', array_fill('{}'::jsonb, ARRAY[200]));
});

is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('big', 1000)}),
	'50', 'a receive takes no more than the queue\'s share of the lease map');
my ($ret, $out, $err) = $node->psql('postgres',
	q{\set VERBOSITY default
SELECT count(*) FROM pgmsg.receive('big', 10)});
like($err, qr/ERROR:  too many messages in flight in queue "big"\nDETAIL:  The queue's limit is 50, pgmsg.queue_lease_share percent of pgmsg.max_leases\./,
	'the next receive of that queue is refused, naming the share');
# 50 of the 100 leases are still free for the other queues
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('other', 30)}),
	'30', 'another queue still receives');

# a queue's own max_in_flight below the share is the limit
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('small', visibility_timeout => '1 hour', max_in_flight => 3);
SELECT count(*) FROM pgmsg.send_batch('small', array_fill('{}'::jsonb, ARRAY[10]));
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('small', 10)}),
	'3', 'max_in_flight below the share bounds the queue');

# a reload changes the share
$node->append_conf('postgresql.conf', "pgmsg.queue_lease_share = 60\n");
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('pgmsg.queue_lease_share') = '60'});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('big', 1000)}),
	'10', 'after a reload to 60 percent the queue takes 10 more');

$node->stop;
done_testing();
