# Push subscriptions to webhooks, end to end against the webhook receiver of
# test/push over TLS: every committed message delivered once and signed
# (Standard Webhooks, checked by the receiver with the standardwebhooks
# package), a rolled-back publish never; transient failures retried,
# permanent ones dead-lettered with their error; a hanging endpoint does not
# hold up a healthy one; an endpoint down for a while, then kill -9 of the
# push worker mid-delivery, lose nothing; the secret never in the log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::Local qw(timegm);
use t::PushFake;

my $secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
my $hook = t::PushFake->start_webhook(secret => $secret, tls => 1);
my $url = $hook->url;

my $node = PostgreSQL::Test::Cluster->new('push_webhook');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.worker_naptime = 100ms
pgmsg.push_ca_file = '@{[ $hook->ca_file ]}'
pgmsg.push_timeout = 2s
pgmsg.push_retry_base = 20ms
pgmsg.push_max_backoff = 500ms
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_topic('orders');
SELECT pgmsg.create_topic('sequenced', fifo => true);
});

sub subscribe
{
	my ($path, %opt) = @_;
	# the receiver checks every path's signature
	$opt{secret} //= "'$secret'";
	my $extra = join '', map { ", $_ => $opt{$_}" } sort keys %opt;
	# as with a password, a statement log would show the secret given
	return $node->safe_psql('postgres',
		"SET log_statement = none; SELECT pgmsg.subscribe_http('orders', '$url$path'$extra)");
}

# The received requests of a path, and their parsed bodies.
sub requests_of
{
	my ($path) = @_;
	return [ grep { $_->{path} eq $path } @{ $hook->requests } ];
}

sub wait_path
{
	my ($path, $n) = @_;
	my $got = $hook->wait_for(
		sub { (grep { $_->{path} eq $path && $_->{status} == 200 } @{ $_[0]{requests} }) >= $n });
	return $got ? [ grep { $_->{path} eq $path } @{ $got->{requests} } ] : undef;
}

# seconds since the epoch of an ISO 8601 UTC time, as the receiver records it
sub epoch_of
{
	my ($iso) = @_;
	my ($y, $mo, $d, $h, $mi, $sec) = $iso =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):([\d.]+)Z$/
	  or die "unexpected time $iso";
	return timegm(0, $mi, $h, $d, $mo - 1, $y) + $sec;
}

sub view
{
	my ($id, $cols) = @_;
	return $node->safe_psql('postgres',
		"SELECT $cols FROM pgmsg.subscriptions WHERE subscription_id = $id");
}

# --- delivery: once each, signed, in the envelope; never a rolled-back one
my $env_id = subscribe('/env', headers => q{'{"X-Team": "billing"}'});
my $raw_id = subscribe('/raw', raw_message_delivery => 'true',
	filter_policy => q{'{"kind": ["paid"]}'});

$node->safe_psql('postgres', q{
BEGIN;
SELECT pgmsg.publish('orders', '{"n": 0}', '{"kind": "paid"}');
ROLLBACK;
SELECT pgmsg.publish('orders', jsonb_build_object('n', i), jsonb_build_object('kind', 'paid'))
  FROM generate_series(1, 20) i;
SELECT pgmsg.publish('orders', '"plain text"', '{"kind": "refund"}');
});
my $env = wait_path('/env', 21);
ok($env, 'every committed message reached the envelope subscription');
my $raw = wait_path('/raw', 20);
ok($raw, 'every matching message reached the raw subscription');
$node->poll_query_until('postgres',
	"SELECT delivered = 21 FROM pgmsg.subscriptions WHERE subscription_id = $env_id")
  or die 'delivered count never reached 21';
$node->poll_query_until('postgres',
	"SELECT delivered = 20 FROM pgmsg.subscriptions WHERE subscription_id = $raw_id")
  or die 'delivered count never reached 20';
