# A message in flight at a crash gets a crash floor (its receive count
# then), kept in shared memory and in pg_stat_tmp/pgmsg_inflight until a
# receive that counted from it commits.  If retention deletes the message
# first, no receive ever will: the floor must go with the message, or it
# stays in memory and in the file for good, found again at every start.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('floor_retention');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
pgmsg.retention_interval = '200ms'
pgmsg.worker_naptime = '200ms'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('old', visibility_timeout => '1 hour', retention => '1 minute');
SELECT pgmsg.send('old', '{"n": 1}');
});

# Hold the message and crash: it gets a floor.
my $bg = $node->background_psql('postgres');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
is($bg->query_safe(q{SELECT receive_count FROM pgmsg.receive('old')}), '1', 'received once');
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/pgmsg found 1 messages in flight at the last stop/, $log_offset);
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
eval { $bg->quit; };

# Make the message older than its retention; the worker deletes it.
$node->safe_psql('postgres',
	q{UPDATE pgmsg.q_old SET sent_at = sent_at - interval '1 day'});
ok($node->poll_query_until('postgres', q{SELECT count(*) FROM pgmsg.q_old}, '0'),
	'retention deleted the message');

# A clean restart: a floor left behind would be found again.
$log_offset = -s $node->logfile;
$node->restart;
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/pgmsg found \d+ messages in flight at the last stop/,
	'the floor went with the message');

$node->stop;
done_testing();
