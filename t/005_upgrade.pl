# ALTER EXTENSION pgmsg UPDATE from 1.0 to the current version.
#
# Two things must hold.  First, an extension updated from 1.0 is the same as
# one created fresh: the same member objects with the same definitions,
# privileges and dump configuration, so pgmsg--1.0--1.1.sql and
# pgmsg--1.1.sql cannot drift apart.  Second, the update happens under a
# live workload: queues, a dead-letter queue, a FIFO queue, a topic with
# subscriptions and messages in flight keep working across it, and receipts
# handed out before it still work after it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$node->start;

my $current = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'pgmsg'});
isnt($current, '1.0', "the default version is newer than 1.0 ($current)");

# A description of every member of the extension, one line each, with
# whatever defines it.  Queue tables made by create_queue are not members
# and are left out by construction.
my $describe = q{
WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'pgmsg'),
members AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
	   AND d.deptype = 'e')
SELECT line FROM (
	SELECT pg_describe_object(classid, objid, objsubid) AS line FROM members
	UNION ALL
	SELECT pg_get_functiondef(p.oid) || ' ACL ' || coalesce(p.proacl::text, '-')
	  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
	 WHERE p.prokind <> 'a'
	UNION ALL
	SELECT format('%s %s ACL %s opts %s', c.relkind, c.oid::regclass,
				  coalesce(c.relacl::text, '-'), coalesce(c.reloptions::text, '-'))
	  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
	UNION ALL
	SELECT format('column %s.%s %s notnull=%s default=%s', a.attrelid::regclass, a.attname,
				  format_type(a.atttypid, a.atttypmod), a.attnotnull,
				  coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-'))
	  FROM members m
	  JOIN pg_attribute a ON m.classid = 'pg_class'::regclass AND a.attrelid = m.objid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT format('constraint %s on %s: %s', co.conname, co.conrelid::regclass,
				  pg_get_constraintdef(co.oid))
	  FROM members m
	  JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
	UNION ALL
	SELECT pg_get_indexdef(i.indexrelid)
	  FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
	UNION ALL
	SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid))
	  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
	 WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('trigger %s on %s: %s', t.tgname, t.tgrelid::regclass, pg_get_triggerdef(t.oid))
	  FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
	 WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('sequence %s %s %s %s %s', s.seqrelid::regclass, format_type(s.seqtypid, NULL),
				  s.seqstart, s.seqincrement, s.seqmax)
	  FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
	UNION ALL
	SELECT format('type %s: %s', t.oid::regtype,
				  (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
								   ORDER BY a.attnum)
					 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0))
	  FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
	UNION ALL
	SELECT format('schema %s ACL %s', n.nspname, coalesce(n.nspacl::text, '-'))
	  FROM pg_namespace n WHERE n.nspname = 'pgmsg'
	UNION ALL
	SELECT 'dumped ' || cfg::regclass::text || ' where ' || cond
	  FROM ext, unnest(extconfig, extcondition) AS u(cfg, cond)
) d ORDER BY line COLLATE "C";
};

$node->safe_psql('postgres', q{
CREATE DATABASE fresh;
CREATE DATABASE updated;
CREATE DATABASE busy;
});
$node->safe_psql('fresh', 'CREATE EXTENSION pgmsg');
$node->safe_psql('updated', q{CREATE EXTENSION pgmsg VERSION '1.0'});
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'pgmsg'}),
	'1.0', 'version 1.0 can still be created');
$node->safe_psql('updated', 'ALTER EXTENSION pgmsg UPDATE');
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'pgmsg'}),
	$current, 'ALTER EXTENSION UPDATE reaches the default version');

my $fresh = $node->safe_psql('fresh', $describe);
my $updated = $node->safe_psql('updated', $describe);
ok(length($fresh) > 1000, 'the extension has members to compare');
is($updated, $fresh, 'an extension updated from 1.0 equals a fresh one');
if ($updated ne $fresh)
{
	my %f = map { $_ => 1 } split /\n/, $fresh;
	my %u = map { $_ => 1 } split /\n/, $updated;
	diag("only in fresh:   $_") for grep { !$u{$_} } sort keys %f;
	diag("only in updated: $_") for grep { !$f{$_} } sort keys %u;
}

