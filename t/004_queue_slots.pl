# Queue slots in shared memory (pgmsg.max_queues of them, over all
# databases) are given back whenever their queue goes: when its drop
# commits, when its creation rolls back (to the transaction's start or to a
# savepoint), on DROP EXTENSION pgmsg and on DROP DATABASE; and none is set
# up for a queue whose drop has committed.  create_queue claims its queue's
# slot, so with two slots a third queue is refused when it is created, and
# any slot that leaked would make the next queue fail with "too many active
# pgmsg queues".  Reading pgmsg.queues claims none.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.max_queues = 2
});
$node->start;

my $full = qr/ERROR:  too many active pgmsg queues/;

# Use a queue (which sets its slot up) and return what it received.
sub use_queue
{
	my ($db, $queue) = @_;
	return $node->safe_psql($db, qq{
		SELECT pgmsg.send('$queue', '{"n": 1}') > 0;
		SELECT count(*) FROM pgmsg.receive('$queue', 10);
	});
}

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('a');
SELECT pgmsg.create_queue('b');
});
is(use_queue('postgres', 'a'), "t\n1", 'a uses the first slot');
is(use_queue('postgres', 'b'), "t\n1", 'b uses the second slot');
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT pgmsg.create_queue('c')});
like($stderr, $full, 'a third queue is refused when it is created');

# A committed drop gives its slot back.
$node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('b')});
$node->safe_psql('postgres', q{SELECT pgmsg.create_queue('c')});
is(use_queue('postgres', 'c'), "t\n1", 'the slot of a dropped queue is used again');
$node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('c')});

# A creation that rolls back after the queue was used gives its slot back.
is( $node->safe_psql('postgres', q{
		BEGIN;
		SELECT pgmsg.create_queue('d');
		SELECT pgmsg.send('d', '{}') > 0;
		SELECT count(*) FROM pgmsg.receive('d');
		ROLLBACK;
		SELECT pgmsg.create_queue('e');
		SELECT pgmsg.send('e', '{}') > 0;
		SELECT count(*) FROM pgmsg.receive('e');
	}),
	"\nt\n1\n\nt\n1", 'a rolled-back creation leaves its slot free');
$node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('e')});

# So does one rolled back to a savepoint.
is( $node->safe_psql('postgres', q{
		BEGIN;
		SAVEPOINT s;
		SELECT pgmsg.create_queue('f');
		SELECT pgmsg.send('f', '{}') > 0;
		ROLLBACK TO SAVEPOINT s;
		SELECT pgmsg.create_queue('g');
		SELECT pgmsg.send('g', '{}') > 0;
		COMMIT;
	}),
	"\nt\n\nt", 'a creation rolled back to a savepoint leaves its slot free');
is(use_queue('postgres', 'g'), "t\n2", 'the queue created after it works');

# DROP EXTENSION gives back every slot of the database, also to a session
# that used the queues before.
$node->safe_psql('postgres', q{DROP EXTENSION pgmsg CASCADE; CREATE EXTENSION pgmsg;});
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.create_queue('h');
		SELECT pgmsg.create_queue('i');
		SELECT pgmsg.send('h', '{}') > 0;
		SELECT pgmsg.send('i', '{}') > 0;
		SELECT string_agg(name || ':' || sent_total || ':' || messages_in_flight, ' ' ORDER BY name)
		  FROM pgmsg.queues;
	}),
	"\n\nt\nt\nh:1:0 i:1:0", 'after DROP EXTENSION both slots are free, and start afresh');

# DROP DATABASE gives back the slots of the dropped database.
$node->safe_psql('postgres', q{DROP EXTENSION pgmsg CASCADE});
$node->safe_psql('postgres', q{CREATE DATABASE other});
$node->safe_psql('other', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('x');
SELECT pgmsg.create_queue('y');
});
is(use_queue('other', 'x'), "t\n1", 'x in the other database');
is(use_queue('other', 'y'), "t\n1", 'y in the other database');
$node->safe_psql('postgres', q{CREATE EXTENSION pgmsg});
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT pgmsg.create_queue('j')});
like($stderr, $full, 'the other database holds both slots');
$node->safe_psql('postgres', q{DROP DATABASE other WITH (FORCE)});
$node->safe_psql('postgres', q{
SELECT pgmsg.create_queue('j');
SELECT pgmsg.create_queue('k');
});
is(use_queue('postgres', 'j'), "t\n1", 'after DROP DATABASE its first slot is free');
is(use_queue('postgres', 'k'), "t\n1", 'and its second');

# After a restart no queue has a slot; reading the view claims none, so
# both slots stay free for the queues that are used.
$node->restart;
is( $node->safe_psql('postgres', q{
		SELECT string_agg(name || ':' || messages_visible || ':' || sent_total, ' ' ORDER BY name)
		  FROM pgmsg.queues}),
	'j:1:0 k:1:0', 'the view counts queues without a slot from their tables');
$node->safe_psql('postgres', q{CREATE DATABASE third});
$node->safe_psql('third', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('z');
});
is(use_queue('third', 'z'), "t\n1", 'the view left the slots free');

# A session that looked a queue up before its drop committed must not set
# up a slot for it afterwards: the drop has released the queue's slots by
# then, and nothing would release that one.  Here the session's snapshot
# (repeatable read) still lists the dropped queue in queue_meta; the view
# must neither count its table, which is gone, nor set up a slot for it.
$node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('j'); SELECT pgmsg.create_queue('l');});
my $bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($bg->query_safe(q{SELECT string_agg(name, ',' ORDER BY name) FROM pgmsg.queue_meta}),
	'k,l', 'the session sees l');
$node->safe_psql('postgres', q{SELECT pgmsg.drop_queue('l')});
is($bg->query_safe(q{SELECT string_agg(name, ',' ORDER BY name) FROM pgmsg.queues}),
	'k', 'pgmsg.queues leaves out the queue dropped since the snapshot');
$bg->query_safe('COMMIT');
$bg->quit;
$node->safe_psql('postgres', q{SELECT pgmsg.create_queue('m')});
is(use_queue('postgres', 'm'), "t\n1", 'no slot was set up for the dropped queue');

$node->stop;
done_testing();
