# The counts of pgmsg.queues when the worker's retention deletes messages
# that are in flight: the stored count is taken again, the leases of the
# deleted messages go with them, and no count may go negative or show more
# in flight than is stored.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('counts');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.worker_naptime = 100
pgmsg.retention_interval = 200
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgmsg');

my $counts = q{SELECT messages_visible || ',' || messages_in_flight || ',' || messages_delayed
                 FROM pgmsg.queues WHERE name = 'ret'};

# One message received with a lease that is still valid, one whose lease
# has expired, one never received: all three past retention.
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('ret', retention => '1 minute');
SELECT pgmsg.send('ret', '{"n": 1}');
SELECT count(*) FROM pgmsg.receive('ret', 1, visibility_timeout => '1 hour');
SELECT pgmsg.send('ret', '{"n": 2}');
SELECT count(*) FROM pgmsg.receive('ret', 1, visibility_timeout => '0');
SELECT pgmsg.send('ret', '{"n": 3}');
});
is($node->safe_psql('postgres', $counts), '2,1,0', 'one in flight, two visible');

$node->safe_psql('postgres', q{
UPDATE pgmsg.q_ret SET sent_at = sent_at - interval '2 minutes',
                       visible_at = visible_at - interval '2 minutes';
});
ok($node->poll_query_until('postgres', q{SELECT count(*) FROM pgmsg.q_ret}, '0'),
	'retention removes the messages, leased or not');
ok($node->poll_query_until('postgres', $counts, '0,0,0'),
	'and the view counts nothing, none of it negative');
is($node->safe_psql('postgres',
		q{SELECT oldest_message_age IS NULL FROM pgmsg.queues WHERE name = 'ret'}),
	't', 'and has no oldest message');

# A new message is visible at once: the leases of the deleted rows are
# not counted against it.
$node->safe_psql('postgres', q{SELECT pgmsg.send('ret', '{"n": 4}')});
is($node->safe_psql('postgres', $counts), '1,0,0', 'a new message is visible');
is($node->safe_psql('postgres',
		q{SELECT string_agg(body::text, ',') FROM pgmsg.receive('ret', 10)}),
	'{"n": 4}', 'and it is the one received');

# After a restart no queue has a slot until it is used, and reading the
# view sets none up: it counts the queue from its index, delayed messages
# too, with nothing in flight (the restart forgot the lease) and the
# totals at zero.  Once the queue is used, its slot keeps the counts.
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('cold');
SELECT count(*) FROM pgmsg.send_batch('cold', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
SELECT pgmsg.send('cold', '{"n": 4}', delay => '15 minutes');
SELECT count(*) FROM pgmsg.receive('cold', 1, visibility_timeout => '1 hour');
});
my $cold = q{SELECT messages_visible || ',' || messages_in_flight || ',' || messages_delayed
                    || ',' || sent_total || ',' || (oldest_message_age IS NOT NULL)
               FROM pgmsg.queues WHERE name = 'cold'};
is($node->safe_psql('postgres', $cold), '2,1,1,4,true', 'cold: one in flight, one delayed');
$node->restart;
is($node->safe_psql('postgres', $cold), '3,0,1,0,true',
	'after a restart the view counts the queue from its index');
is($node->safe_psql('postgres', $cold), '3,0,1,0,true', 'and again, having set up no slot');
$node->safe_psql('postgres',
	q{SELECT count(*) FROM pgmsg.receive('cold', 1, visibility_timeout => '1 hour')});
is($node->safe_psql('postgres', $cold), '2,1,1,0,true', 'once used, from its slot');

$node->stop;
done_testing();
