# monitoring/alerts.yml: the rules load, and their unit tests in
# monitoring/alerts_test.yml pass (promtool, from Debian's prometheus).
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;

my $promtool = '/usr/bin/promtool';
plan skip_all => "$promtool is not installed" unless -x $promtool;

my $dir = ($ENV{TESTDIR} // '.') . '/monitoring';

my ($stdout, $stderr);
my $ok = IPC::Run::run([ $promtool, 'check', 'rules', "$dir/alerts.yml" ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'the alert rules are valid') or diag("$stdout\n$stderr");
like($stdout, qr/SUCCESS: 7 rules found/, 'every rule is found');

$ok = IPC::Run::run([ $promtool, 'test', 'rules', "$dir/alerts_test.yml" ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'the alert rules pass their unit tests') or diag("$stdout\n$stderr");

done_testing();