$env = requests_of('/env');
$raw = requests_of('/raw');
is(scalar @$env, 21, 'no duplicate in the normal case (envelope)');
is(scalar @$raw, 20, 'no duplicate in the normal case (raw), and the filter applies');
is(scalar(grep { $_->{signature}{valid} } @$env, @$raw), 41,
	'every request carries a valid Standard Webhooks signature');
my %n = map { ($_->{json}{n} // -1) => 1 } @$raw;
ok(!$n{0}, 'the rolled-back publish was never delivered');
is_deeply([ sort { $a <=> $b } keys %n ], [ 1 .. 20 ], 'raw bodies are the published ones');
my ($first) = grep { ($_->{json}{Message} // '') eq '{"n": 1}' } @$env;
ok($first, 'envelope subscription gets SNS notification JSON');
is($first->{json}{Type}, 'Notification', 'envelope Type');
is($first->{json}{MessageAttributes}{kind}{Value}, 'paid', 'envelope attributes');
is($first->{headers}{'x-amz-sns-message-type'}, 'Notification', 'SNS message type header');
is($first->{headers}{'x-amz-sns-message-id'}, $first->{json}{MessageId},
	'message id header is the envelope MessageId');
is($first->{headers}{'webhook-id'}, $first->{json}{MessageId}, 'webhook-id is the MessageId');
like($first->{headers}{'x-amz-sns-topic-arn'}, qr/^arn:pgmsg:postgres:orders$/, 'topic ARN header');
is($first->{headers}{'x-team'}, 'billing', 'custom headers are sent');
is($first->{headers}{'content-type'}, 'application/json', 'JSON content type');
my ($plain) = grep { ($_->{json}{Message} // '') eq 'plain text' } @$env;
ok($plain, 'a string body is the Message as it is');

# --- transient failures are retried; permanent ones dead-lettered
$hook->set_mode(mode => 'status', status => 503, path => '/flaky', times => 3);
my $flaky_id = subscribe('/flaky');
$hook->set_mode(mode => 'status', status => 410, path => '/gone');
my $gone_id = subscribe('/gone', raw_message_delivery => 'true');
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '{"n": 100}', '{"kind": "x"}')});
ok(wait_path('/flaky', 1), 'a message failing with 503 three times is delivered in the end');
is(scalar(grep { $_->{status} == 503 } @{ requests_of('/flaky') }), 3, 'after three 503 answers');
$node->poll_query_until('postgres',
	"SELECT delivered = 1 AND retrying = 0 AND last_error = 'HTTP 503' FROM pgmsg.subscriptions WHERE subscription_id = $flaky_id")
  or die 'the retried delivery was not recorded';
pass('the view shows the delivery and the last error');

$node->poll_query_until('postgres',
	"SELECT dead_lettered = 1 FROM pgmsg.subscriptions WHERE subscription_id = $gone_id")
  or die 'the 410 was never dead-lettered';
is(scalar @{ requests_of('/gone') }, 1, 'a 410 is not retried');
my $dlq = view($gone_id, 'push_dead_letter_queue');
is($node->safe_psql('postgres',
	"SELECT body::text || ' ' || (attributes->>'pgmsg_error') FROM pgmsg.receive('$dlq')"),
	'{"n": 100} HTTP 410', 'the dead-letter queue has the message and its error');
is(view($gone_id, 'last_error'), 'HTTP 410', 'the view shows the error');
isnt(view($gone_id, 'last_error_at'), '', 'and when it happened');

# --- a redirect is not followed: the message is dead-lettered
$hook->set_mode(mode => 'redirect', status => 301, path => '/moved');
my $moved_id = subscribe('/moved', filter_policy => q{'{"kind": ["moved"]}'});
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '{"n": 150}', '{"kind": "moved"}')});
$node->poll_query_until('postgres',
	"SELECT dead_lettered = 1 FROM pgmsg.subscriptions WHERE subscription_id = $moved_id")
  or die 'the redirect was never dead-lettered';
