# After a backend is killed mid-transaction (crash and restart of all
# backends) and after an immediate shutdown, no committed message is lost,
# no deleted message comes back, messages in flight are delivered again,
# and receipts from before are stale.
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

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('q', visibility_timeout => '1 hour');
SELECT pgmsg.send_batch('q', (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 20) i));
CREATE TABLE receipts (n int, receipt text);
});

# n 1..5 received and deleted: must never come back
$node->safe_psql('postgres', q{
SELECT count(pgmsg.delete('q', receipt)) FROM pgmsg.receive('q', 5);
});
# n 6..10 received and left in flight for an hour
$node->safe_psql('postgres', q{
INSERT INTO receipts SELECT (body->>'n')::int, receipt FROM pgmsg.receive('q', 5);
});
# n 11: received three times (visibility 0), its count is stored
$node->safe_psql('postgres', q{
SELECT pgmsg.receive('q', 1, visibility_timeout => '0');
SELECT pgmsg.receive('q', 1, visibility_timeout => '0');
SELECT pgmsg.receive('q', 1, visibility_timeout => '0');
});
is($node->safe_psql('postgres', q{SELECT receive_count FROM pgmsg.q_q WHERE body->>'n' = '11'}),
	'3', 'receive count stored on redelivery');

# A session that sends n=100 and deletes n=6, without committing.
my $bg = $node->background_psql('postgres');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe(q{BEGIN});
$bg->query_safe(q{SELECT pgmsg.send('q', '{"n": 100}')});
$bg->query_safe(q{SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 6});

# Kill it: the postmaster restarts every backend and shared memory.
kill 'KILL', $pid;
$bg->quit;
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
$node->poll_query_until('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'}, '1');

sub check_after_restart
{
	my ($phase) = @_;

	# receipts from before are stale
	is($node->safe_psql('postgres',
			q{SELECT count(*) FILTER (WHERE pgmsg.delete('q', receipt)) FROM receipts}),
		'0', "$phase: old receipts are stale");
	my $got = $node->safe_psql('postgres', q{
		SELECT string_agg(body->>'n', ',' ORDER BY (body->>'n')::int)
		  FROM pgmsg.receive('q', 1000, visibility_timeout => '0')});
	is($got, join(',', 6 .. 20),
		"$phase: every committed, undeleted message comes back once; deleted and uncommitted do not");
	cmp_ok($node->safe_psql('postgres',
			q{SELECT max(receive_count) FROM pgmsg.q_q WHERE body->>'n' = '11'}),
		'>=', 3, "$phase: receive count loses at most the receive in flight");
}

check_after_restart('after kill -9');

# Leave everything in flight again, delete 20, and stop immediately.
$node->safe_psql('postgres', q{
TRUNCATE receipts;
INSERT INTO receipts SELECT (body->>'n')::int, receipt FROM pgmsg.receive('q', 1000, visibility_timeout => '1 hour');
SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 20;
});
$node->stop('immediate');
$node->start;
# 20 was received again and deleted: it stays deleted.
my $got = $node->safe_psql('postgres', q{
	SELECT string_agg(body->>'n', ',' ORDER BY (body->>'n')::int)
	  FROM pgmsg.receive('q', 1000, visibility_timeout => '1 hour')});
is($got, join(',', 6 .. 19), 'after immediate shutdown: in-flight messages back, deleted gone');
is($node->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE pgmsg.delete('q', receipt)) FROM receipts}),
	'0', 'after immediate shutdown: old receipts are stale');

$node->stop;
done_testing();
