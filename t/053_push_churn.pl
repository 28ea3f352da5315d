# Push subscriptions added and removed while the push worker reloads them:
# a subscription removed between the worker's read of the catalog and its
# claim of the queue's slot is skipped, and the worker keeps running.  An
# application's advisory locks, whatever their keys, never keep the push
# worker from delivering.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

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

# a new subscription starts a push worker again, and it delivers (here: it
# tries, and records the refused connection) while an application holds
# advisory locks of every key it might pick, the pgmsg extension's OID
# among them
my $extoid = $node->safe_psql('postgres', q{SELECT oid FROM pg_extension WHERE extname = 'pgmsg'});
my ($lock_out, $lock_err) = ('', '');
my $locker = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c', qq{
SELECT pg_advisory_lock(1885826419, 1886745448), pg_advisory_lock($extoid, 0),
       pg_advisory_lock(0, $extoid), pg_advisory_lock($extoid),
       pg_advisory_lock($extoid, 28781), pg_advisory_lock(28781, $extoid);
SELECT pg_sleep(600);} ],
	'>', \$lock_out, '2>', \$lock_err);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 6 FROM pg_locks
	 WHERE locktype = 'advisory' AND objsubid IN (1, 2) AND granted}),
	'an application holds advisory locks');
$node->safe_psql('postgres', q{
SELECT pgmsg.subscribe_http('churn', 'https://127.0.0.1:9/last');
SELECT pgmsg.publish('churn', '{"n": 2}');
});
ok($node->poll_query_until('postgres', q{
	SELECT last_error IS NOT NULL FROM pgmsg.subscriptions WHERE protocol = 'https'}),
	'a push worker runs for the new subscription and delivers');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pgmsg push worker'}),
	'1', 'one push worker');
$locker->kill_kill;
$node->stop;
done_testing();
