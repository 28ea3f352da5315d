# Long polling: a waiting receive is woken by a publisher's commit, not by
# its rollback; it is ended by pg_cancel_backend, statement_timeout and an
# immediate shutdown.  NOTIFY on commit only.  Nothing here measures time:
# every check is on rows returned or errors raised.
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

my $consumer = $node->background_psql('postgres', on_error_stop => 0);
my $publisher = $node->background_psql('postgres');

# A send committed while the receive waits: the receive returns it.
$consumer->query_until(qr/start/, q{
\echo start
SELECT body FROM pgmsg.receive('w', 1, wait => '20 seconds');
\echo done
});
ok($node->poll_query_until('postgres', $waiting, '1'), 'receive is waiting');
$publisher->query_safe(q{BEGIN; SELECT pgmsg.send('w', '{"m": 1}')});
is($node->safe_psql('postgres', $waiting), '1',
	'an uncommitted send leaves it waiting');
$publisher->query_safe('COMMIT');
my $out = $consumer->query_until(qr/done/, '');
like($out, qr/\{"m": 1\}/, 'the waiting receive returns the committed message');

# A send rolled back while the receive waits: it returns nothing at its
# timeout.
$consumer->query_until(qr/start/, q{
\echo start
SELECT count(*) AS got FROM pgmsg.receive('w', 1, wait => '5 seconds');
\echo done
});
ok($node->poll_query_until('postgres', $waiting, '1'), 'waiting for a send');
$publisher->query_safe(q{BEGIN; SELECT pgmsg.send('w', '{"m": 2}')});
$publisher->query_safe('ROLLBACK');
$out = $consumer->query_until(qr/done/, '');
like($out, qr/^0\s*$/m, 'nothing after a rolled-back send');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('w', 10)}), '0',
	'and nothing to receive afterwards');

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
like($out, qr/^2$/m, 'session usable after cancel');
$consumer->quit;

# A commit wakes one waiter per message it sent: three receives wait, a
# transaction sends two messages, and two of them return one each while
# the third keeps waiting; the next send is for it.  No wake is lost on
# the way (a woken waiter that found nothing sleeps again).
$node->safe_psql('postgres', q{SELECT pgmsg.create_queue('x')});
my @waiters = map { $node->background_psql('postgres') } 1 .. 3;
for my $w (@waiters)
{
	$w->query_until(qr/start/, q{
\echo start
SELECT body->>'m' AS got FROM pgmsg.receive('x', 1, wait => '20 seconds');
\echo done
});
}
ok($node->poll_query_until('postgres', $waiting, '3'), 'three receives wait');
$publisher->query_safe(q{SELECT pgmsg.send_batch('x', ARRAY['{"m": 10}', '{"m": 11}']::jsonb[])});
ok($node->poll_query_until('postgres', $waiting, '1'),
	'two messages in one commit: two waiters return, one keeps waiting');
$publisher->query_safe(q{SELECT pgmsg.send('x', '{"m": 12}')});
my @got = sort map { my $o = $_->query_until(qr/done/, ''); $o =~ /^(\d+)$/m ? $1 : 'none' } @waiters;
is("@got", '10 11 12', 'each waiter got one message, none twice');
$_->quit for @waiters;

# Messages sent with a delay wake every waiter, each to sleep until they
# are due: two waiters, two delayed messages in one commit, one each.
@waiters = map { $node->background_psql('postgres') } 1 .. 2;
for my $w (@waiters)
{
	$w->query_until(qr/start/, q{
\echo start
SELECT body->>'m' AS got FROM pgmsg.receive('x', 1, wait => '20 seconds');
\echo done
});
}
ok($node->poll_query_until('postgres', $waiting, '2'), 'two receives wait');
$publisher->query_safe(q{SELECT pgmsg.send_batch('x', ARRAY['{"m": 20}', '{"m": 21}']::jsonb[], delay => '1 second')});
@got = sort map { my $o = $_->query_until(qr/done/, ''); $o =~ /^(\d+)$/m ? $1 : 'none' } @waiters;
is("@got", '20 21', 'delayed messages: each waiter got one');
$_->quit for @waiters;

# A receive in its batching window is woken when enough messages have
# arrived to fill its batch: with one message in hand and room for two
# more, it returns with all three once two single sends have committed,
# not when its window ends (the session's statement_timeout, 15 s, is
# short of the 20 s window, so a lost wake fails here rather than passing
# late).  The same for messages whose delay ends while it waits.
$node->safe_psql('postgres', q{SELECT pgmsg.create_queue('bw', visibility_timeout => '1 hour'); SELECT pgmsg.send('bw', '{"m": 30}')});
my $win = $node->background_psql('postgres');
$win->query_safe(q{SET statement_timeout = '15s'});
# start_window($max[, $what]): the session starts a receive of up to $max
# messages with a 20 s window; it prints $what of them (by default their
# numbers in order).
sub start_window
{
	my ($max, $what) = @_;
	$what //= q{string_agg(body->>'m', ' ' ORDER BY body->>'m')};
	$win->query_until(qr/start/, qq{
\\echo start
SELECT $what AS got
  FROM pgmsg.receive('bw', $max, wait => '20 seconds', batch_window => '20 seconds');
\\echo done
});
}
start_window(3);
ok($node->poll_query_until('postgres', $waiting, '1'), 'a receive waits in its window');
$publisher->query_safe(q{SELECT pgmsg.send('bw', '{"m": 31}')});
ok($node->poll_query_until('postgres', $waiting, '1'),
	'a commit that cannot fill its batch leaves it waiting');
