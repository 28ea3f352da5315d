-- Queue lifecycle, sending, receiving and deleting.
SELECT pgmsg.create_queue('jobs', visibility_timeout => '1 hour');
SELECT name, visibility_timeout, delay, retention, max_message_size, fifo, notify,
       messages_visible, messages_in_flight, messages_delayed
  FROM pgmsg.queues;

-- the outbox pattern: a message commits or rolls back with its business row
CREATE TABLE orders (id int PRIMARY KEY, item text);
BEGIN;
INSERT INTO orders VALUES (1, 'widget');
SELECT pgmsg.send('jobs', '{"order": 1}', '{"kind": "new", "n": 3, "tags": ["a", "b"]}') > 0 AS sent;
COMMIT;
BEGIN;
INSERT INTO orders VALUES (2, 'gadget');
SELECT pgmsg.send('jobs', '{"order": 2}') > 0 AS sent;
ROLLBACK;
SELECT count(*) FROM orders;
SELECT messages_visible FROM pgmsg.queues WHERE name = 'jobs';

-- receive returns the committed message only
CREATE TEMP TABLE got AS SELECT * FROM pgmsg.receive('jobs', 10);
SELECT body, attributes, receive_count, group_id, length(receipt) AS receipt_length,
       first_received_at >= sent_at AS received_after_send
  FROM got;
SELECT messages_visible, messages_in_flight FROM pgmsg.queues WHERE name = 'jobs';
-- leased: nobody else gets it
SELECT count(*) FROM pgmsg.receive('jobs', 10);
SELECT pgmsg.delete('jobs', receipt) FROM got;
-- a second delete with the same receipt is stale
SELECT pgmsg.delete('jobs', receipt) FROM got;
SELECT messages_visible, messages_in_flight, sent_total, received_total, deleted_total
  FROM pgmsg.queues WHERE name = 'jobs';
SELECT count(*) FROM pgmsg.q_jobs;

-- order, batches, max_messages
SELECT count(*) FROM pgmsg.send_batch('jobs', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}', '{"n": 4}']::jsonb[]);
SELECT body FROM pgmsg.receive('jobs', 3);
SELECT body FROM pgmsg.receive('jobs', 3);
SELECT count(*) FROM pgmsg.receive('jobs', 3);

-- visibility timeout 0: redelivered at once, receive_count grows and is stored
SELECT pgmsg.send('jobs', '{"r": 1}') > 0 AS sent;
SELECT body, receive_count FROM pgmsg.receive('jobs', 1, visibility_timeout => '0');
SELECT body, receive_count FROM pgmsg.receive('jobs', 1, visibility_timeout => '0');
SELECT body, receive_count FROM pgmsg.receive('jobs', 1, visibility_timeout => '0');
SELECT receive_count, first_received_at IS NOT NULL AS has_first
  FROM pgmsg.q_jobs WHERE body = '{"r": 1}';

-- a stale receipt: the message was received again since
CREATE TEMP TABLE r1 AS SELECT receipt FROM pgmsg.receive('jobs', 1, visibility_timeout => '0');
CREATE TEMP TABLE r2 AS SELECT receipt FROM pgmsg.receive('jobs', 1, visibility_timeout => '1 hour');
SELECT pgmsg.delete('jobs', receipt) FROM r1;
SELECT pgmsg.change_visibility('jobs', receipt, '1 minute') FROM r1;
SELECT pgmsg.delete('jobs', receipt) FROM r2;

-- a rolled-back receive releases at once, with the receive count as before
SELECT pgmsg.send('jobs', '{"rb": 1}') > 0 AS sent;
BEGIN;
SELECT body, receive_count FROM pgmsg.receive('jobs', 1);
ROLLBACK;
SELECT body, receive_count FROM pgmsg.receive('jobs', 1, visibility_timeout => '0');

-- a rolled-back delete leaves the message leased to the same receipt
CREATE TEMP TABLE r3 AS SELECT receipt FROM pgmsg.receive('jobs', 1);
BEGIN;
SELECT pgmsg.delete('jobs', receipt) FROM r3;
ROLLBACK;
SELECT count(*) FROM pgmsg.receive('jobs', 1);
-- change_visibility to 0 releases it; the old receipt is then stale after a new receive
SELECT pgmsg.change_visibility('jobs', receipt, '0') FROM r3;
SELECT body, receive_count FROM pgmsg.receive('jobs', 1);
SELECT pgmsg.delete('jobs', receipt) FROM r3;

-- receive, work and delete in one transaction: exactly once
SELECT pgmsg.send('jobs', '{"once": 1}') > 0 AS sent;
BEGIN;
CREATE TEMP TABLE r4 AS SELECT receipt, body FROM pgmsg.receive('jobs', 1);
INSERT INTO orders SELECT 3, body->>'once' FROM r4;
SELECT pgmsg.delete('jobs', receipt) FROM r4;
COMMIT;
SELECT count(*) FROM pgmsg.receive('jobs', 10, visibility_timeout => '0');

-- array forms
SELECT count(*) FROM pgmsg.send_batch('jobs', ARRAY['{"b": 1}', '{"b": 2}']::jsonb[]);
CREATE TEMP TABLE r5 AS SELECT receipt FROM pgmsg.receive('jobs', 10);
SELECT pgmsg.change_visibility('jobs', array_agg(receipt), '2 hours') FROM r5;
SELECT pgmsg.delete('jobs', array_agg(receipt)) FROM r5;
SELECT pgmsg.delete('jobs', array_agg(receipt)) FROM r5;

-- delay: invisible until due
SELECT pgmsg.send('jobs', '{"later": 1}', delay => '10 minutes') > 0 AS sent;
SELECT messages_delayed FROM pgmsg.queues WHERE name = 'jobs';
SELECT count(*) FROM pgmsg.receive('jobs', 10);

-- alter, purge, drop
SELECT pgmsg.alter_queue('jobs', visibility_timeout => '5 minutes', delay => '1 second',
                         retention => '1 day', max_message_size => 1000, notify => true);
SELECT visibility_timeout, delay, retention, max_message_size, notify
  FROM pgmsg.queues WHERE name = 'jobs';
SELECT pgmsg.alter_queue('jobs');
SELECT visibility_timeout FROM pgmsg.queues WHERE name = 'jobs';
SELECT pgmsg.purge_queue('jobs') > 0 AS purged;
SELECT count(*) FROM pgmsg.q_jobs;
SELECT messages_in_flight FROM pgmsg.queues WHERE name = 'jobs';

-- transactional management
BEGIN;
SELECT pgmsg.create_queue('temp_q');
ROLLBACK;
SELECT count(*) FROM pgmsg.queues WHERE name = 'temp_q';
BEGIN;
SELECT pgmsg.drop_queue('jobs');
ROLLBACK;
SELECT count(*) FROM pgmsg.queues WHERE name = 'jobs';
SELECT pgmsg.drop_queue('jobs');
SELECT pgmsg.drop_queue('jobs', if_exists => true);
SELECT to_regclass('pgmsg.q_jobs');

-- a queue dropped and created again under the same name is a new queue
SELECT pgmsg.create_queue('again');
SELECT pgmsg.send('again', '{"v": 1}') > 0 AS sent;
SELECT pgmsg.drop_queue('again');
SELECT pgmsg.create_queue('again');
SELECT count(*) FROM pgmsg.receive('again', 10);
SELECT pgmsg.drop_queue('again');

-- DROP EXTENSION refuses while queues exist
SELECT pgmsg.create_queue('keep');
DROP EXTENSION pgmsg;
SELECT pgmsg.drop_queue('keep');
DROP TABLE orders;
