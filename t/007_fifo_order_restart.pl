# A FIFO group's order survives a restart after its queue's delay was
# lowered.  With a delay, a group's first message gets a key in the
# future; once the delay is lowered, later messages of the group still get
# keys after it (the group remembers its last delayed key in shared
# memory).  After a restart that memory is gone, and a message sent then
# must still not overtake the delayed ones of its group.  Other groups are
# not held back.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fifo_restart');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
});
$node->start;

# The delay must outlast the restart below for the test to mean anything;
# were the machine slower than that, the order would hold trivially.
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('f', fifo => true, delay => '15 seconds');
SELECT pgmsg.send('f', '{"n": 1}', group_id => 'g');
SELECT pgmsg.alter_queue('f', delay => '0');
SELECT pgmsg.send('f', '{"n": 2}', group_id => 'g');
});

$node->restart;

$node->safe_psql('postgres', q{
SELECT pgmsg.send('f', '{"n": 3}', group_id => 'g');
SELECT pgmsg.send('f', '{"n": 1}', group_id => 'other');
});

# Only the other group is visible now: n 3 waits behind n 1 and n 2.
is( $node->safe_psql('postgres', q{
		SELECT string_agg(group_id || ':' || (body->>'n'), ',')
		  FROM pgmsg.receive('f', 10)}),
	'other:1', 'the other group is delivered, the delayed group is not overtaken');

# When the delayed messages become visible, the group comes in send order.
is( $node->safe_psql('postgres', q{
		SELECT string_agg(body->>'n', ',' ORDER BY o)
		  FROM pgmsg.receive('f', 10, wait => '20 seconds')
		       WITH ORDINALITY AS r(message_id, receipt, body, attributes,
		                            receive_count, sent_at, first_received_at,
		                            group_id, o)}),
	'1,2,3', 'the group is delivered in send order');

$node->stop;
done_testing();
