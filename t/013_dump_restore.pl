# pg_dump of a database using pgmsg, restored into another cluster.
#
# The restoring cluster creates its roles in another order, so that the OID
# the queues' owner had in the first cluster belongs to a different role in
# the second.  Ownership and grants must follow the roles by name; queues,
# topics, subscriptions, messages and the FIFO dedup window must come back;
# the queue tables must again depend on the extension, so that a plain
# DROP EXTENSION refuses while queues exist; and pg_dump must not warn.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $origin = PostgreSQL::Test::Cluster->new('origin');
$origin->init;
$origin->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$origin->start;

my $target = PostgreSQL::Test::Cluster->new('target');
$target->init;
$target->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$target->start;

$origin->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE DATABASE app;
GRANT CREATE ON DATABASE app TO alice;
});
$target->safe_psql('postgres', q{
CREATE ROLE eve LOGIN;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE DATABASE app;
});

my $oid = sub {
	my ($node, $role) = @_;
	return $node->safe_psql('postgres', "SELECT oid FROM pg_roles WHERE rolname = '$role'");
};
is($oid->($target, 'eve'), $oid->($origin, 'alice'),
	"eve's OID in the target is alice's in the origin");
is($oid->($target, 'alice'), $oid->($origin, 'bob'),
	"alice's OID in the target is bob's in the origin");

$origin->safe_psql('app', q{
CREATE EXTENSION pgmsg;
SET ROLE alice;
SELECT pgmsg.create_queue('dlq');
SELECT pgmsg.create_queue('orders', dead_letter_queue => 'dlq', max_receive_count => 3);
SELECT pgmsg.create_queue('seq', fifo => true);
SELECT pgmsg.create_topic('events');
SELECT pgmsg.subscribe('events', 'orders');
SELECT pgmsg.grant('orders', 'bob', ARRAY['send']);
SELECT pgmsg.grant('events', 'public', ARRAY['publish']);
SELECT pgmsg.send('orders', '{"n": 1}');
SELECT pgmsg.publish('events', '{"n": 2}');
SELECT pgmsg.send('seq', '{"n": 3}', group_id => 'g', dedup_id => 'd1');
});

my $dump = $origin->basedir . '/app.dump';
my ($stdout, $stderr);
my $ok = IPC::Run::run(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $origin->connstr('app') ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'pg_dump succeeds');
is($stderr, '', 'pg_dump prints no warning');

$target->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $target->connstr('app'), $dump ],
	'pg_restore succeeds');

is( $target->safe_psql('app', q{
		SELECT string_agg(name || ':' || owner, ' ' ORDER BY name) FROM pgmsg.queues}),
	'dlq:alice orders:alice seq:alice',
	'queues are owned by alice, by name');
is($target->safe_psql('app', 'SELECT owner FROM pgmsg.topics'),
	'alice', 'the topic is owned by alice');
is($target->safe_psql('app', 'SELECT topic, endpoint, owner FROM pgmsg.subscriptions'),
	'events|orders|alice', 'the subscription is back, owned by alice');

my ($ret, $out, $err) = $target->psql('app',
	q{SET ROLE eve; SELECT * FROM pgmsg.receive('orders')});
like($err, qr/permission denied for queue "orders"/,
	"eve, with alice's old OID, cannot receive alice's messages");
($ret, $out, $err) = $target->psql('app',
	q{SET ROLE eve; SELECT pgmsg.grant('orders', 'eve', ARRAY['manage'])});
like($err, qr/permission denied for queue "orders"/, 'nor grant herself anything');
is($target->safe_psql('app', q{SET ROLE eve; SELECT count(*) FROM pgmsg.queues}),
	'0', 'eve sees no queue');

is( $target->safe_psql('app', q{
		SET ROLE alice;
		SELECT string_agg(body::text, ' ' ORDER BY message_id)
		  FROM pgmsg.receive('orders', 10, visibility_timeout => '1 hour')}),
	'{"n": 1} {"n": 2}', 'alice receives the restored messages');
is($target->safe_psql('app', q{SET ROLE bob; SELECT pgmsg.send('orders', '{"n": 4}') > 0}),
	't', 'bob can still send to orders');
($ret, $out, $err) = $target->psql('app',
	q{SET ROLE bob; SELECT * FROM pgmsg.receive('orders')});
like($err, qr/permission denied for queue "orders"/,
	'bob, whose old OID is now alice\'s, got no more than send');
is($target->safe_psql('app', q{SET ROLE eve; SELECT pgmsg.publish('events', '{"n": 5}')}),
	'1', 'the grant to PUBLIC came back');

is( $target->safe_psql('app', q{
		SET ROLE alice;
		SELECT pgmsg.send('seq', '{"n": 3}', group_id => 'g', dedup_id => 'd1') > 0;
		SELECT count(*) FROM pgmsg.receive('seq', 10);}),
	"t\n1", 'a dedup id sent before the dump is still a repeat after the restore');

# The restored rows record their roles again: the owner cannot be dropped,
# not even from another database, and the grantee neither.
($ret, $out, $err) = $target->psql('postgres', 'DROP ROLE alice');
like($err, qr/role "alice" cannot be dropped because some objects depend on it\nDETAIL:  \d+ objects in database app/,
	'a restored owner cannot be dropped from another database');
($ret, $out, $err) = $target->psql('app', 'DROP ROLE bob');
like($err, qr/role "bob" cannot be dropped because some objects depend on it/,
	'nor a restored grantee');

($ret, $out, $err) = $target->psql('app', 'DROP EXTENSION pgmsg');
like($err, qr/cannot drop extension pgmsg because other objects depend on it/,
	'a plain DROP EXTENSION refuses while restored queues exist');
is($target->safe_psql('app', q{
		DROP EXTENSION pgmsg CASCADE;
		SELECT count(*) FROM pg_class WHERE relname LIKE 'q\_%';
		CREATE EXTENSION pgmsg;
		SELECT pgmsg.create_queue('orders');
		SELECT pgmsg.send('orders', '{}') > 0;}),
	"0\n\nt", 'DROP EXTENSION CASCADE takes the restored queue tables with it');
is($target->safe_psql('postgres', 'DROP ROLE alice, bob; SELECT 1'),
	'1', 'and the roles they named can be dropped again');

done_testing();
