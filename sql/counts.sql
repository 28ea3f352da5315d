-- The counts and the oldest message's age in pgmsg.queues.
CREATE VIEW cq AS
SELECT messages_visible AS visible, messages_in_flight AS in_flight,
       messages_delayed AS delayed
  FROM pgmsg.queues WHERE name = 'ct_q';

SELECT pgmsg.create_queue('ct_q');
SELECT count(*) FROM pgmsg.send_batch('ct_q', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
SELECT pgmsg.send('ct_q', '{"n": 4}', delay => '15 minutes') > 0 AS sent;
SELECT * FROM cq;

-- a message received with visibility 0 is not in flight
SELECT count(*) FROM pgmsg.receive('ct_q', 1, visibility_timeout => '0');
SELECT * FROM cq;

-- a lease is in flight while it is valid, not once it has expired
CREATE TEMP TABLE held AS SELECT * FROM pgmsg.receive('ct_q', 2, visibility_timeout => '1 hour');
SELECT * FROM cq;
SELECT pgmsg.change_visibility('ct_q', receipt, '0') FROM held WHERE body->>'n' = '1';
SELECT * FROM cq;
SELECT pgmsg.change_visibility('ct_q', receipt, '0') FROM held;
SELECT * FROM cq;

-- in flight counts what is in flight now, in a transaction still receiving too
BEGIN;
SELECT count(*) FROM pgmsg.receive('ct_q', 10, visibility_timeout => '1 hour');
SELECT * FROM cq;
ROLLBACK;
SELECT * FROM cq;
SELECT pgmsg.purge_queue('ct_q');
DROP TABLE held;

-- oldest_message_age is the age of the oldest visible message: not of one
-- in flight, nor of one delayed
SELECT pgmsg.send('ct_q', '{"age": "hour"}') > 0 AS sent;
SELECT pgmsg.send('ct_q', '{"age": "minute"}') > 0 AS sent;
SELECT pgmsg.send('ct_q', '{"age": "day, delayed"}', delay => '15 minutes') > 0 AS sent;
UPDATE pgmsg.q_ct_q SET sent_at = now() - CASE body->>'age' WHEN 'hour' THEN interval '1 hour'
                                                          WHEN 'minute' THEN interval '1 minute'
                                                          ELSE interval '1 day' END;
CREATE VIEW ca AS
SELECT CASE WHEN oldest_message_age IS NULL THEN 'none'
            WHEN oldest_message_age >= interval '1 day' THEN 'day'
            WHEN oldest_message_age >= interval '1 hour' THEN 'hour'
            WHEN oldest_message_age >= interval '1 minute' THEN 'minute'
            ELSE 'less' END AS oldest
  FROM pgmsg.queues WHERE name = 'ct_q';
SELECT * FROM ca;
CREATE TEMP TABLE held AS SELECT * FROM pgmsg.receive('ct_q', 1, visibility_timeout => '1 hour');
SELECT body FROM held;
SELECT * FROM ca;
-- once its lease expires it is visible again, and the oldest
SELECT pgmsg.change_visibility('ct_q', receipt, '0') FROM held;
SELECT * FROM ca;
SELECT count(*) FROM pgmsg.receive('ct_q', 10, visibility_timeout => '1 hour');
SELECT * FROM ca;
SELECT * FROM cq;

-- delayed messages are counted from the index, at most 10,000 of them:
-- past that the messages already due are counted instead; with more than
-- 10,000 of both, 10,000 is shown, a lower bound
SELECT pgmsg.create_queue('ct_many');
DO $$
BEGIN
  FOR i IN 1..11 LOOP
    PERFORM pgmsg.send_batch('ct_many', array_fill('{}'::jsonb, ARRAY[1000]),
                             delay => '15 minutes');
  END LOOP;
END
$$;
SELECT count(*) FROM pgmsg.send_batch('ct_many', ARRAY['{}', '{}']::jsonb[]);
SELECT messages_visible, messages_delayed FROM pgmsg.queues WHERE name = 'ct_many';
DO $$
BEGIN
  FOR i IN 1..11 LOOP
    PERFORM pgmsg.send_batch('ct_many', array_fill('{}'::jsonb, ARRAY[1000]));
  END LOOP;
END
$$;
SELECT messages_visible, messages_delayed FROM pgmsg.queues WHERE name = 'ct_many';
SELECT pgmsg.drop_queue('ct_many');

-- clean up
DROP TABLE held;
DROP VIEW ca;
DROP VIEW cq;
SELECT pgmsg.drop_queue('ct_q');
