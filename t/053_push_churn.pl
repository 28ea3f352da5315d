# Push subscriptions added and removed while the push worker reloads them:
# a subscription removed between the worker's read of the catalog and its
# claim of the queue's slot is skipped, and the worker keeps running.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('push_churn');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgmsg'
pgmsg.worker_naptime = 100ms
pgmsg.push_timeout = 1s
restart_after_crash = off
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_topic('churn');
});

# nothing listens on port 9: deliveries fail and are retried, which is fine
$node->safe_psql('postgres', q{
DO $$
BEGIN
	FOR i IN 1..400 LOOP
		PERFORM pgmsg.subscribe_http('churn', 'https://127.0.0.1:9/h' || i);
		PERFORM pgmsg.publish('churn', '{"n": 1}');
		COMMIT;
		PERFORM pgmsg.unsubscribe_push('churn', 'https://127.0.0.1:9/h' || i);
		COMMIT;
	END LOOP;
END
$$;
});

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal/, 'no process of the server crashed');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pgmsg.subscriptions WHERE protocol <> 'queue'}),
	'0', 'every push subscription is gone');

# a new subscription starts a push worker again
$node->safe_psql('postgres', q{SELECT pgmsg.subscribe_http('churn', 'https://127.0.0.1:9/last')});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pgmsg push worker'}),
	'a push worker runs for the new subscription');
$node->stop;
done_testing();
