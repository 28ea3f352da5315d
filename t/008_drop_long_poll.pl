# drop_queue ends the long polls waiting on its queue.  A waiting receive
# holds no lock on the queue's table while it sleeps, so the drop does not
# wait for it (nor do sends queue up behind a waiting drop); the drop's
# commit wakes it, and it ends with an error saying the queue was dropped.
# A waiting receive on another queue goes on waiting.  Nothing here
# measures time: the checks are on locks held, rows and errors.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('drop_poll');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'pgmsg'});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('doomed');
SELECT pgmsg.create_queue('kept');
});

sub waiting_on
{
	my ($queue) = @_;
	return qq{SELECT count(*) FROM pg_stat_activity
	           WHERE wait_event_type = 'Extension'
	             AND query LIKE '%pgmsg.receive(''$queue''%'};
}

my $doomed = $node->background_psql('postgres', on_error_stop => 0);
my $kept = $node->background_psql('postgres', on_error_stop => 0);
my $doomed_pid = $doomed->query_safe('SELECT pg_backend_pid()');

$doomed->query_until(qr/start/, q{
\echo start
SELECT count(*) FROM pgmsg.receive('doomed', 1, wait => '20 seconds');
\echo error :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE
\echo done
});
$kept->query_until(qr/start/, q{
\echo start
SELECT body FROM pgmsg.receive('kept', 1, wait => '20 seconds');
\echo done
});
ok($node->poll_query_until('postgres', waiting_on('doomed'), '1'), 'a receive waits on doomed');
ok($node->poll_query_until('postgres', waiting_on('kept'), '1'), 'a receive waits on kept');

# The sleeping receive holds no lock on the queue's table.
is( $node->safe_psql('postgres', qq{
		SELECT count(*) FROM pg_locks
		 WHERE pid = $doomed_pid AND relation = 'pgmsg.q_doomed'::regclass}),
	'0', 'the waiting receive holds no lock on its table');

# The drop goes through, and the receive ends with an error at once (had it
# waited for the drop, it would have returned 0 rows at the end of its wait).
is($node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('doomed')}), 't', 'the drop commits');
my $out = $doomed->query_until(qr/done/, '');
like($out, qr/^error 42704 queue "doomed" does not exist$/m,
	'the waiting receive ends with an error saying the queue is gone');
unlike($out, qr/^0\s*$/m, 'it did not run to the end of its wait');

# The other queue's receive is still waiting, and gets the next message.
is($node->safe_psql('postgres', waiting_on('kept')), '1', 'the receive on kept still waits');
$node->safe_psql('postgres', q{SELECT pgmsg.send('kept', '{"still": "here"}')});
$out = $kept->query_until(qr/done/, '');
like($out, qr/\{"still": "here"\}/, 'and receives what is sent to its queue');

$doomed->quit;
$kept->quit;
$node->stop;
done_testing();
