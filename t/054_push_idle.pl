# The push worker sleeps while its requests wait for an answer: with a
# request hanging at its endpoint and nothing else to do, it wakes up only
# to look at its queues now and then, not to poll curl.  Counted as the
# worker's voluntary context switches (each sleep is one) over a few
# seconds; a worker polling every few milliseconds makes hundreds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use t::PushFake;

my $hook = t::PushFake->start_webhook(tls => 1);
my $url = $hook->url;

my $node = PostgreSQL::Test::Cluster->new('push_idle');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.worker_naptime = 100ms
pgmsg.push_ca_file = '@{[ $hook->ca_file ]}'
pgmsg.push_timeout = 20s
});
$node->start;
$hook->set_mode(mode => 'hang', path => '/hang');
$node->safe_psql('postgres', qq{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_topic('idle');
SELECT pgmsg.subscribe_http('idle', '$url/hang');
SELECT pgmsg.publish('idle', '{"n": 1}');
});
$hook->wait_for_summary(sub { ($_[0]{counts}{hang} // 0) >= 1 })
  or die 'the request never reached the endpoint';
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'pgmsg push worker'});
ok($pid, 'the push worker runs');

sub sleeps
{
	my $status = slurp_file("/proc/$pid/status");
	my ($n) = $status =~ /^voluntary_ctxt_switches:\s+(\d+)/m;
	return $n;
}

my $before = sleeps();
usleep(3_000_000);
my $after = sleeps();
is($hook->summary->{counts}{hang}, 1, 'the request hung all along');
is($node->safe_psql('postgres',
	q{SELECT delivered FROM pgmsg.subscriptions WHERE protocol = 'https'}),
	'0', 'and was not answered');
note "the push worker slept " . ($after - $before) . " times in 3 seconds";
cmp_ok($after - $before, '<', 100, 'the push worker does not poll while a request hangs');

$hook->set_mode(mode => 'ok', path => '/hang');
ok($hook->wait_for(sub { grep { $_->{status} == 200 } @{ $_[0]{requests} } }),
	'the request is answered once the endpoint answers');
$node->stop;
$hook->stop;
done_testing();
