# Leases and cursors live in shared memory and are lost at a restart.  After
# a backend crash (kill -9, all backends restarted, shared memory
# reinitialised) and after an immediate shutdown:
#	- no committed message is lost, and each is received exactly once by the
#	  next receive;
#	- no message whose delete committed comes back;
#	- work of a transaction that did not commit (a send, a delete) is gone;
#	- messages that were in flight are delivered again;
#	- a message's receive count goes on from the count it was last handed
#	  out with, even by a receive that did not commit: every message here is
#	  in flight or was never received at each restart, so its next receive
#	  counts exactly one more;
#	- receipts issued before the restart are stale, on standard and FIFO
#	  queues: delete and change_visibility return false;
#	- a delayed message stays delayed, and a FIFO group whose message was in
#	  flight is delivered again from its oldest message, in order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
});
$node->start;

# Messages carry {"n": i}; n 1..20 are committed.  1..10 in one send_batch,
# 11..20 with one send per transaction.
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('q', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('q',
	(SELECT array_agg(jsonb_build_object('n', i) ORDER BY i) FROM generate_series(1, 10) i));
});
$node->safe_psql('postgres',
	join('', map { "SELECT pgmsg.send('q', '{\"n\": $_}');\n" } 11 .. 20));

# Queue d: one message delayed by 15 minutes (the most there is).  Queue f
# (FIFO): group g holds n 1..3, and n 1 is in flight, which blocks the
# group.
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('d');
SELECT pgmsg.send('d', '{"n": 1}', delay => '15 minutes');
SELECT pgmsg.create_queue('f', fifo => true);
SELECT pgmsg.send('f', jsonb_build_object('n', i), group_id => 'g') FROM generate_series(1, 3) i;
});
is( $node->safe_psql('postgres', q{
		CREATE TABLE fifo_receipts AS
		SELECT receipt, body->>'n' AS n, 1::bigint AS o
		  FROM pgmsg.receive('f', 1, visibility_timeout => '1 hour');
		SELECT n FROM fifo_receipts}),
	'1', 'fifo: n 1 in flight');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('f', 10)}),
	'0', 'fifo: its group is blocked while it is in flight');

# After a restart the delayed message stays delayed, and group g comes back
# whole and in order (and is left in flight for an hour again).
sub check_other_queues
{
	my ($phase) = @_;

	is( $node->safe_psql('postgres', q{
			SELECT messages_visible, messages_in_flight, messages_delayed
			  FROM pgmsg.queues WHERE name = 'd'}),
		'0|0|1', "$phase: the delayed message is still delayed");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('d', 10)}),
		'0', "$phase: the delayed message is not delivered early");
	is( $node->safe_psql('postgres', q{
			SELECT count(*) > 0,
			       count(*) FILTER (WHERE pgmsg.change_visibility('f', receipt, '1 hour')),
			       count(*) FILTER (WHERE pgmsg.delete('f', receipt)),
			       pgmsg.delete('f', array_agg(receipt))
			  FROM fifo_receipts}),
		't|0|0|0', "$phase: FIFO receipts from before the restart are stale");
	is( $node->safe_psql('postgres', q{
			TRUNCATE fifo_receipts;
			INSERT INTO fifo_receipts
			SELECT receipt, body->>'n', o
			  FROM pgmsg.receive('f', 10, visibility_timeout => '1 hour')
			       WITH ORDINALITY AS r(message_id, receipt, body, attributes,
			                            receive_count, sent_at, first_received_at,
			                            group_id, o);
			SELECT string_agg(n, ',' ORDER BY o) FROM fifo_receipts}),
		'1,2,3', "$phase: the FIFO group is delivered again from its oldest message, in order");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('f', 10)}),
		'0', "$phase: and is blocked again while in flight");
}

# receipts: what was handed out before a restart, by phase.
$node->safe_psql('postgres', q{
CREATE TABLE receipts (phase int, n int, receipt text, receive_count int);
});

# n 1..5: received and deleted (1..3 one by one, 4..5 in a batch).  These
# must never come back.
is( $node->safe_psql('postgres', q{
		WITH r AS (SELECT (body->>'n')::int AS n, receipt FROM pgmsg.receive('q', 5))
		SELECT string_agg(n::text, ',' ORDER BY n),
		       count(*) FILTER (WHERE n <= 3 AND pgmsg.delete('q', receipt)),
		       pgmsg.delete('q', array_agg(receipt) FILTER (WHERE n > 3))
		  FROM r}),
	'1,2,3,4,5|3|2',
	'n 1..5 received and deleted');

