# monitoring/queries.yaml in the real prometheus-postgres-exporter: start it
# against a cluster with queues and push subscriptions in several states,
# logged in as a role that is only a member of pg_monitor, and check the
# metrics it serves on /metrics: names, types, labels and values.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use HTTP::Tiny;
use t::PushFake;

my $exporter = '/usr/bin/prometheus-postgres-exporter';
plan skip_all => "$exporter is not installed" unless -x $exporter;

my $queries = ($ENV{TESTDIR} // '.') . '/monitoring/queries.yaml';
ok(-f $queries, 'the query file exists');

# Push subscriptions deliver to a webhook receiver: one path accepts, one
# refuses for good (410: dead-lettered at once), one fails for now (503:
# retried after a backoff of ten minutes, long past the end of the test).
my $hook = t::PushFake->start_webhook(tls => 1);
$hook->set_mode(mode => 'status', status => 410, path => '/gone');
$hook->set_mode(mode => 'status', status => 503, path => '/flaky');

my $node = PostgreSQL::Test::Cluster->new('exporter');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'pgmsg'
pgmsg.max_leases = 5000
pgmsg.queue_lease_share = 100
pgmsg.worker_naptime = 100ms
pgmsg.push_ca_file = '@{[ $hook->ca_file ]}'
pgmsg.push_retry_base = 600000
pgmsg.push_max_backoff = 600000});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('shop', q{
CREATE EXTENSION pgmsg;
CREATE ROLE metrics_exporter LOGIN IN ROLE pg_monitor;
SELECT pgmsg.create_queue('orders_dlq');
SELECT pgmsg.create_queue('orders', dead_letter_queue => 'orders_dlq',
                          max_receive_count => 2);
SELECT pgmsg.create_queue('idle');
SELECT count(*) FROM pgmsg.send_batch('orders',
    ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}', '{"n": 4}', '{"n": 5}']::jsonb[]);
SELECT pgmsg.send('orders', '{"later": true}', delay => '15 minutes');
});
# message 1: received twice and dead-lettered at its third receive
# message 2: received twice, held; message 3: received once and deleted;
# message 4: received once, held; message 5: visible
$node->safe_psql('shop', $_) for (
	q{SELECT count(*) FROM pgmsg.receive('orders', 1, visibility_timeout => '0')},
	q{SELECT count(*) FROM pgmsg.receive('orders', 1, visibility_timeout => '0')},
	q{SELECT count(*) FROM pgmsg.receive('orders', 1, visibility_timeout => '0')},
	q{SELECT count(*) FROM pgmsg.receive('orders', 1, visibility_timeout => '0')},
	q{SELECT count(*) FROM pgmsg.receive('orders', 1, visibility_timeout => '1 hour')},
	q{SELECT pgmsg.delete('orders', receipt)
	    FROM pgmsg.receive('orders', 1, visibility_timeout => '1 hour')},
	q{SELECT count(*) FROM pgmsg.receive('orders', 1, visibility_timeout => '1 hour')});
is($node->safe_psql('shop', q{
	SELECT messages_visible, messages_in_flight, messages_delayed, dead_lettered_total
	  FROM pgmsg.queues WHERE name = 'orders'}),
	'1|2|1|1', 'the queue is in the expected state');

my $url = $hook->url;
my %sub;
$node->safe_psql('shop', q{
SELECT pgmsg.create_topic('events');
SELECT pgmsg.create_topic('audit');
});
$sub{$_} = $node->safe_psql('shop', "SELECT pgmsg.subscribe_http('events', '$url/$_')")
  for qw(ok gone);
$sub{flaky} = $node->safe_psql('shop', "SELECT pgmsg.subscribe_http('audit', '$url/flaky')");
$node->safe_psql('shop', q{
SELECT count(*) FROM pgmsg.publish_batch('events', ARRAY['{"n": 1}', '{"n": 2}']::jsonb[]);
SELECT pgmsg.publish('audit', '{"n": 3}');
});
ok( $node->poll_query_until(
		'shop', qq{
	SELECT string_agg(delivered || '/' || dead_lettered || '/' || retrying, ' '
	                  ORDER BY subscription_id)
	  FROM pgmsg.subscriptions
	 WHERE subscription_id IN ($sub{ok}, $sub{gone}, $sub{flaky})},
		'2/0/0 0/2/0 0/0/1'),
	'the push worker delivered, dead-lettered and is retrying')
  or diag($node->safe_psql('shop', 'SELECT * FROM pgmsg.subscriptions'));

my $port = PostgreSQL::Test::Cluster::get_free_port();
my $host = $node->host;
my $node_port = $node->port;
my ($out, $err) = ('', '');
my $h;
{
	local $ENV{DATA_SOURCE_NAME} =
	  "host=$host port=$node_port dbname=shop user=metrics_exporter sslmode=disable";
	$h = IPC::Run::start(
		[
			$exporter, "--extend.query-path=$queries",
			"--web.listen-address=127.0.0.1:$port",
			'--disable-default-metrics', '--disable-settings-metrics',
			'--log.level=warn'
		],
		'>', \$out, '2>', \$err);
}

# Poll until the exporter answers with pgmsg's metrics.
my $http = HTTP::Tiny->new(timeout => 10);
my $metrics = '';
for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
{
	my $res = $http->get("http://127.0.0.1:$port/metrics");
	if ($res->{success} && $res->{content} =~ /^pgmsg_queue_messages_visible/m)
	{
		$metrics = $res->{content};
		last;
	}
	$h->pump_nb;
	last unless $h->pumpable;
	select(undef, undef, undef, 0.1);
}
ok($metrics ne '', 'the exporter serves pgmsg metrics') or diag("exporter: $err");
note($metrics);

