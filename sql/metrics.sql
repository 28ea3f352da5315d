-- pgmsg.queue_receive_counts(): receive counts of held messages, per queue.
SELECT pgmsg.create_queue('metrics_a', visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('metrics_b');

-- nothing received yet: a row per queue, all zero, no maximum
SELECT * FROM pgmsg.queue_receive_counts() WHERE queue LIKE 'metrics_%';

-- one message received once, one received three times, one not at all
SELECT count(*) FROM pgmsg.send_batch('metrics_a',
    ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
SELECT body, receive_count FROM pgmsg.receive('metrics_a', 1, visibility_timeout => '0');
SELECT body, receive_count FROM pgmsg.receive('metrics_a', 1, visibility_timeout => '0');
SELECT body, receive_count FROM pgmsg.receive('metrics_a', 1, visibility_timeout => '1 hour');
SELECT body, receive_count FROM pgmsg.receive('metrics_a', 1, visibility_timeout => '1 hour');
SELECT queue, messages_held, receive_count_max, receive_count_sum,
       receive_count_le, messages_le
  FROM pgmsg.queue_receive_counts() WHERE queue LIKE 'metrics_%';
-- in flight per pgmsg.queues agrees with the leases counted here
SELECT q.name, q.messages_in_flight, r.messages_held
  FROM pgmsg.queues q JOIN pgmsg.queue_receive_counts() r ON r.queue = q.name
 WHERE q.name LIKE 'metrics_%' ORDER BY 1;

-- a receive not yet committed holds no committed lease; its rollback
-- leaves the counts as they were
BEGIN;
SELECT count(*) FROM pgmsg.receive('metrics_a', 10);
SELECT messages_held FROM pgmsg.queue_receive_counts() WHERE queue = 'metrics_a';
ROLLBACK;
SELECT messages_held, receive_count_max FROM pgmsg.queue_receive_counts()
 WHERE queue = 'metrics_a';

-- deleting drops the message from the counts
CREATE TEMP TABLE metrics_got AS
  SELECT * FROM pgmsg.receive('metrics_a', 10, visibility_timeout => '1 hour');
SELECT count(*) FROM metrics_got;
SELECT messages_held, receive_count_max, messages_le FROM pgmsg.queue_receive_counts()
 WHERE queue = 'metrics_a';
SELECT pgmsg.delete('metrics_a', array_agg(receipt)) FROM metrics_got;
SELECT messages_held, receive_count_max, receive_count_sum, messages_le
  FROM pgmsg.queue_receive_counts() WHERE queue = 'metrics_a';

-- a role sees the queues it owns or holds a privilege on; pg_monitor sees all
CREATE ROLE metrics_nobody;
CREATE ROLE metrics_worker;
CREATE ROLE metrics_monitor IN ROLE pg_monitor;
SELECT pgmsg.grant('metrics_b', 'metrics_worker', ARRAY['receive']);
SET ROLE metrics_nobody;
SELECT queue FROM pgmsg.queue_receive_counts() WHERE queue LIKE 'metrics_%';
SET ROLE metrics_worker;
SELECT queue FROM pgmsg.queue_receive_counts() WHERE queue LIKE 'metrics_%';
SET ROLE metrics_monitor;
SELECT queue FROM pgmsg.queue_receive_counts() WHERE queue LIKE 'metrics_%';
RESET ROLE;

SELECT pgmsg.drop_queue('metrics_a');
SELECT pgmsg.drop_queue('metrics_b');
SELECT count(*) FROM pgmsg.queue_receive_counts() WHERE queue LIKE 'metrics_%';
DROP ROLE metrics_nobody, metrics_worker, metrics_monitor;
