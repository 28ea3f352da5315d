# The launcher and per-database workers: started where pgmsg is installed,
# started by CREATE EXTENSION without a restart, ended by DROP EXTENSION,
# one per database even when the launcher itself is restarted, back after
# pg_terminate_backend and kill -9, and doing retention and redrive with
# no client connected.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
# pgmsg.max_databases = 6: postgres, db1, db2, db3 and db4 below, plus one
# entry that only works if the entries of dropped databases are recycled.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
pgmsg.max_databases = 6
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
my $launchers = q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg launcher'};
sub worker_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg worker' AND datname = '$db'});
}

ok($node->poll_query_until('postgres', $workers, 'db1,db2'),
	'a worker in each database with pgmsg, none elsewhere');
is($node->safe_psql('postgres', $launchers), '1', 'one launcher');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg launcher' AND datname IS NULL}),
	'1', 'the launcher is connected to no database');

# CREATE EXTENSION in a database the launcher knows has no pgmsg
$node->safe_psql('db3', 'CREATE EXTENSION pgmsg');
ok($node->poll_query_until('postgres', $workers, 'db1,db2,db3'),
	'CREATE EXTENSION starts a worker without a restart');

$node->safe_psql('db3', q{SELECT pgmsg.create_queue('gone')});
$node->safe_psql('db3', 'DROP EXTENSION pgmsg CASCADE');
ok($node->poll_query_until('postgres', $workers, 'db1,db2'),
	'DROP EXTENSION ends it');

# start_worker() is for superusers and the database owner
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
ALTER DATABASE db2 OWNER TO bob;
});
$node->safe_psql('db2', 'GRANT EXECUTE ON FUNCTION pgmsg.start_worker() TO alice, bob');
my ($ret, $stdout, $stderr) = $node->psql('db2', 'SELECT pgmsg.start_worker()',
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/permission denied to start the pgmsg worker/,
	'start_worker() refuses other roles');
($ret, $stdout, $stderr) = $node->psql('db2', 'SELECT pgmsg.start_worker()',
	extra_params => [ '-U', 'bob' ]);
is($ret, 0, 'the database owner may call start_worker()');

# Databases that come and go: their entries are recycled, so a database
# created after them still gets its worker.  Each gets a worker first, so
# the launcher surely had an entry for it.
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', "CREATE DATABASE tmp$i");
	$node->safe_psql("tmp$i", 'CREATE EXTENSION pgmsg');
	ok($node->poll_query_until('postgres',
			qq{SELECT count(*) FROM pg_stat_activity
			    WHERE backend_type = 'pgmsg worker' AND datname = 'tmp$i'}, '1'),
		"a worker in tmp$i");
	$node->safe_psql('postgres', "DROP DATABASE tmp$i WITH (FORCE)");
}
$node->safe_psql('postgres', 'CREATE DATABASE db4');
$node->safe_psql('db4', 'CREATE EXTENSION pgmsg');
ok($node->poll_query_until('postgres', $workers, 'db1,db2,db4'),
	'dropped databases leave no entry behind');

# A launcher that exits (not a crash) is started again by the postmaster;
# the workers keep running, and the new launcher starts no second worker.
my ($pid1, $pid2) = (worker_pid('db1'), worker_pid('db2'));
my $launcher = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg launcher'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher)");
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) FROM pg_stat_activity
		    WHERE backend_type = 'pgmsg launcher' AND pid <> $launcher}, '1'),
	'the launcher comes back');
$node->safe_psql('db3', 'CREATE EXTENSION pgmsg');
ok($node->poll_query_until('postgres', $workers, 'db1,db2,db3,db4'),
	'the new launcher starts workers');
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'}, '4'),
	'one worker per database');
is($node->safe_psql('postgres',
		qq{SELECT count(*) FROM pg_stat_activity WHERE pid IN ($pid1, $pid2)}),
	'2', 'the workers outlived their launcher');

# A worker that dies (here terminated) is started again, after a pause.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid2)");
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'
		    AND datname = 'db2' AND pid <> $pid2}, '1'),
	'a terminated worker is started again');

