# Push subscriptions to AWS SNS, end to end against the fake SNS of
# test/push, which checks every request's SigV4 signature with AWS's own
# signer: PublishBatch of up to ten entries with typed attributes, the
# session token, FIFO group and deduplication ids (the same on a retry),
# order per group; partial batch failures (retried or dead-lettered by
# SenderFault), throttling, 500s, bad credentials; kill -9 of the whole
# server mid-batch; the credentials never in the log nor shown to other
# roles.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use t::PushFake;

my $key = 'AKIAPGMSGTEST0000001';
my $secret = 'pgmsg-sns-secret-key-never-logged';
my $token = 'pgmsg-session-token-never-logged';
my $sns = t::PushFake->start_sns(access_key => $key, secret_key => $secret,
	session_token => $token, region => 'eu-west-1', tls => 1);

my $node = PostgreSQL::Test::Cluster->new('push_sns');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.worker_naptime = 100ms
pgmsg.push_ca_file = '@{[ $sns->ca_file ]}'
pgmsg.push_timeout = 2s
pgmsg.push_retry_base = 20ms
pgmsg.push_max_backoff = 500ms
pgmsg.aws_access_key_id = '$key'
pgmsg.aws_secret_access_key = '$secret'
pgmsg.aws_session_token = '$token'
restart_after_crash = on
log_min_messages = debug1
});
$node->start;
my $url = $sns->url . '/';
my $arn = $sns->topic_arn('orders');
my $fifo_arn = $sns->topic_arn('ordered.fifo');
$node->safe_psql('postgres', qq{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_topic('orders');
SELECT pgmsg.create_topic('ordered', fifo => true);
SELECT pgmsg.subscribe_sns('orders', '$arn', 'eu-west-1', endpoint_url => '$url');
SELECT pgmsg.subscribe_sns('ordered', '$fifo_arn', 'eu-west-1', endpoint_url => '$url');
});
my $id = $node->safe_psql('postgres',
	"SELECT subscription_id FROM pgmsg.subscriptions WHERE endpoint = '$arn'");
my $fifo_id = $node->safe_psql('postgres',
	"SELECT subscription_id FROM pgmsg.subscriptions WHERE endpoint = '$fifo_arn'");

sub entries_of
{
	my ($got, $topic) = @_;
	return [ grep { $_->{topic_arn} eq $topic && !$_->{duplicate} } @{ $got->{entries} } ];
}

sub wait_entries
{
	my ($topic, $cond) = @_;
	my $got = $sns->wait_for(sub { $cond->(entries_of($_[0], $topic)) });
	return $got ? entries_of($got, $topic) : undef;
}

# --- batches, signatures, attributes, exactly once; a rollback never
$node->safe_psql('postgres', q{
BEGIN;
SELECT pgmsg.publish('orders', '{"n": 0}');
ROLLBACK;
SELECT pgmsg.publish('orders', jsonb_build_object('n', i),
                     jsonb_build_object('kind', 'paid', 'amount', i, 'tags', '["a","b"]'::jsonb))
  FROM generate_series(1, 25) i;
});
my $e = wait_entries($arn, sub { @{ $_[0] } >= 25 });
ok($e, '25 messages reached SNS');
$node->poll_query_until('postgres',
	"SELECT delivered = 25 FROM pgmsg.subscriptions WHERE subscription_id = $id")
  or die 'delivered never reached 25';