is(view($moved_id, 'last_error'), 'HTTP 301: redirects are not followed', 'a redirect is an error');
is(scalar(grep { $_->{path} =~ m{^/redirected} } @{ $hook->requests }), 0,
	'the redirect was not followed');

# --- FIFO: in order within each group, through retries
my $seq_id = $node->safe_psql('postgres',
	"SET log_statement = none; SELECT pgmsg.subscribe_http('sequenced', '$url/seq', raw_message_delivery => true, secret => '$secret')");
$hook->set_mode(mode => 'status', status => 503, path => '/seq', times => 4);
$node->safe_psql('postgres', q{
BEGIN;
SELECT pgmsg.publish('sequenced', jsonb_build_object('g', g, 'i', i), group_id => 'g' || g)
  FROM generate_series(1, 10) i, generate_series(1, 3) g ORDER BY i, g;
COMMIT;
});
ok(wait_path('/seq', 30), 'every FIFO message was delivered');
my %seq;
push @{ $seq{ $_->{json}{g} } }, $_->{json}{i}
  for grep { $_->{status} == 200 } @{ requests_of('/seq') };
is_deeply(\%seq, { map { ($_ => [ 1 .. 10 ]) } 1 .. 3 },
	'each group delivered once, in order, after the failed attempts');
is(scalar(grep { $_->{status} == 503 } @{ requests_of('/seq') }), 4, 'after four 503 answers');

# --- Retry-After is honoured: the retry comes no sooner than asked
$hook->set_mode(mode => 'throttle', retry_after => 2, times => 1, path => '/later');
subscribe('/later', raw_message_delivery => 'true', filter_policy => q{'{"kind": ["later"]}'});
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '{"n": 200}', '{"kind": "later"}')});
my $later = wait_path('/later', 1);
ok($later, 'a message answered 429 with Retry-After is delivered in the end');
is(join(',', map { $_->{status} } @$later), '429,200', 'after one 429');
cmp_ok(epoch_of($later->[1]{received_at}) - epoch_of($later->[0]{received_at}), '>=', 2,
	'no sooner than Retry-After asked');

# --- retrying survives a restart of the push worker: messages it was
# retrying stay leased for their backoff, and still count
$hook->set_mode(mode => 'throttle', retry_after => 600, times => 3, path => '/r');
my $r_id = subscribe('/r', raw_message_delivery => 'true', filter_policy => q{'{"kind": ["r"]}'});
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', jsonb_build_object('r', i), '{"kind": "r"}') FROM generate_series(1, 3) i;
});
$node->poll_query_until('postgres',
	"SELECT retrying = 3 FROM pgmsg.subscriptions WHERE subscription_id = $r_id")
  or die 'the three throttled messages were never counted as retrying';
my $old_pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg push worker'});
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)");
$node->poll_query_until('postgres', qq{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'pgmsg push worker' AND pid <> $old_pid})
  or die 'no new push worker';
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '{"r": 4}', '{"kind": "r"}')});
ok(wait_path('/r', 1), 'the new push worker delivers');
$node->poll_query_until('postgres',
	"SELECT delivered = 1 FROM pgmsg.subscriptions WHERE subscription_id = $r_id")
  or die 'the delivery was not counted';
is(view($r_id, 'retrying'), '3',
	'messages the previous push worker was retrying still count as retrying');

# --- a hanging endpoint does not hold up a healthy subscription
$hook->set_mode(mode => 'hang', path => '/slow');
my $slow_id = subscribe('/slow', raw_message_delivery => 'true');
my $fast_id = subscribe('/fast', raw_message_delivery => 'true');
$hook->reset;
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', jsonb_build_object('h', i)) FROM generate_series(1, 50) i;
});
my $fast = wait_path('/fast', 50);
ok($fast, 'the healthy subscription got all 50 while the other hangs');
my $s = $hook->summary;
ok($s->{counts}{hang} >= 1, 'the hanging endpoint was holding requests meanwhile');
is(view($slow_id, 'delivered'), '0', 'nothing counted delivered to the hanging endpoint');
$hook->set_mode(mode => 'ok', path => '/slow');
ok(wait_path('/slow', 50), 'once it answers again, the hanging endpoint gets every message');

