# The launcher and per-database workers: started where pgmsg is installed,
# started by CREATE EXTENSION without a restart, ended by DROP EXTENSION,
# back after kill -9, and doing retention and redrive with no client.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
pgmsg.worker_naptime = 100
pgmsg.launcher_naptime = 200
pgmsg.retention_interval = 200
});
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE db1');
$node->safe_psql('postgres', 'CREATE DATABASE db2');
$node->safe_psql('postgres', 'CREATE DATABASE db3');
$node->safe_psql('db1', 'CREATE EXTENSION pgmsg');
$node->safe_psql('db2', 'CREATE EXTENSION pgmsg');

my $workers = q{SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity
                 WHERE backend_type = 'pgmsg worker'};
ok($node->poll_query_until('postgres', $workers, 'db1,db2'),
	'a worker in each database with pgmsg, none elsewhere');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg launcher'}),
	'1', 'one launcher');

$node->safe_psql('db3', 'CREATE EXTENSION pgmsg');
ok($node->poll_query_until('postgres', $workers, 'db1,db2,db3'),
	'CREATE EXTENSION starts a worker without a restart');

$node->safe_psql('db3', 'DROP EXTENSION pgmsg');
ok($node->poll_query_until('postgres', $workers, 'db1,db2'),
	'DROP EXTENSION ends it');

# kill -9 of a worker: the postmaster restarts everything, workers come back
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg worker' AND datname = 'db1'});
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'
		    AND datname = 'db1' AND pid <> $pid}, '1'),
	'a worker killed with kill -9 comes back');
ok($node->poll_query_until('postgres', $workers, 'db1,db2'), 'and only one per database');

# retention with no client connected
$node->safe_psql('db1', q{
SELECT pgmsg.create_queue('ret', retention => '1 minute');
SELECT pgmsg.send_batch('ret', ARRAY['{"old": 1}', '{"old": 2}', '{"new": 1}']::jsonb[]);
UPDATE pgmsg.q_ret SET sent_at = sent_at - interval '2 minutes',
                       visible_at = visible_at - interval '2 minutes'
 WHERE body ? 'old';
});
ok($node->poll_query_until('db1', q{SELECT count(*) FROM pgmsg.q_ret}, '1'),
	'retention removes old messages with no client');
is($node->safe_psql('db1', q{SELECT body FROM pgmsg.q_ret}), '{"new": 1}',
	'and keeps the others');

# start_redrive: the worker moves a dead-letter queue back
$node->safe_psql('db2', q{
SELECT pgmsg.create_queue('dlq');
SELECT pgmsg.create_queue('src', visibility_timeout => '0', dead_letter_queue => 'dlq', max_receive_count => 1);
SELECT pgmsg.send_batch('src', (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 2500) i));
SELECT count(*) FROM pgmsg.receive('src', 1000);
SELECT count(*) FROM pgmsg.receive('src', 1000);
SELECT count(*) FROM pgmsg.receive('src', 1000);
SELECT count(*) FROM pgmsg.receive('src', 1000);
SELECT count(*) FROM pgmsg.receive('src', 1000);
SELECT count(*) FROM pgmsg.receive('src', 1000);
});
is($node->safe_psql('db2', q{SELECT count(*) FROM pgmsg.q_dlq}), '2500', 'all dead-lettered');
my $task = $node->safe_psql('db2', q{SELECT pgmsg.start_redrive('dlq')});
ok($node->poll_query_until('db2',
		qq{SELECT state || ' ' || moved FROM pgmsg.redrive_tasks WHERE task_id = $task},
		'completed 2500'),
	'the worker completes a redrive task');
is($node->safe_psql('db2', q{SELECT count(*) || ' ' || max(receive_count) FROM pgmsg.q_src}),
	'2500 0', 'moved messages are new messages');

$node->stop('fast');
pass('workers stop cleanly on a fast shutdown');
done_testing();
