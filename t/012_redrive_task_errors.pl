# A redrive task whose batch fails records the error in last_error: an
# error that retrying cannot cure fails the task; after any other error the
# task stays running and the worker tries it again after a pause.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('redrive_errors');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.max_leases = 16
pgmsg.queue_lease_share = 100
pgmsg.launcher_naptime = 100
pgmsg.worker_naptime = 100
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('dlq');
SELECT pgmsg.create_queue('dest');
SELECT pgmsg.create_queue('fifo', fifo => true);
SELECT pgmsg.create_queue('busy', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('dlq', (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 10) i));
});

# Messages of a standard queue cannot go to a FIFO queue: the task fails.
my $task = $node->safe_psql('postgres',
	q{SELECT pgmsg.start_redrive('dlq', destination => 'fifo')});
ok( $node->poll_query_until('postgres',
		qq{SELECT state FROM pgmsg.redrive_tasks WHERE task_id = $task}, 'failed'),
	'a task that cannot succeed fails');
is( $node->safe_psql('postgres', qq{
		SELECT moved || ' | ' || last_error || ' | ' || (finished_at IS NOT NULL)
		  FROM pgmsg.redrive_tasks WHERE task_id = $task}),
	'0 | cannot redrive messages of standard queue "dlq" into FIFO queue "fifo" | true',
	'and says why');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_dlq}),
	'10', 'nothing moved');

# 10 of the 16 leases are taken: a batch of 10 runs out of leases, and the
# task waits until there are enough.
$node->safe_psql('postgres', q{
SELECT count(*) FROM pgmsg.send_batch('busy', (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 10) i));
CREATE TABLE busy_receipts AS SELECT receipt FROM pgmsg.receive('busy', 10);
});
$task = $node->safe_psql('postgres',
	q{SELECT pgmsg.start_redrive('dlq', destination => 'dest')});
ok( $node->poll_query_until('postgres',
		qq{SELECT state || ' | ' || last_error FROM pgmsg.redrive_tasks WHERE task_id = $task},
		'running | too many messages in flight'),
	'a task that runs out of leases records the error and keeps running');
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.delete('busy', array_agg(receipt)) FROM busy_receipts}),
	'10', 'leases freed');
ok( $node->poll_query_until('postgres',
		qq{SELECT state || ' ' || moved FROM pgmsg.redrive_tasks WHERE task_id = $task},
		'completed 10'),
	'then it is retried and completes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_dest}),
	'10', 'all moved');

$node->stop;
done_testing();
