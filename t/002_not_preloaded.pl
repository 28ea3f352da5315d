# Without shared_preload_libraries, CREATE EXTENSION works and every
# function says what is missing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pgmsg');
pass('CREATE EXTENSION works without the preload');

foreach my $sql (
	q{SELECT pgmsg.create_queue('q')},
	q{SELECT pgmsg.send('q', '{}')},
	q{SELECT * FROM pgmsg.receive('q')},
	q{SELECT pgmsg.delete('q', repeat('0', 56))},
	q{SELECT pgmsg.purge_queue('q')},
	q{SELECT * FROM pgmsg.queues})
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
	isnt($ret, 0, "fails: $sql");
	like($stderr, qr/pgmsg must be loaded via shared_preload_libraries/,
		"says why: $sql");
}

$node->safe_psql('postgres', 'DROP EXTENSION pgmsg');
$node->stop;
done_testing();