my $got = $sns->received;
$e = entries_of($got, $arn);
is(scalar @$e, 25, 'each exactly once');
my @reqs = grep { ($_->{topic_arn} // '') eq $arn } @{ $got->{requests} };
is(scalar(grep { !$_->{signature_verified} } @reqs), 0, 'every request passed SigV4 verification');
is(scalar(grep { $_->{action} ne 'PublishBatch' } @reqs), 0, 'all of them PublishBatch');
ok(!grep({ $_->{entries} > 10 } @reqs), 'at most ten entries a request');
ok(scalar(grep { $_->{entries} > 1 } @reqs) >= 1, 'messages travel in batches');
my %n = map { $_->{message} => $_ } @$e;
ok(!$n{'{"n": 0}'}, 'the rolled-back publish never reached SNS');
my $m5 = $n{'{"n": 5}'};
ok($m5, 'raw delivery sends the body as the message');
is($m5->{attributes}{kind}{data_type}, 'String', 'string attribute');
is($m5->{attributes}{amount}{data_type}, 'Number', 'number attribute');
is($m5->{attributes}{amount}{string_value}, '5', 'number value');
is($m5->{attributes}{tags}{data_type}, 'String.Array', 'string array attribute');

# --- FIFO: group and deduplication ids, order per group
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('ordered', jsonb_build_object('g', g, 'i', i), group_id => 'g' || g)
  FROM generate_series(1, 15) i, generate_series(1, 3) g ORDER BY i, g;
});
$e = wait_entries($fifo_arn, sub { @{ $_[0] } >= 45 });
ok($e, '45 FIFO messages reached SNS');
is(scalar(grep { !$_->{group_id} || !$_->{dedup_id} } @$e), 0,
	'each with MessageGroupId and MessageDeduplicationId');
my %order;
push @{ $order{ $_->{group_id} } }, $_->{message} =~ /"i": (\d+)/ for @$e;
is_deeply(\%order, { map { ("g$_" => [ 1 .. 15 ]) } 1 .. 3 }, 'in order within each group');

# --- FIFO partial failure: a group's message failed without SenderFault is
# retried, with the same deduplication id, and no later message of its group
# overtakes it (a request carries one message of a group)
$sns->reset;
$sns->set_mode(mode => 'partial', marker => 'RETRYME', sender_fault => 0, times => 1,
	topic => $fifo_arn);
$node->safe_psql('postgres', q{
BEGIN;
SELECT pgmsg.publish('ordered', '"RETRYME 1"', group_id => 'p');
SELECT pgmsg.publish('ordered', '"p 2"', group_id => 'p');
SELECT pgmsg.publish('ordered', '"p 3"', group_id => 'p');
SELECT pgmsg.publish('ordered', '"q 1"', group_id => 'q');
COMMIT;
});
$e = wait_entries($fifo_arn, sub { @{ $_[0] } >= 4 });
ok($e, 'FIFO: every message reached SNS after the partial failure');
$got = $sns->received;
is(scalar @{ $got->{failed} }, 1, 'FIFO: the fake failed the first message of group p');
is(join(',', map { $_->{message} } grep { $_->{group_id} eq 'p' } @$e),
	'RETRYME 1,p 2,p 3', 'FIFO: group p reached SNS in order after the retry');
my ($retried) = grep { $_->{message} eq 'RETRYME 1' } @$e;
is($retried->{dedup_id}, $got->{failed}[0]{dedup_id},
	'FIFO: the retry carries the same deduplication id');
$sns->clear_mode(topic => $fifo_arn);

# --- partial failure: retryable entries retried, SenderFault dead-lettered
$sns->reset;
$sns->set_mode(mode => 'partial', marker => 'RETRYME', sender_fault => 0, times => 2, topic => $arn);
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', '"ok 1"');
SELECT pgmsg.publish('orders', '"RETRYME 1"');
SELECT pgmsg.publish('orders', '"ok 2"');
});
$e = wait_entries($arn, sub { @{ $_[0] } >= 3 });
ok($e, 'entries failed without SenderFault are delivered on a retry');
$got = $sns->received;
ok(scalar(@{ $got->{failed} }) >= 1, 'the fake failed an entry first');
is(scalar @{ entries_of($got, $arn) }, 3, 'the entries that succeeded were not sent again');

$sns->reset;
$sns->set_mode(mode => 'partial', marker => 'POISON', sender_fault => 1, topic => $arn);
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', '"POISON pill"', '{"kind": "bad"}');
SELECT pgmsg.publish('orders', '"fine"');
});
$node->poll_query_until('postgres',
	"SELECT dead_lettered = 1 FROM pgmsg.subscriptions WHERE subscription_id = $id")
  or die 'the SenderFault entry was never dead-lettered';
