# A publish is atomic across crashes: its copies commit together or not at
# all.  After a kill -9 of a backend in the middle of a publishing
# transaction, and after an immediate shutdown:
#	- every queue subscribed to the topic holds each committed publish
#	  exactly once (as the filter policies choose), and nothing of the
#	  publish that did not commit;
#	- subscriptions survive, and their compiled policies are rebuilt, so the
#	  next publish fans out as before;
#	- rows a publish trigger published come and go with their rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('topic_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_topic('t');
SELECT pgmsg.create_queue('all_q');
SELECT pgmsg.create_queue('even_q');
SELECT pgmsg.create_queue('env_q');
SELECT pgmsg.subscribe('t', 'all_q');
SELECT pgmsg.subscribe('t', 'even_q', '{"parity": ["even"]}');
SELECT pgmsg.subscribe('t', 'env_q', raw_message_delivery => false);
CREATE TABLE items (n int PRIMARY KEY);
CREATE TRIGGER items_publish AFTER INSERT ON items
	FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('t');
});

# Publish n with its parity as an attribute, one transaction each.
sub publish
{
	my ($from, $to) = @_;
	$node->safe_psql('postgres', join('', map {
		my $p = $_ % 2 ? 'odd' : 'even';
		"SELECT pgmsg.publish('t', '{\"n\": $_}', '{\"parity\": \"$p\"}');\n"
	} $from .. $to));
}

# What each queue holds, as sorted n's (the envelope's Message is the body).
sub holdings
{
	return $node->safe_psql('postgres', q{
		SELECT string_agg(n::text, ',' ORDER BY n) FROM (
		  SELECT (body->>'n')::int AS n FROM pgmsg.q_all_q WHERE body ? 'n') s;
		SELECT string_agg(n::text, ',' ORDER BY n) FROM (
		  SELECT (body->>'n')::int AS n FROM pgmsg.q_even_q) s;
		SELECT string_agg(n::text, ',' ORDER BY n) FROM (
		  SELECT ((body->>'Message')::jsonb->>'n')::int AS n FROM pgmsg.q_env_q
		   WHERE (body->>'Message')::jsonb ? 'n') s;
		SELECT count(*) FROM pgmsg.q_all_q WHERE body->>'table' = 'items';
	});
}

sub expect
{
	my ($all, $trigger) = @_;
	my @even = grep { $_ % 2 == 0 } @$all;
	return join("\n", join(',', @$all), join(',', @even), join(',', @$all), $trigger);
}

publish(1, 6);
$node->safe_psql('postgres', 'INSERT INTO items VALUES (1), (2)');
is(holdings(), expect([ 1 .. 6 ], 2), 'committed publishes reach the matching queues once');

# A transaction publishes n 100 and inserts item 100 (published by the
# trigger), and its backend is killed before it commits.
my $bg = $node->background_psql('postgres');
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_safe('BEGIN');
is($bg->query_safe(q{SELECT pgmsg.publish('t', '{"n": 100}', '{"parity": "even"}')}),
	'3', 'uncommitted publish reached three queues in its transaction');
$bg->query_safe('INSERT INTO items VALUES (100)');

my $log_offset = -s $node->logfile;
kill 'KILL', $pid;
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
$node->wait_for_log(qr/database system is ready to accept connections/, $log_offset);
$node->poll_query_until('postgres', 'SELECT 1', '1')
  or die 'server did not come back after the crash';
$bg->quit;

is(holdings(), expect([ 1 .. 6 ], 2),
	'after kill -9: committed copies all there, the uncommitted publish nowhere');
is( $node->safe_psql('postgres', q{SELECT count(*) FROM items WHERE n = 100}),
	'0', 'after kill -9: the uncommitted row is gone with its message');
is( $node->safe_psql('postgres', q{SELECT string_agg(endpoint, ',' ORDER BY endpoint) FROM pgmsg.subscriptions}),
	'all_q,env_q,even_q', 'after kill -9: subscriptions survive');

# Publishing goes on as before, policies included.
publish(7, 8);
is(holdings(), expect([ 1 .. 8 ], 2), 'after kill -9: the next publishes fan out as before');

# An immediate shutdown with a publish in progress.
$bg = $node->background_psql('postgres');
$bg->query_safe('BEGIN');
$bg->query_safe(q{SELECT pgmsg.publish_batch('t', ARRAY['{"n": 200}', '{"n": 202}']::jsonb[],
                                              ARRAY['{"parity": "even"}', '{"parity": "even"}']::jsonb[])});
$node->stop('immediate');
$bg->quit;
$node->start;

is(holdings(), expect([ 1 .. 8 ], 2),
	'after immediate shutdown: the uncommitted batch is nowhere');
publish(9, 10);
$node->safe_psql('postgres', 'INSERT INTO items VALUES (3)');
is(holdings(), expect([ 1 .. 10 ], 3), 'after immediate shutdown: publishing goes on');

# Every copy is delivered once: a receive from each queue hands out all of
# them, and a second one nothing.
is( $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM pgmsg.receive('all_q', 100)),
		       (SELECT count(*) FROM pgmsg.receive('even_q', 100)),
		       (SELECT count(*) FROM pgmsg.receive('env_q', 100)),
		       (SELECT count(*) FROM pgmsg.receive('all_q', 100))}),
	'13|5|13|0', 'each copy is received once');

$node->stop;
done_testing();