# value($name, %labels): the value of one sample, or undef.
sub value
{
	my ($name, %labels) = @_;
	for my $line (split /\n/, $metrics)
	{
		next unless $line =~ /^\Q$name\E\{([^}]*)\} (\S+)$/;
		my ($l, $v) = ($1, $2);
		my %have = $l =~ /(\w+)="([^"]*)"/g;
		next if grep { ($have{$_} // '') ne $labels{$_} } keys %labels;
		return $v;
	}
	return undef;
}

sub type_of
{
	my ($name) = @_;
	return $metrics =~ /^# TYPE \Q$name\E (\w+)$/m ? $1 : undef;
}

my %orders = (database => 'shop', queue => 'orders');
my %dlq = (database => 'shop', queue => 'orders_dlq');
my %idle = (database => 'shop', queue => 'idle');

is(value('pgmsg_queue_messages_visible', %orders), '1', 'visible');
is(value('pgmsg_queue_messages_in_flight', %orders), '2', 'in flight');
is(value('pgmsg_queue_messages_delayed', %orders), '1', 'delayed');
ok(value('pgmsg_queue_oldest_message_age_seconds', %orders) > 0, 'oldest message age');
is(value('pgmsg_queue_oldest_message_age_seconds', %idle), '0',
	'an empty queue has no oldest message');
is(value('pgmsg_queue_sent_total', %orders), '6', 'sent');
# a dead-lettering receive counts as a receive and a delete of its own
ok(value('pgmsg_queue_received_total', %orders) >= 6, 'received');
ok(value('pgmsg_queue_deleted_total', %orders) >= 1, 'deleted');
is(value('pgmsg_queue_dead_lettered_total', %orders), '1', 'dead-lettered');
is(value('pgmsg_queue_messages_visible', %dlq), '1', 'the dead letter is visible');
is(value('pgmsg_queue_is_dead_letter_queue', %dlq), '1', 'a dead-letter queue is marked');
is(value('pgmsg_queue_is_dead_letter_queue', %orders), '0', 'a source queue is not');
is(value('pgmsg_queue_max_receive_count', %orders), '2', 'max_receive_count');

is(value('pgmsg_queue_held_messages', %orders), '2', 'held messages');
is(value('pgmsg_queue_held_receive_count_max', %orders), '2', 'largest receive count');
is(value('pgmsg_queue_held_receive_count_max', %idle), '0', 'no receive count when idle');
is(value('pgmsg_queue_held_receive_count_bucket', %orders, le => '1'), '1', 'bucket le=1');
is(value('pgmsg_queue_held_receive_count_bucket', %orders, le => '2'), '2', 'bucket le=2');
is(value('pgmsg_queue_held_receive_count_bucket', %orders, le => '10'), '2', 'bucket le=10');
is(value('pgmsg_queue_held_receive_count_bucket', %idle, le => '1'), '0', 'idle bucket le=1');
is(value('pgmsg_queue_held_receive_count_bucket', %orders, le => '+Inf'), '2', 'bucket le=+Inf');
is(value('pgmsg_queue_held_receive_count_sum', %orders), '3', 'receive count sum');
is(value('pgmsg_queue_held_receive_count_count', %orders), '2', 'receive count count');
is(value('pgmsg_leases_max', database => 'shop'), '5000', 'pgmsg.max_leases');

my %ok = (database => 'shop', topic => 'events', protocol => 'https', subscription => $sub{ok});
my %gone = (%ok, subscription => $sub{gone});
my %flaky = (%ok, topic => 'audit', subscription => $sub{flaky});
is(value('pgmsg_push_delivered_total', %ok), '2', 'push: delivered');
is(value('pgmsg_push_messages_waiting', %ok), '0', 'push: nothing waits');
is(value('pgmsg_push_lag_seconds', %ok), '0', 'push: no lag when nothing waits');
is(value('pgmsg_push_dead_letter_messages', %ok), '0', 'push: an empty dead-letter queue');
is(value('pgmsg_push_dead_lettered_total', %gone), '2', 'push: dead-lettered');
is(value('pgmsg_push_dead_letter_messages', %gone), '2', 'push: in the dead-letter queue');
is(value('pgmsg_push_delivered_total', %gone), '0', 'push: none delivered');
is(value('pgmsg_push_retrying', %flaky), '1', 'push: retrying');
is(value('pgmsg_push_messages_waiting', %flaky), '1', 'push: the retried message waits');
ok(value('pgmsg_push_lag_seconds', %flaky) > 0, 'push: lag of the retried message');
# the message waits in flight, leased for its backoff: the lag counts it
# all the same, here and in the subscriptions view
is( $node->safe_psql('shop', qq{
	SELECT lag > '0' FROM pgmsg.subscriptions WHERE subscription_id = $sub{flaky}}),
	't', 'the subscriptions view shows the lag of a message in flight');
my $push_dlq = $node->safe_psql('shop',
	"SELECT dead_letter_queue FROM pgmsg.push_stats() WHERE subscription_id = $sub{gone}");
is(value('pgmsg_queue_is_dead_letter_queue', database => 'shop', queue => $push_dlq), '1',
	'a push dead-letter queue is marked as one');

is(type_of('pgmsg_queue_messages_visible'), 'gauge', 'gauges are gauges');
is(type_of('pgmsg_queue_sent_total'), 'counter', 'counters are counters');
is(type_of('pgmsg_queue_held_receive_count'), 'histogram', 'the histogram is one');
is(type_of('pgmsg_push_delivered_total'), 'counter', 'push counters are counters');
is(type_of('pgmsg_push_lag_seconds'), 'gauge', 'push lag is a gauge');
like($metrics, qr/^pg_exporter_last_scrape_error 0$/m, 'no scrape error');

$h->signal('TERM');
$h->finish;
$node->stop;
$hook->stop;
done_testing();
