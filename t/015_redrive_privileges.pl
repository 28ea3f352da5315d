# start_redrive checks what redrive checks, when the task is started, and
# the worker carries the task out as the role that started it, checking its
# privileges again for every batch.  Dead letters remember their source
# queue by identity: a queue created again under a dropped queue's name
# never receives the dead letters of the old one.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('redrive_privileges');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$node->start;

$node->safe_psql('postgres', q{
CREATE ROLE alice;
CREATE ROLE bob;
GRANT CREATE ON DATABASE postgres TO alice, bob;
CREATE EXTENSION pgmsg;
SET ROLE alice;
SELECT pgmsg.create_queue('adlq');
SELECT pgmsg.create_queue('aq', visibility_timeout => '0',
                          dead_letter_queue => 'adlq', max_receive_count => 1);
SELECT pgmsg.create_queue('aq3', visibility_timeout => '0',
                          dead_letter_queue => 'adlq', max_receive_count => 1);
SELECT pgmsg.send('aq', '{"from": "aq"}');
SELECT pgmsg.send('aq3', '{"from": "aq3"}');
SELECT count(*) FROM pgmsg.receive('aq');
SELECT count(*) FROM pgmsg.receive('aq');
SELECT count(*) FROM pgmsg.receive('aq3');
SELECT count(*) FROM pgmsg.receive('aq3');
SELECT pgmsg.grant('adlq', 'bob', ARRAY['receive']);
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgmsg.q_adlq'),
	'2', 'both messages are dead letters');

# bob may receive from the dead-letter queue but not send to the sources
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE bob; SELECT pgmsg.redrive('adlq')});
like($err, qr/permission denied for queue "aq3?"/, 'redrive is refused');
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE bob; SELECT pgmsg.start_redrive('adlq')});
like($err, qr/permission denied for queue "aq3?"/, 'start_redrive is refused the same way');
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE bob; SELECT pgmsg.start_redrive('adlq', destination => 'aq')});
like($err, qr/permission denied for queue "aq3?"/, 'so is naming a destination bob cannot send to');

# a privilege lost after the task was started stops the task
my $task = $node->safe_psql('postgres', q{
BEGIN;
SET ROLE alice;
SELECT pgmsg.grant('aq', 'bob', ARRAY['send']);
SELECT pgmsg.grant('aq3', 'bob', ARRAY['send']);
SET ROLE bob;
SELECT pgmsg.start_redrive('adlq');
SET ROLE alice;
SELECT pgmsg.revoke('aq', 'bob', ARRAY['send']);
SELECT pgmsg.revoke('aq3', 'bob', ARRAY['send']);
COMMIT;
});
ok($node->poll_query_until('postgres',
		qq{SELECT state <> 'running' FROM pgmsg.redrive_tasks WHERE task_id = $task}),
	'the worker finishes with the task');
is($node->safe_psql('postgres', qq{SELECT state FROM pgmsg.redrive_tasks WHERE task_id = $task}),
	'failed', 'it fails the task, running it as bob');
like($node->safe_psql('postgres',
		qq{SELECT last_error FROM pgmsg.redrive_tasks WHERE task_id = $task}),
	qr/permission denied for queue/, 'with the permission error');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgmsg.q_adlq'),
	'2', 'and moves nothing');

# alice drops aq3; bob creates his own aq3
$node->safe_psql('postgres', q{
SET ROLE alice;
SELECT pgmsg.drop_queue('aq3');
SET ROLE bob;
SELECT pgmsg.create_queue('aq3');
});
$task = $node->safe_psql('postgres', q{SET ROLE alice; SELECT pgmsg.start_redrive('adlq')});
ok($node->poll_query_until('postgres',
		qq{SELECT state <> 'running' FROM pgmsg.redrive_tasks WHERE task_id = $task}),
	"the worker finishes with alice's task");
is( $node->safe_psql('postgres',
		qq{SELECT state || ' ' || moved FROM pgmsg.redrive_tasks WHERE task_id = $task}),
	'completed 1', "it moves only the message whose source still exists");
is($node->safe_psql('postgres', 'SELECT body FROM pgmsg.q_aq'),
	'{"from": "aq"}', 'it went back to aq');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pgmsg.q_aq3'),
	'0', "bob's new aq3 receives nothing of the old aq3's dead letters");
is($node->safe_psql('postgres', 'SELECT body FROM pgmsg.q_adlq'),
	'{"from": "aq3"}', 'that dead letter stays');
is( $node->safe_psql('postgres', q{SET ROLE alice; SELECT pgmsg.redrive('adlq')}),
	'0', 'a redrive in the session leaves it too');

done_testing();
