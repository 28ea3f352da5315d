# FIFO message groups in shared memory are bounded by pgmsg.max_leases too:
# a group entry holds leases or a delayed message.  When they are all
# taken, a send that needs a new entry and a receive of a new group fail
# with a clear error that leaves nothing behind; in particular the receive
# leaves no lease, so the message is delivered once entries are free again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('groups_full');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.max_leases = 16
pgmsg.queue_lease_share = 100
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('fd', fifo => true, delay => '15 minutes');
SELECT pgmsg.create_queue('fr', fifo => true, visibility_timeout => '1 hour');
SELECT pgmsg.send('fr', '{"n": 1}', group_id => 'x');
SELECT pgmsg.send('fr', '{"n": 2}', group_id => 'x');
});

my $full = qr/ERROR:  53400: too many FIFO message groups in flight\nDETAIL:  All 16 message group entries of pgmsg\.max_leases are taken\./;

sub fails_full
{
	my ($sql, $name) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	isnt($ret, 0, "$name: fails");
	like($stderr, $full, "$name: too many FIFO message groups");
}

sub in_flight
{
	return $node->safe_psql('postgres',
		q{SELECT string_agg(name || ':' || messages_in_flight, ' ' ORDER BY name) FROM pgmsg.queues});
}

# A delayed message of each of 16 groups takes every entry.
$node->safe_psql('postgres', q{
SELECT count(pgmsg.send('fd', jsonb_build_object('g', g), group_id => 'g' || g))
  FROM generate_series(1, 16) g;
});
fails_full(q{SELECT pgmsg.send('fd', '{"g": 17}', group_id => 'g17')}, 'a delayed message of a 17th group');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.q_fd}), '16', 'the 17th was not sent');
# a group that has its entry already needs no other
is($node->safe_psql('postgres', q{SELECT pgmsg.send('fd', '{"g": 1}', group_id => 'g1') > 0}),
	't', 'another delayed message of a group with an entry is sent');

# A receive of a new group needs an entry: it fails and takes nothing.
fails_full(q{SELECT count(*) FROM pgmsg.receive('fr', 10)}, 'a receive of a new group');
is(in_flight(), 'fd:0 fr:0', 'the failed receive leaves nothing in flight');
fails_full(q{SELECT count(*) FROM pgmsg.receive('fr', 10)}, 'the same receive again');
is(in_flight(), 'fd:0 fr:0', 'still nothing in flight');

# Entries come free when the delayed messages' queue goes: the group is
# delivered, from its first message, received for the first time.
$node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('fd')});
is( $node->safe_psql('postgres', q{
SELECT string_agg((body->>'n') || ':' || receive_count, ',') FROM pgmsg.receive('fr', 10)}),
	'1:1,2:1', 'once entries are free the group is delivered in order, first receive');
is(in_flight(), 'fr:2', 'two in flight');

$node->stop;
done_testing();