$publisher->query_safe(q{SELECT pgmsg.send('bw', '{"m": 32}')});
my $o = $win->query_until(qr/done/, '');
like($o, qr/^30 31 32$/m, 'the commit that fills its batch ends the window');

$publisher->query_safe(q{SELECT pgmsg.send('bw', '{"m": 40}')});
start_window(3);
ok($node->poll_query_until('postgres', $waiting, '1'), 'waiting in its window again');
$publisher->query_safe(q{SELECT pgmsg.send_batch('bw', ARRAY['{"m": 41}', '{"m": 42}']::jsonb[], delay => '1 second')});
$o = $win->query_until(qr/done/, '');
like($o, qr/^40 41 42$/m, 'delayed messages that fill its batch end the window when they are due');

# more than the batch needs: the rest stay for the next receive
$publisher->query_safe(q{SELECT pgmsg.send('bw', '{"m": 50}')});
start_window(2, 'count(*)');
ok($node->poll_query_until('postgres', $waiting, '1'), 'waiting with room for one more');
$publisher->query_safe(q{SELECT pgmsg.send_batch('bw', ARRAY['{"m": 51}', '{"m": 52}', '{"m": 53}']::jsonb[])});
$o = $win->query_until(qr/done/, '');
like($o, qr/^2$/m, 'a full batch, no more');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('bw', 10)}), '2',
	'the rest are left for the next receive');
$win->quit;

my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
SET statement_timeout = '300ms';
SELECT count(*) FROM pgmsg.receive('w', 1, wait => '20 seconds');
});
like($stderr, qr/canceling statement due to statement timeout/, 'statement_timeout ends a wait');

# LISTEN/NOTIFY: a notification after a committed send only
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN pgmsg_n');
$publisher->query_safe(q{BEGIN; SELECT pgmsg.send('n', '{}')});
$publisher->query_safe('ROLLBACK');
$out = $listener->query_safe('SELECT 1');
unlike($out, qr/Asynchronous notification/, 'no notification after a rolled-back send');
$publisher->query_safe(q{SELECT pgmsg.send('n', '{}')});
# psql prints a notification after the next query's result once it has
# arrived: poll for it, then one more query to catch a duplicate.
$out = '';
for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
{
	$out .= $listener->query_safe('SELECT 2 FROM pg_sleep(0.1)');
	last if $out =~ /Asynchronous notification/;
}
$out .= $listener->query_safe('SELECT 3');
my @notes = $out =~ /Asynchronous notification "pgmsg_n" with payload "n"/g;
is(scalar(@notes), 1, 'one notification, with the queue as payload, after a committed send');
# The newest waiter is woken first: with two receives waiting, a single
# message goes to the one that began to wait last, and the next to the
# other.
my $wait_x = q{
\echo start
SELECT body->>'m' AS got FROM pgmsg.receive('x', 1, wait => '20 seconds');
\echo done
};
my ($older, $newer) = map { $node->background_psql('postgres', on_error_stop => 0) } 1 .. 2;
$older->query_until(qr/start/, $wait_x);
ok($node->poll_query_until('postgres', $waiting, '1'), 'one receive waits');
$newer->query_until(qr/start/, $wait_x);
ok($node->poll_query_until('postgres', $waiting, '2'), 'and a newer one');
$publisher->query_safe(q{SELECT pgmsg.send('x', '{"m": 30}')});
like($newer->query_until(qr/done/, ''), qr/^30$/m, 'the newest waiter gets the first message');
is($node->safe_psql('postgres', $waiting), '1', 'the older one still waits');
$publisher->query_safe(q{SELECT pgmsg.send('x', '{"m": 31}')});
like($older->query_until(qr/done/, ''), qr/^31$/m, 'and then the next');

# A waiter that is terminated leaves the list: the next message wakes the
# one still waiting, not the one that is gone.  (As above, statement_timeout
# ends the wait before its own end would, so that a lost wake fails here
# rather than passing late, when the wait's last scan finds the message.)
my $newer_pid = $newer->query_safe('SELECT pg_backend_pid()');
$older->query_safe("SET statement_timeout = '15s'");
$older->query_until(qr/start/, $wait_x);
ok($node->poll_query_until('postgres', $waiting, '1'), 'one receive waits again');
$newer->query_until(qr/start/, $wait_x);
ok($node->poll_query_until('postgres', $waiting, '2'), 'and a newer one again');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($newer_pid)");
ok($node->poll_query_until('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $newer_pid", '0'),
	'the newer one is terminated');
$publisher->query_safe(q{SELECT pgmsg.send('x', '{"m": 32}')});
like($older->query_until(qr/done/, ''), qr/^32$/m,
	'the message wakes the receive still waiting');
$older->quit;
eval { $newer->quit };

$listener->quit;
$publisher->quit;

# An immediate shutdown ends a pending long poll with an error, not a hang:
# the client finishes (or the timeout fails the test).
my ($pstdout, $pstderr) = ('', '');
my $poller = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	  q{SELECT count(*) FROM pgmsg.receive('w', 1, wait => '20 seconds')} ],
	'>', \$pstdout, '2>', \$pstderr,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
ok($node->poll_query_until('postgres', $waiting, '1'), 'a long poll is pending');
$node->stop('immediate');
my $finished = eval { $poller->finish; 1 };
ok($finished, 'the client finishes');
isnt($poller->result(0), 0, 'with a failure');
like($pstderr, qr/terminat|closed the connection|connection to server was lost/i,
	'and an error message');
done_testing();
