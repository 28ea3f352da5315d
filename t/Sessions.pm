# Concurrent psql sessions for the TAP tests: start them all at once, then
# wait for each and check that it ended without an error.
package t::Sessions;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(run_sessions);

# run_sessions($node, $dbname, [$name, $sql], ...): each $sql in its own
# psql, all at the same time.  One test per session, named "$name finished".
sub run_sessions
{
	my ($node, $dbname, @specs) = @_;
	my @sessions;

	for my $spec (@specs)
	{
		my %s = (name => $spec->[0], out => '', err => '');
		$s{handle} = IPC::Run::start(
			[
				'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr($dbname),
				'-c', $spec->[1]
			],
			'>', \$s{out}, '2>', \$s{err},
			IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
		push @sessions, \%s;
	}
	for my $s (@sessions)
	{
		my $ok = eval { $s->{handle}->finish; };
		ok($ok && $s->{handle}->result == 0, "$s->{name} finished")
		  or diag("$s->{name}: " . ($@ || '') . $s->{err});
	}
}

1;