my $dlq = $node->safe_psql('postgres',
	"SELECT push_dead_letter_queue FROM pgmsg.subscriptions WHERE subscription_id = $id");
like($node->safe_psql('postgres',
	"SELECT body::text || ' ' || (attributes->>'pgmsg_error') FROM pgmsg.receive('$dlq')"),
	qr/^"POISON pill" SNS InvalidParameter: /, 'SenderFault=true: dead-lettered with the error');
$sns->clear_mode(topic => $arn);

# --- throttling (400 Throttling, 429) and 500 are retried
for my $fault ([ 'throttle', {} ], [ 'throttle', { status => 429 } ], [ 'error500', {} ])
{
	$sns->reset;
	$sns->set_mode(mode => $fault->[0], %{ $fault->[1] }, times => 2, topic => $arn);
	$node->safe_psql('postgres', qq{SELECT pgmsg.publish('orders', '"after $fault->[0]"')});
	$e = wait_entries($arn, sub { @{ $_[0] } >= 1 });
	ok($e, "$fault->[0] @{[ %{ $fault->[1] } ]}: delivered after retries");
	my $c = $sns->summary->{counts};
	ok(($c->{throttle} // 0) + ($c->{error500} // 0) >= 2, "$fault->[0]: the faults were answered first");
}

# --- bad credentials: dead-lettered, not retried forever
$sns->reset;
$sns->set_mode(mode => 'badcreds', topic => $arn);
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '"with bad credentials"')});
$node->poll_query_until('postgres',
	"SELECT dead_lettered = 2 FROM pgmsg.subscriptions WHERE subscription_id = $id")
  or die 'bad credentials were never dead-lettered';
like($node->safe_psql('postgres',
	"SELECT last_error FROM pgmsg.subscriptions WHERE subscription_id = $id"),
	qr/InvalidClientTokenId/, 'the view shows the credentials error');
$sns->clear_mode(topic => $arn);

# --- kill -9 of the server mid-batch: nothing lost, duplicates counted
$sns->reset;
$sns->set_mode(mode => 'latency', latency_ms => 300, topic => $arn);
$node->safe_psql('postgres', q{
SELECT pgmsg.publish('orders', jsonb_build_object('k', i)) FROM generate_series(1, 200) i;
});
$sns->wait_for_summary(sub { $_[0]{requests} >= 2 }) or die 'no request before the crash';
my $postmaster = $node->{_pid};
$node->kill9;
# the children leave once they notice the postmaster is gone; until then
# the old shared memory keeps a new postmaster from starting
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while (kill(0, $postmaster) || system('pgrep', '-f', '^postgres: push_sns: ') == 0)
{
	die 'the server\'s processes outlived the postmaster' if time > $deadline;
	usleep(100_000);
}
$node->start;
$sns->clear_mode(topic => $arn);
$e = wait_entries($arn, sub {
	my %k = map { $_->{message} => 1 } @{ $_[0] };
	keys %k >= 200;
});
ok($e, 'after kill -9 of the server mid-batch, every message reached SNS');
my %k;
$k{ $_->{message} }++ for @$e;
my $dups = 0;
$dups += $_ - 1 for values %k;
note "duplicates after kill -9 of the server: $dups (batches whose outcome was unknown)";
ok($dups <= 200, "duplicates only where the outcome was unknown ($dups)");

