-- FIFO queues: a receipt stops working when its visibility timeout passes,
-- because the group may then be handed out again from an earlier message.
SELECT pgmsg.create_queue('fx', fifo => true);
SELECT pgmsg.send('fx', '{"seq": 1}', group_id => 'g') > 0 AS sent;
SELECT pgmsg.send('fx', '{"seq": 2}', group_id => 'g') > 0 AS sent;
SELECT pgmsg.send('fx', '{"seq": 3}', group_id => 'g') > 0 AS sent;

-- consumer A takes all three with a 1-second visibility timeout
CREATE TEMP TABLE a AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fx', 10, visibility_timeout => '1 second');
SELECT pos, body, receive_count FROM a ORDER BY pos;
SELECT pg_sleep(1.5);
-- consumer B gets the group again, from its first message
CREATE TEMP TABLE b AS SELECT * FROM pgmsg.receive('fx', 1);
SELECT body, receive_count FROM b;
-- A, late, can neither delete nor extend any of them
SELECT pos, pgmsg.delete('fx', receipt) AS deleted FROM a ORDER BY pos;
SELECT pgmsg.delete('fx', array_agg(receipt ORDER BY pos)) AS deleted FROM a;
SELECT pos, pgmsg.change_visibility('fx', receipt, '1 hour') AS changed FROM a ORDER BY pos;
SELECT pgmsg.change_visibility('fx', array_agg(receipt ORDER BY pos), '1 hour') AS changed FROM a;
SELECT body FROM pgmsg.q_fx ORDER BY msg_id;
-- B's group goes on in order: seq 2 and 3 are not handed out while B holds seq 1
SELECT count(*) FROM pgmsg.receive('fx', 10);
SELECT pgmsg.delete('fx', receipt) AS deleted FROM b;
CREATE TEMP TABLE b2 AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fx', 10);
SELECT pos, body, receive_count FROM b2 ORDER BY pos;
-- a batch with a stale receipt and current ones: only the current ones count
SELECT pgmsg.delete('fx', (SELECT receipt FROM a WHERE pos = 2) || array_agg(receipt ORDER BY pos))
  AS deleted FROM b2;
SELECT count(*) FROM pgmsg.q_fx;

-- A receipt also stops working when nobody has taken the group yet.
SELECT pgmsg.send('fx', '{"seq": 4}', group_id => 'g') > 0 AS sent;
SELECT pgmsg.send('fx', '{"seq": 5}', group_id => 'g') > 0 AS sent;
CREATE TEMP TABLE c AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fx', 10, visibility_timeout => '0');
SELECT pos, body FROM c ORDER BY pos;
SELECT pos, pgmsg.delete('fx', receipt) AS deleted FROM c ORDER BY pos;
SELECT pos, pgmsg.change_visibility('fx', receipt, '1 hour') AS changed FROM c ORDER BY pos;
SELECT count(*) FROM pgmsg.q_fx;
-- released as if A had never had them
CREATE TEMP TABLE c2 AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fx', 10, visibility_timeout => '1 second');
SELECT pos, body, receive_count FROM c2 ORDER BY pos;

-- An extension asked for in time but committed after the timeout passed
-- does not take effect: the group is free to be received again.
BEGIN;
SELECT pgmsg.change_visibility('fx', array_agg(receipt), '1 hour') AS changed FROM c2;
SELECT pg_sleep(1.2);
COMMIT;
CREATE TEMP TABLE c3 AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fx', 10, visibility_timeout => '1 second');
SELECT pos, body, receive_count FROM c3 ORDER BY pos;
SELECT pgmsg.delete('fx', array_agg(receipt)) AS deleted FROM c2;
-- an extension committed in time keeps the receipt working past the first
-- timeout
SELECT pgmsg.change_visibility('fx', array_agg(receipt), '1 hour') AS changed FROM c3;
SELECT pg_sleep(1.2);
SELECT pgmsg.delete('fx', array_agg(receipt)) AS deleted FROM c3;
SELECT count(*) FROM pgmsg.q_fx;

-- In the receiving transaction the message is not released, whatever the
-- timeout: its receipt keeps working there.
SELECT pgmsg.send('fx', '{"seq": 6}', group_id => 'g') > 0 AS sent;
SELECT pgmsg.send('fx', '{"seq": 7}', group_id => 'g') > 0 AS sent;
BEGIN;
CREATE TEMP TABLE d ON COMMIT DROP AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('fx', 10, visibility_timeout => '0');
SELECT pgmsg.change_visibility('fx', receipt, '0') AS changed FROM d WHERE pos = 2;
SELECT pgmsg.delete('fx', receipt) AS deleted FROM d WHERE pos = 1;
COMMIT;
-- seq 7 was released, so it comes again
SELECT body, receive_count FROM pgmsg.receive('fx', 10, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.q_fx;
SELECT pgmsg.drop_queue('fx');

-- Standard queues keep their behaviour: a receipt whose timeout has passed
-- works until the message is received again.
SELECT pgmsg.create_queue('sx');
SELECT pgmsg.send('sx', '{"n": 1}') > 0 AS sent;
SELECT pgmsg.send('sx', '{"n": 2}') > 0 AS sent;
CREATE TEMP TABLE s AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('sx', 10, visibility_timeout => '0');
SELECT pgmsg.change_visibility('sx', receipt, '1 hour') AS changed FROM s WHERE pos = 1;
SELECT pgmsg.delete('sx', receipt) AS deleted FROM s WHERE pos = 1;
SELECT pgmsg.delete('sx', receipt) AS deleted FROM s WHERE pos = 2;
SELECT count(*) FROM pgmsg.q_sx;
SELECT pgmsg.drop_queue('sx');
