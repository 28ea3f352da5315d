# Long polling: woken by a commit, not by a rollback; ended by cancel,
# statement_timeout and an immediate shutdown.  NOTIFY on commit only.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('longpoll');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'pgmsg'});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('w');
SELECT pgmsg.create_queue('n', notify => true);
});

my $waiting = q{SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Extension' AND query LIKE '%pgmsg.receive%'};

# A committed send wakes the waiter, which returns the message.
my $consumer = $node->background_psql('postgres', on_error_stop => 0);
$consumer->query_until(qr/start/, q{
\echo start
SELECT body FROM pgmsg.receive('w', 1, wait => '20 seconds');
});
ok($node->poll_query_until('postgres', $waiting, '1'), 'receive is waiting');
$node->safe_psql('postgres', q{SELECT pgmsg.send('w', '{"m": 1}')});
my $out = $consumer->query_safe('SELECT 1');
like($out, qr/\{"m": 1\}/, 'the waiting receive returns the committed message');

# A rolled-back send does not: the receive returns nothing at its timeout.
$consumer->query_until(qr/start/, q{
\echo start
SELECT count(*) AS got FROM pgmsg.receive('w', 1, wait => '3 seconds');
\echo done
});
ok($node->poll_query_until('postgres', $waiting, '1'), 'waiting for a send');
$node->safe_psql('postgres', q{BEGIN; SELECT pgmsg.send('w', '{"m": 2}'); ROLLBACK;});
$out = $consumer->query_until(qr/done/, '');
like($out, qr/^0\s*$/m, 'nothing after a rolled-back send');

# pg_cancel_backend ends a wait with the usual error
my $pid = $consumer->query_safe('SELECT pg_backend_pid()');
$consumer->query_until(qr/start/, q{
\echo start
SELECT count(*) FROM pgmsg.receive('w', 1, wait => '20 seconds');
});
ok($node->poll_query_until('postgres', $waiting, '1'), 'waiting again');
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$out = $consumer->query('SELECT 2 AS after_cancel');
like($consumer->{stderr}, qr/canceling statement due to user request/,
	'pg_cancel_backend ends a wait');
like($out, qr/2/, 'session usable after cancel');
$consumer->quit;

my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
SET statement_timeout = '300ms';
SELECT count(*) FROM pgmsg.receive('w', 1, wait => '20 seconds');
});
like($stderr, qr/canceling statement due to statement timeout/, 'statement_timeout ends a wait');

# LISTEN/NOTIFY: a notification after a committed send only
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN pgmsg_n');
$node->safe_psql('postgres', q{BEGIN; SELECT pgmsg.send('n', '{}'); ROLLBACK;});
$node->safe_psql('postgres', q{SELECT pgmsg.send('n', '{}')});
$out = $listener->query_safe('SELECT 1');
my @notes = ($listener->{stdout} . $out) =~ /Asynchronous notification "pgmsg_n" with payload "n"/g;
$out = $listener->query_safe('SELECT 2');
is(scalar(@notes) + (() = $out =~ /Asynchronous notification/g), 1,
	'one notification, for the committed send only');
$listener->quit;

# An immediate shutdown ends a pending long poll with an error, not a hang.
my ($pstdout, $pstderr) = ('', '');
my $poller = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	  q{SELECT count(*) FROM pgmsg.receive('w', 1, wait => '20 seconds')} ],
	'>', \$pstdout, '2>', \$pstderr);
ok($node->poll_query_until('postgres', $waiting, '1'), 'a long poll is pending');
$node->stop('immediate');
$poller->finish;
isnt($poller->result(0), 0, 'the client finishes with a failure');
like($pstderr, qr/terminat|closed the connection|connection to server was lost/i,
	'and an error message');
done_testing();