# kill -9 of a worker: the postmaster restarts everything, workers come back
$node->safe_psql('db3', 'DROP EXTENSION pgmsg');
$node->safe_psql('postgres', 'DROP DATABASE db4 WITH (FORCE)');
ok($node->poll_query_until('postgres', $workers, 'db1,db2'), 'back to two workers');
my $pid = worker_pid('db1');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg worker'
		    AND datname = 'db1' AND pid <> $pid}, '1'),
	'a worker killed with kill -9 comes back');
ok($node->poll_query_until('postgres', $workers, 'db1,db2'), 'and only one per database');
is($node->safe_psql('postgres', $launchers), '1', 'and one launcher');

# Retention with no client connected: messages sent more than a retention
# ago go, the others stay, and the stored-message count follows.
$node->safe_psql('db1', q{
SELECT pgmsg.create_queue('ret', retention => '1 minute');
SELECT pgmsg.send_batch('ret', ARRAY['{"old": 1}', '{"old": 2}', '{"new": 1}']::jsonb[]);
SELECT messages_visible FROM pgmsg.queues WHERE name = 'ret';
UPDATE pgmsg.q_ret SET sent_at = sent_at - interval '2 minutes',
                       visible_at = visible_at - interval '2 minutes'
 WHERE body ? 'old';
});
ok($node->poll_query_until('db1', q{SELECT count(*) FROM pgmsg.q_ret}, '1'),
	'retention removes old messages with no client');
is($node->safe_psql('db1', q{SELECT body FROM pgmsg.q_ret}), '{"new": 1}',
	'and keeps the others');
ok($node->poll_query_until('db1',
		q{SELECT messages_visible FROM pgmsg.queues WHERE name = 'ret'}, '1'),
	'the stored-message count is taken again');

# More than one batch (10,000) of expired messages
$node->safe_psql('db1', q{
SELECT pgmsg.create_queue('big', retention => '1 minute');
SELECT count(*) FROM generate_series(1, 25) g,
       LATERAL pgmsg.send_batch('big',
           (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 1000) i));
UPDATE pgmsg.q_big SET sent_at = sent_at - interval '2 minutes',
                       visible_at = visible_at - interval '2 minutes';
});
ok($node->poll_query_until('db1', q{SELECT count(*) FROM pgmsg.q_big}, '0'),
	'retention removes a backlog larger than one batch');

# A dead-lettered message keeps its original send time, and retention
# counts from it, though it arrived in the dead-letter queue just now.
$node->safe_psql('db1', q{
SELECT pgmsg.create_queue('dlq', retention => '1 minute');
SELECT pgmsg.create_queue('src', visibility_timeout => '0', dead_letter_queue => 'dlq', max_receive_count => 1);
SELECT pgmsg.send_batch('src', ARRAY['{"old": 1}', '{"new": 1}']::jsonb[]);
SELECT count(*) FROM pgmsg.receive('src', 10);
SELECT count(*) FROM pgmsg.receive('src', 10);
});
is($node->safe_psql('db1', q{SELECT count(*) FROM pgmsg.q_dlq WHERE source_queue = 'src'}),
	'2', 'both dead-lettered');
$node->safe_psql('db1', q{
UPDATE pgmsg.q_dlq SET sent_at = sent_at - interval '2 minutes' WHERE body ? 'old';
});
ok($node->poll_query_until('db1', q{SELECT count(*) FROM pgmsg.q_dlq}, '1'),
	'retention removes a dead-lettered message by its original send time');
is($node->safe_psql('db1', q{SELECT body FROM pgmsg.q_dlq}), '{"new": 1}',
	'and keeps the others');

# start_redrive: the worker moves a dead-letter queue back
$node->safe_psql('db2', q{
SELECT pgmsg.create_queue('dlq');
SELECT pgmsg.create_queue('src', visibility_timeout => '0', dead_letter_queue => 'dlq', max_receive_count => 1);
SELECT pgmsg.send_batch('src', (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 1000) i));
SELECT pgmsg.send_batch('src', (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1001, 2000) i));
SELECT pgmsg.send_batch('src', (SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(2001, 2500) i));
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

# Background processes log with no application name: "[pid] ERROR:".
unlike(slurp_file($node->logfile), qr/\[\d+\] ERROR:/,
	'no unit of work of the workers failed');
done_testing();