# n 6..10: received and left in flight for an hour.
$node->safe_psql('postgres', q{
INSERT INTO receipts
SELECT 1, (body->>'n')::int, receipt, receive_count
  FROM pgmsg.receive('q', 5, visibility_timeout => '1 hour');
});
is($node->safe_psql('postgres', q{SELECT string_agg(n::text, ',' ORDER BY n) FROM receipts}),
	'6,7,8,9,10', 'n 6..10 in flight');

# n 11: received three times with visibility 0 (each a committed
# transaction), so its receive count is 3.
my @counts11;
for (1 .. 3)
{
	push @counts11, $node->safe_psql('postgres', q{
		SELECT (body->>'n') || ':' || receive_count
		  FROM pgmsg.receive('q', 1, visibility_timeout => '0')});
}
is(join(',', @counts11), '11:1,11:2,11:3', 'n 11 received three times');

# Nothing is lost or duplicated in the table so far.
is($node->safe_psql('postgres',
		q{SELECT string_agg(body->>'n', ',' ORDER BY (body->>'n')::int) FROM pgmsg.q_q}),
	join(',', 6 .. 20), 'table holds n 6..20 before the crash');

# Receive counts each message was last handed out with before the first
# restart (0: never received).  n 11 and n 12 get one more below, from a
# receive that does not commit.
my %before = map { $_ => 0 } 6 .. 20;
$before{$_} = 1 for 6 .. 10;
$before{11} = 4;
$before{12} = 1;

