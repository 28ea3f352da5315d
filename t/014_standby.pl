# A streaming standby refuses every pgmsg function that leases a message
# or changes anything, with SQLSTATE 25006 and one clear message, while the
# views stay readable.  After promotion no lease taken on the standby
# survives (none can be taken), and every message, including one in flight
# on the old primary, can be received.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$primary->start;

$primary->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('q');
SELECT pgmsg.create_queue('other');
SELECT pgmsg.create_queue('dlq');
SELECT pgmsg.create_topic('t');
SELECT pgmsg.subscribe('t', 'q');
SELECT pgmsg.send('q', jsonb_build_object('n', n)) FROM generate_series(1, 3) n;
});
# one message in flight on the primary
my $receipt = $primary->safe_psql('postgres',
	q{SELECT receipt FROM pgmsg.receive('q', visibility_timeout => '1 hour')});
ok($receipt ne '', 'the primary leases a message');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

my @refused = (
	[ q{SELECT * FROM pgmsg.receive('q', 10, visibility_timeout => '1 hour')},
		'receive from queue "q"' ],
	[ q{SELECT pgmsg.send('q', '{}')}, 'send to queue "q"' ],
	[ q{SELECT pgmsg.send_batch('q', ARRAY['{}'::jsonb])}, 'send to queue "q"' ],
	[ qq{SELECT pgmsg.delete('q', '$receipt')}, 'delete from queue "q"' ],
	[ qq{SELECT pgmsg.delete('q', ARRAY['$receipt'])}, 'delete from queue "q"' ],
	[ qq{SELECT pgmsg.change_visibility('q', '$receipt', '0')},
		'change visibility in queue "q"' ],
	[ qq{SELECT pgmsg.change_visibility('q', ARRAY['$receipt'], '0')},
		'change visibility in queue "q"' ],
	[ q{SELECT pgmsg.create_queue('new')}, 'create queue "new"' ],
	[ q{SELECT pgmsg.alter_queue('q', delay => '1 second')}, 'alter queue "q"' ],
	[ q{SELECT pgmsg.purge_queue('q')}, 'purge queue "q"' ],
	[ q{SELECT pgmsg.drop_queue('other')}, 'drop queue "other"' ],
	[ q{SELECT pgmsg.redrive('dlq')}, 'redrive queue "dlq"' ],
	[ q{SELECT pgmsg.start_redrive('dlq')}, 'redrive queue "dlq"' ],
	[ q{SELECT pgmsg.grant('q', 'public', ARRAY['send'])}, 'grant privileges on "q"' ],
	[ q{SELECT pgmsg.revoke('q', 'public', ARRAY['send'])}, 'revoke privileges on "q"' ],
	[ q{SELECT pgmsg.create_topic('t2')}, 'create topic "t2"' ],
	[ q{SELECT pgmsg.drop_topic('t')}, 'drop topic "t"' ],
	[ q{SELECT pgmsg.subscribe('t', 'other')}, 'subscribe to topic "t"' ],
	[ q{SELECT pgmsg.unsubscribe('t', 'q')}, 'unsubscribe from topic "t"' ],
	[ q{SELECT pgmsg.publish('t', '{}')}, 'publish to topic "t"' ],
	[ q{SELECT pgmsg.publish_batch('t', ARRAY['{}'::jsonb])}, 'publish to topic "t"' ],
	[ q{SELECT pgmsg.subscribe_http('t', 'https://example.com/hook')},
		'subscribe to topic "t"' ],
	[ q{SELECT pgmsg.subscribe_sns('t', 'arn:aws:sns:eu-west-1:123456789012:t', 'eu-west-1')},
		'subscribe to topic "t"' ],
	[ q{SELECT pgmsg.unsubscribe_push('t', 'https://example.com/hook')},
		'unsubscribe from topic "t"' ],
	[ q{SELECT pgmsg.unsubscribe_push(1)}, 'remove push subscription "1"' ]);
for my $case (@refused)
{
	my ($sql, $what) = @$case;
	my ($ret, $out, $err) =
	  $standby->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	like($err, qr/ERROR:  25006: cannot \Q$what\E during recovery/,
		"the standby refuses to $what");
}

is( $standby->safe_psql('postgres', q{
		SELECT string_agg(name || ':' || (messages_visible + messages_in_flight), ' ' ORDER BY name)
		  FROM pgmsg.queues}),
	'dlq:0 other:0 q:3', 'the views stay readable on the standby');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM pgmsg.topics'),
	'1', 'so does the topics view');

$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'promoted');
is( $standby->safe_psql('postgres', q{
		SELECT string_agg(body->>'n', ' ' ORDER BY message_id)
		  FROM pgmsg.receive('q', 10)}),
	'1 2 3', 'after promotion every message is received, the one in flight on the old primary too');
is($standby->safe_psql('postgres', q{SELECT pgmsg.send('q', '{}') > 0}),
	't', 'and sends work');

done_testing();
