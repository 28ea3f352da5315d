# A poison message: one whose processing crashes the server every time.
# Its consumer's backend is killed (kill -9, so every backend restarts and
# shared memory is reinitialised) each time it holds the message, once
# after a receive that committed and once inside the receiving transaction.
# Each crash must count as a receive, so that the message reaches its
# dead-letter queue after max_receive_count of them.  Messages that were
# not in flight at a crash keep their counts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('poison');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('dead');
SELECT pgmsg.create_queue('work', visibility_timeout => '1 hour',
                          dead_letter_queue => 'dead', max_receive_count => 3);
SELECT pgmsg.send('work', '{"poison": true}');
SELECT pgmsg.create_queue('bystander');
SELECT pgmsg.send('bystander', '{"n": 1}');
});

# Kill the backend of a session holding the poison message, and wait for
# the server to come back.
sub crash_holding
{
	my ($in_transaction) = @_;
	my $bg = $node->background_psql('postgres');
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');

	$bg->query_safe('BEGIN') if $in_transaction;
	my $got = $bg->query_safe(q{
		SELECT coalesce(string_agg(receive_count::text, ','), 'none')
		  FROM pgmsg.receive('work', 1)});
	return $got if $got eq 'none';

	my $log_offset = -s $node->logfile;
	kill 'KILL', $pid;
	$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
	$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die 'server did not come back after the crash';
	eval { $bg->quit; };
	return $got;
}

my @seen;
push @seen, crash_holding(0);
push @seen, crash_holding(1);
push @seen, crash_holding(0);
is(join(',', @seen), '1,2,3',
	'each crash while the message is held counts as a receive, committed or not');

# The fourth receive would exceed max_receive_count: the message moves.
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('work', 10)}),
	'0', 'the poison message is not handed out a fourth time');
is( $node->safe_psql('postgres', q{
		SELECT body, receive_count, source_queue FROM pgmsg.q_dead}),
	'{"poison": true}|3|work', 'it is in the dead-letter queue with its receive count');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_work}),
	'0', 'and gone from its queue');

# A message that was in no receiver's hands at the crashes is untouched.
is( $node->safe_psql('postgres', q{
		SELECT receive_count, pgmsg.delete('bystander', receipt)
		  FROM pgmsg.receive('bystander', 10)}),
	'1|t', 'a message not in flight at the crashes counts its first receive as 1');

# A clean restart with nothing in flight leaves nothing to count.
$node->safe_psql('postgres', q{SELECT pgmsg.send('work', '{"n": 2}')});
$node->restart;
is( $node->safe_psql('postgres', q{
		SELECT body->>'n', receive_count FROM pgmsg.receive('work', 10)}),
	'2|1', 'after a restart with nothing in flight, a new message counts from 1');

$node->stop;
done_testing();