# The update under a workload.
$node->safe_psql('busy', q{
CREATE ROLE upgrade_owner;
CREATE ROLE upgrade_user;
GRANT CREATE ON DATABASE busy TO upgrade_owner;
CREATE EXTENSION pgmsg VERSION '1.0';
SET ROLE upgrade_owner;
SELECT pgmsg.create_queue('owned');
SELECT pgmsg.grant('owned', 'upgrade_user', ARRAY['send']);
RESET ROLE;
SELECT pgmsg.create_queue('dlq');
SELECT pgmsg.create_queue('orders', dead_letter_queue => 'dlq', max_receive_count => 2,
                          visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('audit');
SELECT pgmsg.create_queue('seq', fifo => true);
SELECT pgmsg.create_topic('events');
SELECT pgmsg.subscribe('events', 'orders');
SELECT pgmsg.subscribe('events', 'audit', filter_policy => '{"kind": ["audit"]}');
SELECT pgmsg.send('orders', jsonb_build_object('n', i)) FROM generate_series(1, 5) i;
SELECT pgmsg.send('seq', jsonb_build_object('n', i), group_id => 'g') FROM generate_series(1, 3) i;
SELECT pgmsg.publish('events', '{"n": 6}', '{"kind": "audit"}');
});
# Two messages in flight across the update, with their receipts kept.
my $receipts = $node->safe_psql('busy', q{
SELECT string_agg(receipt, ' ' ORDER BY message_id) FROM pgmsg.receive('orders', 2)});
my @receipts = split / /, $receipts;
is(scalar @receipts, 2, 'two messages in flight before the update');
my $fifo_receipt = $node->safe_psql('busy', q{SELECT receipt FROM pgmsg.receive('seq')});
ok($fifo_receipt ne '', 'a FIFO group in flight before the update');

$node->safe_psql('busy', 'ALTER EXTENSION pgmsg UPDATE');
is($node->safe_psql('busy', q{SELECT extversion FROM pg_extension WHERE extname = 'pgmsg'}),
	$current, 'the busy database is updated');

is($node->safe_psql('busy', qq{SELECT pgmsg.delete('orders', '$receipts[0]')}),
	't', 'a receipt from before the update deletes its message');
is( $node->safe_psql('busy',
		qq{SELECT pgmsg.change_visibility('orders', '$receipts[1]', '0')}),
	't', 'a receipt from before the update releases its message');
is( $node->safe_psql('busy',
		q{SELECT string_agg(body->>'n', ',' ORDER BY message_id) FROM pgmsg.receive('orders', 10)}),
	'2,3,4,5,6', 'every message not deleted is delivered after the update');
is($node->safe_psql('busy', q{SELECT count(*) FROM pgmsg.receive('seq')}),
	'0', 'the FIFO group stays held by its receiver');
is($node->safe_psql('busy', qq{SELECT pgmsg.delete('seq', '$fifo_receipt')}),
	't', 'the FIFO receipt from before the update deletes');
is($node->safe_psql('busy', q{SELECT body->>'n' FROM pgmsg.receive('seq')}),
	'2', 'the FIFO group goes on in order');
is( $node->safe_psql('busy', q{
		SELECT pgmsg.publish('events', '{"n": 7}', '{"kind": "audit"}');
		SELECT body->>'n' FROM pgmsg.receive('audit', 10) ORDER BY message_id}),
	"2\n6\n7", 'topics fan out with their filter policies after the update');
is( $node->safe_psql('busy', q{
		SELECT name, messages_visible + messages_in_flight FROM pgmsg.queues ORDER BY name}),
	"audit|2\ndlq|0\norders|6\nowned|0\nseq|2", 'the view counts every queue after the update');
is( $node->safe_psql('busy', q{
		SELECT owner FROM pgmsg.queues WHERE name = 'owned';
		SET ROLE upgrade_user;
		SELECT pgmsg.send('owned', '{}') > 0;
		SELECT name FROM pgmsg.queues;}),
	"upgrade_owner\nt\nowned", 'owners and grants are kept by the update');
is( $node->safe_psql('busy', q{
		SELECT string_agg(DISTINCT max_in_flight::text, ',' ORDER BY max_in_flight::text)
		  FROM pgmsg.queue_meta}),
	'120000,20000', 'existing queues get the default in-flight limits');

# The update records the roles that existing queues and grants name, so
# they cannot be dropped from any database.
$node->safe_psql('postgres', 'REVOKE CREATE ON DATABASE busy FROM upgrade_owner');
my ($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE upgrade_owner');
like($err, qr/role "upgrade_owner" cannot be dropped because some objects depend on it\nDETAIL:  \d+ objects? in database busy$/m,
	'the owner of a queue made before the update cannot be dropped');
($ret, $out, $err) = $node->psql('postgres', 'DROP ROLE upgrade_user');
like($err, qr/role "upgrade_user" cannot be dropped because some objects depend on it/,
	'nor the grantee');

done_testing();
