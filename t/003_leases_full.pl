# A full lease map is a clear error that takes nothing.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('leases');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.max_leases = 16
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('q', visibility_timeout => '1 hour');
SELECT pgmsg.send_batch('q', (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 20) i));
});

my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 20)});
isnt($ret, 0, 'receiving more than the lease map holds fails');
like($stderr, qr/too many messages in flight/, 'with a clear error');
is($node->safe_psql('postgres', q{SELECT messages_in_flight FROM pgmsg.queues}), '0',
	'and takes nothing');

$node->safe_psql('postgres', q{
CREATE TABLE r AS SELECT receipt FROM pgmsg.receive('q', 16);
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM r'), '16', 'a receive of 16 fits');
($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 1)});
like($stderr, qr/too many messages in flight/, 'the 17th does not');
is($node->safe_psql('postgres', q{SELECT pgmsg.delete('q', array_agg(receipt)) FROM r}), '16',
	'deleting frees leases');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgmsg.receive('q', 16)}), '4',
	'the rest can be received');

$node->stop;
done_testing();