# --- batches end at 256 KiB: three messages of 100 KiB go in two requests
$sns->reset;
$node->safe_psql('postgres', q{
BEGIN;
SELECT pgmsg.publish('orders', to_jsonb('big ' || i || ' ' || repeat('x', 100000)))
  FROM generate_series(1, 3) i;
COMMIT;
});
# (picked out by their bodies: the batches the crash above left with an
# unknown outcome may be delivered again meanwhile)
my $is_big = sub { ($_[0]{message} // '') =~ /^"?big / };
$e = wait_entries($arn, sub { (grep { $is_big->($_) } @{ $_[0] }) >= 3 });
ok($e, 'three messages of 100 KiB reached SNS');
my %big = map { $_->{request} => 1 } grep { $is_big->($_) } @$e;
is(scalar(keys %big), 2, 'in two requests of at most 256 KiB');
$got = $sns->received;
is($got->{counts}{invalid} // 0, 0, 'none refused as invalid');

# --- where the credentials come from: the settings, else the environment,
# else the shared credentials file.  The settings go (an empty value in
# postgresql.conf comes last), and the file holds the right ones.
my $credfile = PostgreSQL::Test::Utils::tempdir() . '/credentials';
open my $cf, '>', $credfile or die "could not write $credfile: $!";
print $cf "[other]\naws_access_key_id = AKIAPGMSGWRONG000001\naws_secret_access_key = wrong\n\n";
print $cf "[default]\naws_access_key_id = $key\naws_secret_access_key = $secret\naws_session_token = $token\n";
close $cf;
$node->append_conf('postgresql.conf', qq{
pgmsg.aws_access_key_id = ''
pgmsg.aws_secret_access_key = ''
pgmsg.aws_session_token = ''
});
$ENV{AWS_SHARED_CREDENTIALS_FILE} = $credfile;
delete $ENV{$_} for qw(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE);
$node->restart;
$sns->reset;
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '"from the file"')});
ok(wait_entries($arn, sub { grep { $_->{message} eq 'from the file' } @{ $_[0] } }),
	'credentials from the shared credentials file, profile default');

# the environment comes before the file: wrong ones there are used
my $dead = $node->safe_psql('postgres',
	"SELECT dead_lettered FROM pgmsg.subscriptions WHERE subscription_id = $id");
$ENV{AWS_ACCESS_KEY_ID} = 'AKIAPGMSGWRONG000002';
$ENV{AWS_SECRET_ACCESS_KEY} = 'wrong';
$node->restart;
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '"with the environment"')});
$node->poll_query_until('postgres',
	"SELECT dead_lettered = $dead + 1 FROM pgmsg.subscriptions WHERE subscription_id = $id")
  or die 'the environment\'s credentials were not used';
like($node->safe_psql('postgres',
	"SELECT last_error FROM pgmsg.subscriptions WHERE subscription_id = $id"),
	qr/InvalidClientTokenId/, 'the environment comes before the file');

# the settings come before the environment, and a reload sets them (and
# logs that they changed, without their values; as with a password, the
# statement log would show the values given)
$node->safe_psql('postgres', qq{
SET log_statement = none;
ALTER SYSTEM SET pgmsg.aws_access_key_id = '$key';
ALTER SYSTEM SET pgmsg.aws_secret_access_key = '$secret';
ALTER SYSTEM SET pgmsg.aws_session_token = '$token';
SELECT pg_reload_conf();
});
$node->safe_psql('postgres', q{SELECT pgmsg.publish('orders', '"with the settings"')});
ok(wait_entries($arn, sub { grep { $_->{message} eq 'with the settings' } @{ $_[0] } }),
	'the settings, set by a reload, come before the environment');
delete $ENV{$_} for qw(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE);

# --- the credentials: not for other roles, not in the log
$node->safe_psql('postgres', 'CREATE ROLE app LOGIN');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_settings WHERE name LIKE 'pgmsg.aws%'}, extra_params => [ '-U', 'app' ]),
	'0', 'a non-superuser does not see the credential settings');
my ($ok, $out, $err) = $node->psql('postgres', 'SHOW pgmsg.aws_secret_access_key',
	extra_params => [ '-U', 'app' ]);
unlike($out . $err, qr/\Q$secret\E/, 'nor can show them');
my $views = $node->safe_psql('postgres',
	q{SELECT string_agg(s::text, ' ') FROM pgmsg.subscriptions s});
ok($views !~ /\Q$secret\E/ && $views !~ /\Q$token\E/, 'no view shows them');
$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$secret\E/, 'the secret key is not in the server log');
unlike($log, qr/\Q$token\E/, 'the session token is not in the server log');
$sns->stop;
done_testing();
