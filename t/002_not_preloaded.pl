# Without shared_preload_libraries, CREATE EXTENSION works and every
# function says what is missing, and nothing else.  A server that loses the
# preload keeps its messages, and gets them all back once the preload is
# restored.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

my ($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE EXTENSION pgmsg');
is($ret, 0, 'CREATE EXTENSION works without the preload');
is($stderr, '', 'and says nothing');

# The error, exactly: that message as the whole ERROR line, its hint, and
# nothing else.
my $missing = qr/\A(?:psql:<stdin>:\d+: )?ERROR:  pgmsg must be loaded via shared_preload_libraries\n/;
my $hint = qr/^HINT:  Add pgmsg to shared_preload_libraries in postgresql\.conf and restart the server\.$/m;

my @calls = (
	q{SELECT pgmsg.create_queue('q')},
	q{SELECT pgmsg.send('q', '{}')},
	q{SELECT * FROM pgmsg.receive('q')},
	q{SELECT * FROM pgmsg.queues},
	q{SELECT pgmsg.alter_queue('q', visibility_timeout => '1 minute')},
	q{SELECT pgmsg.drop_queue('q')},
	q{SELECT pgmsg.drop_queue('q', if_exists => true)},
	q{SELECT pgmsg.purge_queue('q')},
	q{SELECT * FROM pgmsg.send_batch('q', ARRAY['{}'::jsonb])},
	q{SELECT * FROM pgmsg.receive('q', 10, visibility_timeout => '1 minute', wait => '1 second')},
	q{SELECT pgmsg.delete('q', repeat('0', 56))},
	q{SELECT pgmsg.delete('q', ARRAY[repeat('0', 56)])},
	q{SELECT pgmsg.change_visibility('q', repeat('0', 56), '0')},
	q{SELECT pgmsg.change_visibility('q', ARRAY[repeat('0', 56)], '0')},
	q{SELECT pgmsg.redrive('q')},
	q{SELECT pgmsg.start_redrive('q')},
	q{SELECT pgmsg.grant('q', 'public', ARRAY['send'])},
	q{SELECT pgmsg.revoke('q', 'public', ARRAY['send'])},
	q{SELECT * FROM pgmsg.queue_stats()},
	q{SELECT * FROM pgmsg.queue_receive_counts()},
	q{SELECT pgmsg.filter_matches('{"a": ["b"]}', '{"a": "b"}')});

sub check_all_fail
{
	my ($phase) = @_;

	foreach my $sql (@calls)
	{
		my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
		isnt($ret, 0, "$phase: fails: $sql");
		like($stderr, $missing, "$phase: says the preload is missing: $sql");
		like($stderr, $hint, "$phase: with the hint: $sql");
	}
}

check_all_fail('never preloaded');

# In a session that loaded the library by hand, too.
($ret, $stdout, $stderr) = $node->psql('postgres', q{
LOAD 'pgmsg';
SELECT pgmsg.create_queue('q');
});
like($stderr, qr/ERROR:  pgmsg must be loaded via shared_preload_libraries$/m,
	'LOAD does not help');

# The SQLSTATE is object_not_in_prerequisite_state.
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT pgmsg.create_queue('q')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($stderr, qr/ERROR:  55000: pgmsg must be loaded via shared_preload_libraries$/m,
	'SQLSTATE 55000');

# The server is none the worse: no crash, no queue half made.
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgmsg.queue_meta'), '0',
	'no queue was created');
ok(!$node->log_contains(qr/server process .* was terminated|TRAP:|PANIC:/),
	'no backend crashed');

# Now with the preload: a queue with three messages, one of them in flight
# and one deleted.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$node->restart;
is( $node->safe_psql('postgres', q{
		SELECT pgmsg.create_queue('q', visibility_timeout => '1 hour');
		SELECT count(*) FROM pgmsg.send_batch('q', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
		SELECT pgmsg.delete('q', receipt) FROM pgmsg.receive('q');
		SELECT body->>'n' FROM pgmsg.receive('q');
	}),
	"\n3\nt\n2", 'with the preload: n 1 deleted, n 2 in flight');

# Without the preload again: every function fails the same way, and the
# messages are still stored.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$node->restart;
check_all_fail('preload removed');
is($node->safe_psql('postgres', q{SELECT string_agg(body->>'n', ',' ORDER BY msg_id) FROM pgmsg.q_q}),
	'2,3', 'preload removed: the messages are kept');

# With the preload back, both messages are delivered.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$node->restart;
is( $node->safe_psql('postgres', q{
		SELECT string_agg(body->>'n', ',' ORDER BY (body->>'n')::int) FROM pgmsg.receive('q', 10)}),
	'2,3', 'preload restored: every stored message is delivered');

# DROP EXTENSION works without the preload as with it: it refuses while a
# queue exists, and CASCADE drops the queues with it.
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$node->restart;
($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP EXTENSION pgmsg');
like($stderr, qr/ERROR:  cannot drop extension pgmsg because other objects depend on it/,
	'without the preload, DROP EXTENSION refuses while a queue exists');
($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP EXTENSION pgmsg CASCADE');
is($ret, 0, 'without the preload, DROP EXTENSION CASCADE works');
is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'pgmsg'),
		       to_regclass('pgmsg.q_q') IS NULL}),
	'0|t', 'and removes the extension with the queue tables');

$node->stop;
done_testing();
