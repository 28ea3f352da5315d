# The examples in examples/python and examples/node, run as a user would
# run them: against a cluster with examples/schema.sql loaded, as child
# processes with the connection string in DATABASE_URL.  For each language:
# two workers drain the orders of the order service, slow ones included,
# and each order is processed exactly once (a worker extends the visibility
# timeout of what it holds, or another worker would get it too); a worker
# stopped by SIGTERM in the middle of a batch exits cleanly having deleted
# what it processed and handed back the rest, and a new worker processes
# the rest.  Then the LISTEN-driven Node worker consumes a notifying queue.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $dir = ($ENV{TESTDIR} // '.') . '/examples';
my $python = '/usr/bin/python3';
ok(-d "$dir/node/node_modules",
	'examples/node/node_modules is installed (scripts/test.sh runs npm ci)')
  or BAIL_OUT('run npm ci in examples/node first');

my $node = PostgreSQL::Test::Cluster->new('examples');
$node->init;
$node->append_conf('postgresql.conf', qq{shared_preload_libraries = 'pgmsg'});
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('shop'),
	  '-f', "$dir/schema.sql" ],
	'examples/schema.sql loads');

my $user = getpwuid($<);
my $url = sprintf('postgresql://%s@/shop?host=%s&port=%d', $user, $node->host, $node->port);

my %cmd = (
	python => {
		producer => [ $python, "$dir/python/order_service.py" ],
		worker => [ $python, "$dir/python/worker.py" ],
	},
	node => {
		producer => [ 'node', "$dir/node/order_service.js" ],
		worker => [ 'node', "$dir/node/worker.js" ],
		listen => [ 'node', "$dir/node/listen_worker.js" ],
	},
);

# start_example($cmd, %env): a running example; its output in $p->{out}.
sub start_example
{
	my ($cmd, %env) = @_;
	my $p = { out => '', err => '' };
	local %ENV = (%ENV, DATABASE_URL => $url, %env);
	$p->{h} = IPC::Run::start($cmd, '>', \$p->{out}, '2>', \$p->{err},
		IPC::Run::timeout(3 * $PostgreSQL::Test::Utils::timeout_default));
	return $p;
}

# Wait until the example has printed a line matching $re.
sub wait_output
{
	my ($p, $re) = @_;
	$p->{h}->pump until $p->{out} =~ $re || !$p->{h}->pumpable;
	return $p->{out} =~ $re;
}

# Wait for the example to exit; true if it exited with status 0.
sub finish_example
{
	my ($p) = @_;
	my $ok = eval { $p->{h}->finish; 1 };
	return $ok && $p->{h}->result == 0;
}

sub run_example
{
	my ($cmd, %env) = @_;
	my $p = start_example($cmd, %env);
	my $ok = finish_example($p);
	diag("@$cmd: $p->{err}") unless $ok;
	return $ok;
}

sub query { return $node->safe_psql('shop', $_[0]); }

my $left = q{SELECT messages_visible + messages_in_flight + messages_delayed
               FROM pgmsg.queues WHERE name = '%s'};
my $dups = q{SELECT count(*) - count(DISTINCT order_id) FROM processing_log};

sub reset_tables
{
	query('TRUNCATE processing_log, shipments, orders');
}

for my $lang ('python', 'node')
{
	my $c = $cmd{$lang};

	# Two workers, 60 orders, two of them slow: 5 s of work against a
	# 3-second visibility timeout.
	reset_tables();
	ok(run_example([ @{ $c->{producer} }, 60 ],
			WORK_MS => 10, SLOW_EVERY => 30, SLOW_MS => 5000),
		"$lang: the order service placed its orders");
	is(query(q{SELECT count(*) FROM orders}), '60', "$lang: 60 orders");
	is(query(sprintf($left, 'order_events')), '60', "$lang: 60 events");
	my @workers = map {
		start_example($c->{worker}, WORKER_NAME => "$lang-$_", BATCH => 5,
			VISIBILITY_SECONDS => 3, WAIT_SECONDS => 1)
	} (1, 2);
	ok($node->poll_query_until('shop',
			q{SELECT (SELECT count(*) FROM shipments) = 60 AND (} . sprintf($left, 'order_events') . ') = 0'),
		"$lang: the workers shipped every order and deleted every event");
	$_->{h}->signal('TERM') for @workers;
	for my $w (@workers)
	{
		ok(finish_example($w), "$lang: a worker exits cleanly on SIGTERM")
		  or diag($w->{err});
	}
	is(query($dups), '0', "$lang: no order was processed twice");
	is(query(q{SELECT count(*) FROM processing_log}), '60', "$lang: each order processed once");
	is(query(sprintf($left, 'order_events')), '0', "$lang: no message left");
	is(query(q{SELECT count(DISTINCT worker) FROM processing_log}), '2',
		"$lang: both workers took part");

	# SIGTERM in the middle of a batch of ten 300 ms orders.
	reset_tables();
	ok(run_example([ @{ $c->{producer} }, 30 ], WORK_MS => 300),
		"$lang: the order service placed 30 orders");
	my $w = start_example($c->{worker}, WORKER_NAME => "$lang-term", BATCH => 10);
	ok($node->poll_query_until('shop', q{SELECT count(*) >= 2 FROM processing_log}),
		"$lang: the worker is processing its first batch");
	$w->{h}->signal('TERM');
	ok(finish_example($w), "$lang: the worker exits cleanly mid-batch") or diag($w->{err});
	my $done = query(q{SELECT count(*) FROM processing_log});
	cmp_ok($done, '<', 30, "$lang: it stopped before the end ($done processed)");
	is(query(sprintf($left, 'order_events')), 30 - $done,
		"$lang: it deleted what it processed and nothing else");
	# Without the release they would stay invisible for the queue's 30 s
	# visibility timeout.  Receiving them with a timeout of 0 leaves them
	# for the next worker.
	is(query(q{SELECT count(*) FROM pgmsg.receive('order_events', 100,
	                                               visibility_timeout => '0')}),
		30 - $done, "$lang: it handed back the rest: receivable again at once");
	ok(run_example($c->{worker}, WORKER_NAME => "$lang-after", EXIT_WHEN_IDLE => 1,
			WAIT_SECONDS => 0),
		"$lang: a new worker drains the rest");
	is(query(q{SELECT count(*) FROM shipments}), '30', "$lang: every order shipped");
	is(query($dups), '0', "$lang: none twice");
	is(query(sprintf($left, 'order_events')), '0', "$lang: no message left after SIGTERM");
}

# The LISTEN-driven worker: started first, then woken by the notifications
# of the orders' commits (it would otherwise look again only in an hour).
reset_tables();
my $l = start_example($cmd{node}{listen}, RECHECK_SECONDS => 3600);
ok(wait_output($l, qr/ready/), 'node: the LISTEN worker is listening') or diag($l->{err});
ok(run_example([ @{ $cmd{node}{producer} }, 20 ], QUEUE => 'order_notifications'),
	'node: 20 orders sent to the notifying queue');
ok($node->poll_query_until('shop',
		q{SELECT (SELECT count(*) FROM shipments) = 20 AND (}
		  . sprintf($left, 'order_notifications') . ') = 0'),
	'node: the LISTEN worker shipped every order');
$l->{h}->signal('TERM');
ok(finish_example($l), 'node: the LISTEN worker exits cleanly on SIGTERM') or diag($l->{err});
is(query($dups), '0', 'node: no order processed twice by the LISTEN worker');

$node->stop;
done_testing();
