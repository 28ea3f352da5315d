# Acknowledgements that need no flush of their own.  A transaction whose
# only writes are pgmsg deletes commits as with synchronous_commit = off; a
# transaction that also wrote anything else keeps the user's durability.
#
# Which commits wait is seen through synchronous replication (the node
# allows streaming, so max_wal_senders > 0) to a standby that never comes:
# a commit that waits for its flush then also waits for the standby, in
# wait event SyncRep, while one that does not wait for its flush returns at
# once.  A transaction that writes any other WAL record keeps its flush, and
# merely reading can write one: a hint bit set after a checkpoint under
# wal_log_hints (which allows_streaming turns on), or a page pruned on the
# way.  So hint bits are not WAL-logged here, shared buffers hold the whole
# database, and it is vacuumed before the deletes; a commit that should not
# wait and does fails its test after a timeout instead of hanging.  Then a crash (kill -9) right after deletes: the
# deleted messages may come back, none is lost, and business rows committed
# together with a delete survive.  Nothing here measures time.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('ackflush');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
autovacuum = off
wal_log_hints = off
shared_buffers = 32MB
});
$node->start;

# Messages n 1..42, all received: their receipts are kept in a table, read
# (not written) by the deletes below.
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('q', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('q',
	(SELECT array_agg(jsonb_build_object('n', i) ORDER BY i) FROM generate_series(1, 42) i));
CREATE TABLE receipts AS
	SELECT (body->>'n')::int AS n, receipt FROM pgmsg.receive('q', 42);
CREATE TABLE business (n int PRIMARY KEY);
});
$node->safe_psql('postgres', 'VACUUM');
is($node->safe_psql('postgres', 'SELECT count(*) FROM receipts'), '42', 'forty-two messages in flight');

# From here on a commit that waits for its flush waits for a standby that
# never comes.
$node->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'never_there'});
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('synchronous_standby_names')}, 'never_there')
  or die 'the setting did not take';
$node->safe_psql('postgres', 'CHECKPOINT');

# A transaction that only deletes commits without waiting, one receipt or
# a batch of them.
# returns_at_once($sql): $sql's output, or a failure if its commit waits
# (for the standby, that is: until the timeout).
sub returns_at_once
{
	my ($sql) = @_;
	my ($stdout, $stderr, $timed_out);
	my $ret = $node->psql('postgres', $sql,
		stdout => \$stdout, stderr => \$stderr,
		timeout => $PostgreSQL::Test::Utils::timeout_default,
		timed_out => \$timed_out);
	return '(its commit waited)' if $timed_out;
	return "(psql returned $ret: $stderr)" if $ret != 0;
	return $stdout;
}

is(returns_at_once(q{SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 1}),
	't', 'a delete alone commits without waiting for its flush');
is( returns_at_once(q{
		SELECT pgmsg.delete('q', array_agg(receipt)) FROM receipts WHERE n BETWEEN 2 AND 5}),
	'4', 'so does a delete of a batch');
is( returns_at_once(q{
		BEGIN;
		SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 6;
		SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 7;
		COMMIT;}),
	"t\nt", 'and several deletes in one transaction');

my $waiting = q{SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event = 'SyncRep' AND backend_type = 'client backend'};

# commit_waits($name, $sql): $sql's transaction commits and then waits for
# the standby; it is let go, and it has committed locally.
sub commit_waits
{
	my ($name, $sql) = @_;
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->query_until(qr/start/, "\\echo start\n$sql\n");
	ok($node->poll_query_until('postgres', $waiting, '1'), "$name: waits for its flush");
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$s->query('SELECT 1');
	like($s->{stderr}, qr/already committed locally/, "$name: committed locally");
	$s->quit;
}

# Anything else written with the deletes keeps the wait: a business row, a
# send.
commit_waits('a business row with a delete', q{
BEGIN;
INSERT INTO business VALUES (8);
SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 8;
COMMIT;});
commit_waits('a send with a delete', q{
BEGIN;
SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 9;
SELECT pgmsg.send('q', '{"n": 100}');
COMMIT;});
commit_waits('a business row before a delete, in a subtransaction', q{
BEGIN;
SAVEPOINT a;
INSERT INTO business VALUES (10);
RELEASE a;
SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 10;
COMMIT;});

# The user's setting is back once such a transaction ends: the session's
# next transaction keeps its durability, and shows the setting it had.
is( returns_at_once(q{
		SET synchronous_commit = remote_apply;
		SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 42;
		SHOW synchronous_commit;}),
	"t\nremote_apply", 'a delete alone leaves the session\'s synchronous_commit as it was');
commit_waits('a business row in the transaction after a delete alone', q{
SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 41;
INSERT INTO business VALUES (41);});

# pgmsg.durable_acks = on makes deletes wait for their flush too.
commit_waits('a delete with pgmsg.durable_acks = on', q{
SET pgmsg.durable_acks = on;
SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = 11;});

$node->safe_psql('postgres', q{ALTER SYSTEM RESET synchronous_standby_names});
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('synchronous_standby_names')}, '')
  or die 'the setting did not go';

is($node->safe_psql('postgres', 'SELECT string_agg(n::text, \',\' ORDER BY n) FROM business'),
	'8,10,41', 'the business rows are there');

# A crash right after deletes.  A session commits business rows with the
# deletes of n 21..25, then deletes n 12..20 alone (one by one, then a
# batch), and its backend is killed at once.
my $s = $node->background_psql('postgres');
my $pid = $s->query_safe('SELECT pg_backend_pid()');
for my $n (21 .. 25)
{
	$s->query_safe(qq{BEGIN; INSERT INTO business VALUES ($n);
		SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = $n; COMMIT;});
}
for my $n (12 .. 15)
{
	$s->query_safe(qq{SELECT pgmsg.delete('q', receipt) FROM receipts WHERE n = $n});
}
$s->query_safe(q{SELECT pgmsg.delete('q', array_agg(receipt)) FROM receipts WHERE n BETWEEN 16 AND 20});
my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
$s->quit;

is($node->safe_psql('postgres', 'SELECT string_agg(n::text, \',\' ORDER BY n) FROM business'),
	'8,10,21,22,23,24,25,41', 'business rows committed with deletes survive the crash');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM pgmsg.q_q WHERE (body->>'n')::int IN (8, 9, 10, 21, 22, 23, 24, 25, 41, 42)}),
	'0', 'and so do the deletes committed with them');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM generate_series(26, 40) n
		 WHERE NOT EXISTS (SELECT FROM pgmsg.q_q WHERE (body->>'n')::int = n)}),
	'0', 'no message that was not deleted is lost');
my $back = $node->safe_psql('postgres', q{
	SELECT count(*) FROM pgmsg.q_q WHERE (body->>'n')::int BETWEEN 1 AND 20});
note("$back of the 20 messages deleted without a flush of their own came back");
cmp_ok($back, '<=', 20, 'deleted messages may come back, and only those');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM pgmsg.q_q WHERE (body->>'n')::int NOT BETWEEN 1 AND 42}),
	'1', 'the message sent with a delete is there');

# Whatever came back is delivered again.
is( $node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 100)}),
	$back + 15 + 1, 'every message left is received again');

$node->stop;
done_testing();