# --- an endpoint down for a while, then kill -9 of the push worker
$node->safe_psql('postgres', q{
SELECT pgmsg.unsubscribe_push(subscription_id) FROM pgmsg.subscriptions
 WHERE protocol = 'https' AND endpoint NOT LIKE '%/fast';
});
$hook->reset;
$hook->set_mode(mode => 'refuse');
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', jsonb_build_object('d', i)) FROM generate_series(1, 30) i;
});
$node->poll_query_until('postgres',
	"SELECT last_error IS NOT NULL AND retrying > 0 FROM pgmsg.subscriptions WHERE subscription_id = $fast_id")
  or die 'the refused connections were never recorded';
$hook->set_mode(mode => 'ok');
my $back = wait_path('/fast', 30);
ok($back, 'after the endpoint came back every message was delivered');
my %d;
$d{ $_->{json}{d} }++ for grep { $_->{status} == 200 } @{ requests_of('/fast') };
is_deeply([ sort { $a <=> $b } keys %d ], [ 1 .. 30 ], 'nothing lost while it was down');

$hook->reset;
$hook->set_mode(mode => 'latency', latency_ms => 200);
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', jsonb_build_object('k', i)) FROM generate_series(1, 40) i;
});
$hook->wait_for(sub { @{ $_[0]{requests} } >= 1 }) or die 'no request before the kill';
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg push worker'});
ok($pid, 'the push worker runs');
kill 'KILL', $pid;
$hook->set_mode(mode => 'ok');
$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';
my $after = $hook->wait_for(sub {
	my %k;
	$k{ $_->{json}{k} } = 1 for grep { $_->{path} eq '/fast' && $_->{status} == 200 && defined $_->{json}{k} } @{ $_[0]{requests} };
	keys %k >= 40;
});
ok($after, 'after kill -9 of the push worker every message was delivered');
my %k;
$k{ $_->{json}{k} }++ for grep { $_->{status} == 200 } @{ requests_of('/fast') };
my $dups = 0;
$dups += $_ - 1 for values %k;
note "duplicates after kill -9 of the push worker: $dups (requests whose outcome was unknown)";
ok($dups <= 40, "duplicates only where the outcome was unknown ($dups)");

# --- TLS is verified, and pgmsg.push_ca_file is reloadable: with libcurl's
# default CAs the test receiver's certificate is refused and the message
# waits; with its CA again it is delivered
$hook->reset;
$node->safe_psql('postgres', q{
ALTER SYSTEM SET pgmsg.push_ca_file = '';
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres', q{SELECT current_setting('pgmsg.push_ca_file') = ''})
  or die 'the reload never took effect';
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '{"tls": 1}')});
$node->poll_query_until('postgres',
	"SELECT last_error ~* 'cert' AND retrying = 1 FROM pgmsg.subscriptions WHERE subscription_id = $fast_id")
  or die 'an unverified certificate was never refused';
is(scalar @{ requests_of('/fast') }, 0, 'nothing reached an endpoint whose certificate did not verify');
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET pgmsg.push_ca_file;
SELECT pg_reload_conf();
});
my $tls = wait_path('/fast', 1);
ok($tls && $tls->[0]{json}{tls} == 1, 'delivered once the CA is trusted again');

# --- the secret never reaches the log
$node->stop;
my $log = slurp_file($node->logfile);
my ($b64) = $secret =~ /^whsec_(.*)$/;
unlike($log, qr/\Q$b64\E/, 'the webhook secret is not in the server log');
$hook->stop;
done_testing();
