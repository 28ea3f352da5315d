# A full lease map (pgmsg.max_leases, shared by every queue of every
# database) is a clear error that takes nothing: a receive that fails for
# want of leases leaves no lease behind, skips no message, and leaves the
# messages it had taken back from the redelivery heap as they were.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('leases');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.max_leases = 16
pgmsg.queue_lease_share = 100
});
$node->start;
is($node->safe_psql('postgres', 'SHOW pgmsg.max_leases'), '16', 'max_leases is 16, the least allowed');

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('q', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('q', (SELECT array_agg(jsonb_build_object('n', i) ORDER BY i) FROM generate_series(1, 20) i));
SELECT pgmsg.create_queue('q2', visibility_timeout => '1 hour');
SELECT pgmsg.send('q2', '{"n": 1}');
CREATE TABLE r (step text, n int, receipt text);
CREATE DATABASE other;
});
$node->safe_psql('other', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('o', visibility_timeout => '1 hour');
SELECT pgmsg.send('o', '{"n": 1}');
});

my $full = qr/^(?:psql:<stdin>:\d+: )?ERROR:  53400: too many messages in flight\nDETAIL:  All 16 leases of pgmsg\.max_leases are taken\.$/m;

# Run $sql in $db expecting the "too many messages in flight" error.
sub fails_full
{
	my ($db, $sql, $name) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$name: fails");
	like($stderr, $full, "$name: too many messages in flight");
}

sub in_flight
{
	my ($db) = @_;
	return $node->safe_psql($db // 'postgres',
		q{SELECT string_agg(name || ':' || messages_in_flight, ' ' ORDER BY name) FROM pgmsg.queues});
}

# 20 at once do not fit, and take nothing.
fails_full('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 20)}, 'receive of 20');
is(in_flight(), 'q:0 q2:0', 'the failed receive leaves nothing in flight');

# 16 do fit, and they are the first 16: the failed receive skipped nothing.
$node->safe_psql('postgres', q{
INSERT INTO r SELECT 'first', (body->>'n')::int, receipt FROM pgmsg.receive('q', 16);
});
is($node->safe_psql('postgres', q{SELECT string_agg(n::text, ',' ORDER BY n) FROM r WHERE step = 'first'}),
	join(',', 1 .. 16), 'a receive of 16 fits and gets n 1..16');
is(in_flight(), 'q:16 q2:0', '16 in flight');

# The map is shared: nothing more can be received, from this queue, from
# another queue or from another database.
fails_full('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 1)}, 'the 17th');
fails_full('postgres', q{SELECT count(*) FROM pgmsg.receive('q2', 1)}, 'another queue');
fails_full('other', q{SELECT count(*) FROM pgmsg.receive('o', 1)}, 'another database');
is(in_flight(), 'q:16 q2:0', 'still 16 in flight');
is(in_flight('other'), 'o:0', 'nothing in flight in the other database');

# Redelivery needs no new lease: released messages can be received again
# while the map is full.
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.change_visibility('q', array_agg(receipt), '0') FROM r WHERE step = 'first'}),
	'16', 'all 16 released');
$node->safe_psql('postgres', q{
INSERT INTO r SELECT 'second', (body->>'n')::int, receipt FROM pgmsg.receive('q', 16);
});
is( $node->safe_psql('postgres', q{
		SELECT string_agg(n::text, ',' ORDER BY n) FROM r WHERE step = 'second'}),
	join(',', 1 .. 16), 'a full map still redelivers');

# A receive that takes released messages back and then runs out of leases
# for a fresh one fails, and the released ones are as before: same
# receipts, same receive count.
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.change_visibility('q', array_agg(receipt), '0') FROM r WHERE step = 'second' AND n <= 4}),
	'4', 'n 1..4 released');
fails_full('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 10)},
	'redeliveries, then a fresh message');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(body->>'n' || ':' || receive_count, ',' ORDER BY msg_id) FROM pgmsg.q_q
		 WHERE (body->>'n')::int <= 5}),
	'1:2,2:2,3:2,4:2,5:2', 'receive counts as before');
is(in_flight(), 'q:12 q2:0', 'the four released are visible, the other 12 still in flight');

# Deleting frees leases (the receipts of n 1..4 still work), and the rest
# can be received.
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.delete('q', array_agg(receipt)) FROM r WHERE step = 'second'}),
	'16', 'deleting the 16 works with the latest receipts');
is(in_flight(), 'q:0 q2:0', 'nothing in flight');
$node->safe_psql('postgres', q{
INSERT INTO r SELECT 'rest', (body->>'n')::int, receipt FROM pgmsg.receive('q', 16);
});
is($node->safe_psql('postgres', q{SELECT string_agg(n::text, ',' ORDER BY n) FROM r WHERE step = 'rest'}),
	join(',', 17 .. 20), 'the remaining 4 are received');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('q2', 1)}),
	'1', 'and another queue can be received from');
is($node->safe_psql('other', q{SELECT count(*) FROM pgmsg.receive('o', 1)}),
	'1', 'and another database');
is(in_flight(), 'q:4 q2:1', '4 + 1 in flight');
is(in_flight('other'), 'o:1', '1 in flight in the other database');

# In a subtransaction: the receive that fails gives back what it took, the
# transaction goes on and commits exactly what it kept.
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.delete('q', array_agg(receipt)) FROM r WHERE step = 'rest';
		SELECT count(*) FROM pgmsg.send_batch('q', (SELECT array_agg(jsonb_build_object('n', i) ORDER BY i) FROM generate_series(21, 40) i));
	}),
	"4\n20", 'n 17..20 deleted, n 21..40 sent');
# q2's and o's messages stay in flight: 14 leases are left.
is(in_flight(), 'q:0 q2:1', 'q2 still 1 in flight');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{
BEGIN;
INSERT INTO r SELECT 'sub1', (body->>'n')::int, receipt FROM pgmsg.receive('q', 7);
SAVEPOINT s;
INSERT INTO r SELECT 'sub2', (body->>'n')::int, receipt FROM pgmsg.receive('q', 10);
ROLLBACK TO s;
INSERT INTO r SELECT 'sub3', (body->>'n')::int, receipt FROM pgmsg.receive('q', 7);
COMMIT;
}, on_error_stop => 0, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, $full, 'the receive in the subtransaction fails');
is( $node->safe_psql('postgres', q{
		SELECT step || ':' || string_agg(n::text, ',' ORDER BY n) FROM r
		 WHERE step LIKE 'sub%' GROUP BY step ORDER BY step}),
	"sub1:21,22,23,24,25,26,27\nsub3:28,29,30,31,32,33,34",
	'the transaction kept n 21..34, with none skipped');
is(in_flight(), 'q:14 q2:1', '14 + 1 in flight (+ 1 in the other database)');
fails_full('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 1)}, 'the 17th again');
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.delete('q', receipt) FROM r WHERE step = 'sub3' AND n = 34;
		SELECT string_agg(body->>'n', ',') FROM pgmsg.receive('q', 1);}),
	"t\n35", 'a deleted message frees its lease for the next');

$node->stop;
done_testing();