# Run the queries of the "after a restart" checks.
#	$phase			test name prefix
#	$stale_phase	receipts of that phase were issued before the restart
#	$expect			the n's that must be stored and delivered, in order
#	$must_have		n => why it matters (an uncommitted delete)
#	$must_not_have	n => why (a committed delete, an uncommitted send)
#	$before			n => receive count it was last handed out with
# The messages are left in flight for an hour, their receipts in receipts
# under phase $stale_phase + 1.
sub check_after_restart
{
	my ($phase, $stale_phase, $expect, $must_have, $must_not_have, $before) = @_;

	# Receipts from before the restart are stale.
	is( $node->safe_psql('postgres', qq{
			SELECT count(*) > 0,
			       count(*) FILTER (WHERE pgmsg.change_visibility('q', receipt, '0'))
			  FROM receipts WHERE phase = $stale_phase}),
		't|0',
		"$phase: old receipts cannot change visibility");
	is( $node->safe_psql('postgres', qq{
			SELECT count(*) FILTER (WHERE pgmsg.delete('q', receipt))
			  FROM receipts WHERE phase = $stale_phase}),
		'0', "$phase: old receipts cannot delete");
	is( $node->safe_psql('postgres', qq{
			SELECT pgmsg.delete('q', array_agg(receipt))
			  FROM receipts WHERE phase = $stale_phase}),
		'0', "$phase: old receipts cannot delete in a batch");

	# The durable state.
	is( $node->safe_psql('postgres',
			q{SELECT string_agg(body->>'n', ',' ORDER BY (body->>'n')::int) FROM pgmsg.q_q}),
		join(',', @$expect),
		"$phase: the table holds exactly the committed, undeleted messages");

	# Counted once per server start: all stored, none in flight.
	is( $node->safe_psql('postgres', q{
			SELECT messages_visible, messages_in_flight, messages_delayed
			  FROM pgmsg.queues WHERE name = 'q'}),
		scalar(@$expect) . '|0|0',
		"$phase: queues view counts every message as visible");

	# One receive hands out every message exactly once and leaves them all
	# in flight; a second receive finds nothing.
	my $next = $stale_phase + 1;
	$node->safe_psql('postgres', qq{
		INSERT INTO receipts
		SELECT $next, (body->>'n')::int, receipt, receive_count
		  FROM pgmsg.receive('q', 1000, visibility_timeout => '1 hour')});
	is( $node->safe_psql('postgres', qq{
			SELECT string_agg(n::text, ',' ORDER BY n), count(*) = count(DISTINCT n)
			  FROM receipts WHERE phase = $next}),
		join(',', @$expect) . '|t',
		"$phase: every committed, undeleted message is received exactly once");
	is( $node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 1000)}),
		'0', "$phase: nothing is received twice");

	foreach my $n (sort { $a <=> $b } keys %$must_have)
	{
		is( $node->safe_psql('postgres',
				qq{SELECT count(*) FROM receipts WHERE phase = $next AND n = $n}),
			'1', "$phase: n $n is back ($must_have->{$n})");
	}
	foreach my $n (sort { $a <=> $b } keys %$must_not_have)
	{
		is( $node->safe_psql('postgres', qq{
				SELECT (SELECT count(*) FROM receipts WHERE phase = $next AND n = $n)
				     + (SELECT count(*) FROM pgmsg.q_q WHERE body->>'n' = '$n')}),
			'0', "$phase: n $n is absent ($must_not_have->{$n})");
	}

	# The receive count goes on from the last one handed out: nothing is
	# lost, nothing made up.
	my %after = split /[|\n]/, $node->safe_psql('postgres',
		qq{SELECT n, receive_count FROM receipts WHERE phase = $next ORDER BY n});
	note("$phase: receive counts " . join(' ', map { "n$_:$before->{$_}->" . ($after{$_} // 'none') } @$expect));
	my @bad = grep {
		!defined $after{$_}
		  || $after{$_} != $before->{$_} + 1
	} @$expect;
	is(join(' ', map { "n$_:" . ($before->{$_}) . '->' . ($after{$_} // 'none') } @bad),
		'', "$phase: receive counts go on from the last one handed out");
	cmp_ok($after{11} // 0, '>=', 3,
		"$phase: n 11, received three times, comes back with receive count >= 3");

	return \%after;
}

# A session that sends n 100, deletes n 6 under its receipt, receives n 11
# (expired, so it comes first) and n 12, and does not commit.  Its backend
# is then killed: the postmaster restarts every backend and reinitialises
# shared memory.
my $bg = $node->background_psql('postgres');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe('BEGIN');
$bg->query_safe(q{SELECT pgmsg.send('q', '{"n": 100}')});
is($bg->query_safe(q{SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 6}),
	't', 'uncommitted delete of n 6 took effect in its transaction');
is( $bg->query_safe(q{
		SELECT string_agg((body->>'n') || ':' || receive_count, ',' ORDER BY (body->>'n')::int)
		  FROM pgmsg.receive('q', 2, visibility_timeout => '1 hour')}),
	'11:4,12:1', 'uncommitted receive of n 11 (fourth time) and n 12');

my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
$bg->quit;

my $after1 = check_after_restart(
	'after kill -9', 1,
	[ 6 .. 20 ],
	{ 6 => 'its delete did not commit', 10 => 'was in flight',
	  11 => 'its fourth receive did not commit', 12 => 'its first receive did not commit',
	  20 => 'never received' },
	{ 1 => 'deleted', 5 => 'deleted in a batch', 100 => 'its send did not commit' },
	\%before);
check_other_queues('after kill -9');

# Phase two: everything is in flight again (phase 2 receipts).  Commit the
# deletes of n 19 (single) and n 20 (batch); leave a transaction open that
# sends n 200 and deletes n 7; stop immediately.
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.delete('q', receipt) FROM receipts WHERE phase = 2 AND n = 19;
		SELECT pgmsg.delete('q', array_agg(receipt)) FROM receipts WHERE phase = 2 AND n = 20;
	}),
	"t\n1", 'n 19 and n 20 deleted');
$node->safe_psql('postgres', q{DELETE FROM receipts WHERE phase = 2 AND n IN (19, 20)});

$bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
$bg->query_safe(q{SELECT pgmsg.send('q', '{"n": 200}')});
is($bg->query_safe(q{SELECT pgmsg.delete('q', receipt) FROM receipts WHERE phase = 2 AND n = 7}),
	't', 'uncommitted delete of n 7 took effect in its transaction');

$node->stop('immediate');
$bg->quit;
$node->start;

my $after2 = check_after_restart(
	'after immediate shutdown', 2,
	[ 6 .. 18 ],
	{ 6 => 'was in flight', 7 => 'its delete did not commit', 11 => 'was received four times' },
	{ 1 => 'deleted before the first restart', 19 => 'deleted', 20 => 'deleted in a batch',
	  100 => 'its send did not commit before the first restart', 200 => 'its send did not commit' },
	$after1);
check_other_queues('after immediate shutdown');

# Phase three: a clean restart loses the leases all the same.
is( $node->safe_psql('postgres',
		q{SELECT pgmsg.delete('q', receipt) FROM receipts WHERE phase = 3 AND n = 18}),
	't', 'n 18 deleted');
$node->safe_psql('postgres', q{DELETE FROM receipts WHERE phase = 3 AND n = 18});
$node->restart;

check_after_restart(
	'after a clean restart', 3,
	[ 6 .. 17 ],
	{ 6 => 'was in flight' },
	{ 18 => 'deleted', 200 => 'its send did not commit before the last restart' },
	$after2);
check_other_queues('after a clean restart');

$node->stop;
done_testing();
