-- FIFO queues: message groups and deduplication.
SELECT pgmsg.create_queue('ff_q', fifo => true, visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('ff_std');
SELECT name, fifo, content_based_dedup, visibility_timeout
  FROM pgmsg.queues WHERE name LIKE 'ff\_%' ORDER BY name;

--
-- Errors.
--
-- every FIFO message needs a group
SELECT pgmsg.send('ff_q', '{"e": 1}');
SELECT pgmsg.send('ff_q', '{"e": 1}', dedup_id => 'd');
-- no per-message delay, not even 0
SELECT pgmsg.send('ff_q', '{"e": 1}', delay => '1 second', group_id => 'a');
SELECT pgmsg.send('ff_q', '{"e": 1}', delay => '0', group_id => 'a');
-- no group or dedup id on a standard queue
SELECT pgmsg.send('ff_std', '{"e": 1}', group_id => 'a');
SELECT pgmsg.send('ff_std', '{"e": 1}', dedup_id => 'd');
-- 1 to 128 characters
SELECT pgmsg.send('ff_q', '{"e": 1}', group_id => repeat('g', 129));
SELECT pgmsg.send('ff_q', '{"e": 1}', group_id => '');
SELECT pgmsg.send('ff_q', '{"e": 1}', group_id => 'a', dedup_id => repeat('d', 129));
SELECT pgmsg.send('ff_q', '{"e": 1}', group_id => 'a', dedup_id => '');
-- content_based_dedup is for FIFO queues only
SELECT pgmsg.create_queue('ff_x', content_based_dedup => true);
SELECT pgmsg.alter_queue('ff_std', content_based_dedup => true);
-- a queue cannot become FIFO, or stop being FIFO
SELECT pgmsg.alter_queue('ff_std', fifo => true);
SELECT pgmsg.alter_queue('ff_q', fifo => false);
-- naming the kind it already is changes nothing
SELECT pgmsg.alter_queue('ff_q', fifo => true);
SELECT pgmsg.alter_queue('ff_std', fifo => false);
-- batches: checked before anything is sent
SELECT pgmsg.send_batch('ff_q', ARRAY['{"e": 1}', '{"e": 2}']::jsonb[]);
SELECT pgmsg.send_batch('ff_q', ARRAY['{"e": 1}', '{"e": 2}']::jsonb[], group_ids => ARRAY['a', NULL]);
SELECT pgmsg.send_batch('ff_q', ARRAY['{"e": 1}', '{"e": 2}']::jsonb[], group_ids => ARRAY['a', repeat('g', 129)]);
SELECT pgmsg.send_batch('ff_q', ARRAY['{"e": 1}', '{"e": 2}']::jsonb[], group_ids => ARRAY['a', 'b'],
                        delay => '1 second');
SELECT pgmsg.send_batch('ff_std', ARRAY['{"e": 1}', '{"e": 2}']::jsonb[], group_ids => ARRAY['a', 'b']);
SELECT pgmsg.send_batch('ff_std', ARRAY['{"e": 1}', '{"e": 2}']::jsonb[], dedup_ids => ARRAY['a', 'b']);
SELECT count(*) FROM pgmsg.q_ff_q;
SELECT count(*) FROM pgmsg.q_ff_std;
SELECT name, fifo, content_based_dedup FROM pgmsg.queues WHERE name LIKE 'ff\_%' ORDER BY name;

-- the limits themselves are accepted; they count characters, not bytes
SELECT pgmsg.send('ff_q', '{"l": 1}', group_id => repeat('g', 128), dedup_id => repeat('d', 128)) > 0 AS sent;
SELECT length(repeat(chr(233), 128)) AS chars;
SELECT pgmsg.send('ff_q', '{"l": 2}', group_id => repeat(chr(233), 128)) > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"l": 3}', group_id => 'g', dedup_id => repeat(chr(233), 128)) > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"l": 4}', group_id => repeat(chr(233), 129));
SELECT pgmsg.purge_queue('ff_q');

--
-- Order within a group, groups in parallel.
--
SELECT pgmsg.send('ff_q', '{"g": "a", "n": 1}', group_id => 'a') > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"g": "a", "n": 2}', group_id => 'a') > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"g": "b", "n": 1}', group_id => 'b') > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"g": "a", "n": 3}', group_id => 'a') > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"g": "b", "n": 2}', group_id => 'b') > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"g": "c", "n": 1}', group_id => 'c') > 0 AS sent;
-- one receive takes several messages of one group, oldest first
CREATE TEMP TABLE ra AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('ff_q', 2);
SELECT pos, body, group_id, receive_count FROM ra ORDER BY pos;
-- group a is in flight: the others are served, a is not
CREATE TEMP TABLE rbc AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('ff_q', 10);
SELECT pos, body, group_id FROM rbc ORDER BY pos;
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
SELECT messages_visible, messages_in_flight FROM pgmsg.queues WHERE name = 'ff_q';
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM rbc;

-- releasing the later message while the earlier one is held: still blocked
SELECT pgmsg.change_visibility('ff_q', receipt, '0') FROM ra WHERE pos = 2;
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
-- releasing all: the group comes again from its oldest message, in order
SELECT pgmsg.change_visibility('ff_q', receipt, '0') FROM ra WHERE pos = 1;
CREATE TEMP TABLE ra2 AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('ff_q', 10);
SELECT pos, body, receive_count FROM ra2 ORDER BY pos;
-- the old receipts are stale
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM ra;

-- the same, releasing the earlier message first, and receiving fewer
-- messages than the group has
SELECT pgmsg.change_visibility('ff_q', receipt, '0') FROM ra2 WHERE pos = 1;
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
SELECT pgmsg.change_visibility('ff_q', array_agg(receipt), '0') FROM ra2 WHERE pos > 1;
CREATE TEMP TABLE ra3 AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('ff_q', 1);
SELECT pos, body, receive_count FROM ra3 ORDER BY pos;
-- a1 is in flight again: a2 and a3, released, wait behind it
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
SELECT pgmsg.delete('ff_q', receipt) FROM ra3;
CREATE TEMP TABLE ra4 AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('ff_q', 10);
SELECT pos, body, receive_count FROM ra4 ORDER BY pos;
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM ra4;
SELECT count(*) FROM pgmsg.q_ff_q;

-- a rolled-back receive releases the group at once
SELECT count(*) FROM pgmsg.send_batch('ff_q', ARRAY['{"g": "d", "n": 1}', '{"g": "d", "n": 2}']::jsonb[],
                                      group_ids => ARRAY['d', 'd']);
BEGIN;
SELECT body, receive_count FROM pgmsg.receive('ff_q', 1);
-- in flight, even to the same transaction
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
ROLLBACK;
SELECT body, receive_count FROM pgmsg.receive('ff_q', 10, visibility_timeout => '0');
-- and a rolled-back redelivery too, with the receive counts as before
BEGIN;
SELECT body, receive_count FROM pgmsg.receive('ff_q', 10);
ROLLBACK;
CREATE TEMP TABLE rd AS SELECT * FROM pgmsg.receive('ff_q', 10);
SELECT body, receive_count FROM rd;
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM rd;

-- a message deleted in a transaction that rolls back stays in flight
SELECT count(*) FROM pgmsg.send_batch('ff_q', ARRAY['{"g": "e", "n": 1}', '{"g": "e", "n": 2}']::jsonb[],
                                      group_ids => ARRAY['e', 'e']);
CREATE TEMP TABLE re AS SELECT * FROM pgmsg.receive('ff_q', 1);
BEGIN;
SELECT pgmsg.delete('ff_q', receipt) FROM re;
ROLLBACK;
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
SELECT pgmsg.delete('ff_q', receipt) FROM re;
CREATE TEMP TABLE re2 AS SELECT * FROM pgmsg.receive('ff_q', 10);
SELECT body, receive_count FROM re2;
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM re2;

-- a released group is delivered again however many other groups have
-- released messages waiting behind a message still in flight
SELECT pgmsg.create_queue('ff_many', fifo => true, visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('ff_many',
    ARRAY(SELECT jsonb_build_object('g', g, 'n', n)
            FROM generate_series(1, 70) g, generate_series(1, 2) n ORDER BY g, n),
    group_ids => ARRAY(SELECT 'g' || g FROM generate_series(1, 70) g, generate_series(1, 2) n
                        ORDER BY g, n));
CREATE TEMP TABLE rm AS SELECT * FROM pgmsg.receive('ff_many', 1000);
SELECT count(*) FROM rm;
-- the second message of each group is released, the first stays in flight
SELECT pgmsg.change_visibility('ff_many', array_agg(receipt), '0') FROM rm WHERE body->>'n' = '2';
SELECT count(*) FROM pgmsg.receive('ff_many', 10);
-- a group of its own, received and released after them
SELECT pgmsg.send('ff_many', '{"x": 1}', group_id => 'x') > 0 AS sent;
SELECT pgmsg.change_visibility('ff_many', receipt, '0') FROM pgmsg.receive('ff_many', 10);
SELECT body, receive_count FROM pgmsg.receive('ff_many', 10);
SELECT pgmsg.drop_queue('ff_many');

--
-- Deduplication.
--
SELECT pgmsg.send('ff_q', '{"d": 1}', group_id => 'dd', dedup_id => 'x1') AS d1 \gset
SELECT pgmsg.send('ff_q', '{"d": 2}', group_id => 'dd', dedup_id => 'x1') = :d1 AS same_id;
-- the dedup id is the queue's, whatever the group
SELECT pgmsg.send('ff_q', '{"d": 3}', group_id => 'other', dedup_id => 'x1') = :d1 AS same_id;
SELECT msg_id = :d1 AS is_d1, body, group_id FROM pgmsg.q_ff_q;
SELECT sent_total FROM pgmsg.queues WHERE name = 'ff_q' \gset
-- also after the first message was received and deleted
CREATE TEMP TABLE rx AS SELECT * FROM pgmsg.receive('ff_q', 10);
SELECT message_id = :d1 AS is_d1, body FROM rx;
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM rx;
SELECT pgmsg.send('ff_q', '{"d": 4}', group_id => 'dd', dedup_id => 'x1') = :d1 AS same_id;
SELECT count(*) FROM pgmsg.q_ff_q;
SELECT count(*) FROM pgmsg.receive('ff_q', 10);
SELECT sent_total - :sent_total AS sent_since FROM pgmsg.queues WHERE name = 'ff_q';
-- twice in one transaction
BEGIN;
SELECT pgmsg.send('ff_q', '{"d": 5}', group_id => 'dd', dedup_id => 'x2') AS d2 \gset
SELECT pgmsg.send('ff_q', '{"d": 6}', group_id => 'dd', dedup_id => 'x2') = :d2 AS same_id;
COMMIT;
SELECT msg_id = :d2 AS is_d2, body FROM pgmsg.q_ff_q;
-- a rolled-back send does not claim its dedup id
BEGIN;
SELECT pgmsg.send('ff_q', '{"d": 7}', group_id => 'dd', dedup_id => 'x3') AS d3_rolled_back \gset
ROLLBACK;
SELECT pgmsg.send('ff_q', '{"d": 8}', group_id => 'dd', dedup_id => 'x3') AS d3 \gset
SELECT :d3 <> :d3_rolled_back AS new_id;
SELECT pgmsg.send('ff_q', '{"d": 9}', group_id => 'dd', dedup_id => 'x3') = :d3 AS same_id;
SELECT msg_id = :d3 AS is_d3, body FROM pgmsg.q_ff_q WHERE body->>'d' IN ('7', '8', '9');
-- a dedup id is remembered for five minutes, then it is free again
BEGIN;
SELECT pgmsg.send('ff_q', '{"d": 10}', group_id => 'dd', dedup_id => 'x4') AS d4 \gset
SELECT d.expires_at - now() AS remembered_for
  FROM pgmsg.dedup d JOIN pgmsg.queue_meta m USING (queue_id)
 WHERE m.name = 'ff_q' AND d.dedup_id = 'x4';
COMMIT;
-- as if five minutes had passed
UPDATE pgmsg.dedup SET expires_at = now() - interval '1 second'
 WHERE dedup_id = 'x4' AND queue_id = (SELECT queue_id FROM pgmsg.queue_meta WHERE name = 'ff_q');
SELECT pgmsg.send('ff_q', '{"d": 11}', group_id => 'dd', dedup_id => 'x4') AS d5 \gset
SELECT :d5 <> :d4 AS new_id;
SELECT pgmsg.send('ff_q', '{"d": 12}', group_id => 'dd', dedup_id => 'x4') = :d5 AS same_id;
SELECT msg_id = :d5 AS is_d5, body FROM pgmsg.q_ff_q WHERE body->>'d' IN ('10', '11', '12') ORDER BY msg_id;
-- without a dedup id, identical messages are all kept
SELECT count(DISTINCT id) FROM (
  SELECT pgmsg.send('ff_q', '{"same": 1}', group_id => 'dd') AS id
  UNION ALL SELECT pgmsg.send('ff_q', '{"same": 1}', group_id => 'dd')) s;
SELECT count(*) FROM pgmsg.q_ff_q WHERE body = '{"same": 1}';
-- dedup ids are per queue
SELECT pgmsg.create_queue('ff_q2', fifo => true);
SELECT pgmsg.send('ff_q2', '{"d": 1}', group_id => 'dd', dedup_id => 'x1') > 0 AS sent;
SELECT count(*) FROM pgmsg.q_ff_q2;
SELECT pgmsg.drop_queue('ff_q2');
SELECT pgmsg.purge_queue('ff_q');

-- content-based deduplication: the same body (as jsonb) is a repeat
SELECT pgmsg.create_queue('ff_cb', fifo => true, content_based_dedup => true);
SELECT name, fifo, content_based_dedup FROM pgmsg.queues WHERE name = 'ff_cb';
SELECT pgmsg.send('ff_cb', '{"x": 1, "y": 2}', group_id => 'g') AS c1 \gset
SELECT pgmsg.send('ff_cb', '{"y": 2,  "x": 1}', group_id => 'h') = :c1 AS same_id;
SELECT pgmsg.send('ff_cb', '{"x": 1, "y": 2}', group_id => 'g', attributes => '{"k": "v"}') = :c1 AS same_id;
SELECT pgmsg.send('ff_cb', '{"x": 2}', group_id => 'g') AS c2 \gset
SELECT :c2 <> :c1 AS new_id;
-- an explicit dedup id takes the place of the body's
SELECT pgmsg.send('ff_cb', '{"x": 2}', group_id => 'g', dedup_id => 'e') AS c3 \gset
SELECT :c3 <> :c2 AS new_id;
SELECT pgmsg.send('ff_cb', '{"x": 9}', group_id => 'g', dedup_id => 'e') = :c3 AS same_id;
SELECT body, group_id, attributes FROM pgmsg.q_ff_cb ORDER BY msg_id;
-- in a batch too
CREATE TEMP TABLE cbb AS
  SELECT * FROM pgmsg.send_batch('ff_cb', ARRAY['{"x": 1, "y": 2}', '{"x": 3}', '{"x": 3}']::jsonb[],
                                 group_ids => ARRAY['g', 'g', 'g']) WITH ORDINALITY AS s(id, pos);
SELECT pos, id = :c1 AS is_c1, id = (SELECT id FROM cbb WHERE pos = 2) AS is_second
  FROM cbb ORDER BY pos;
SELECT count(*) FROM pgmsg.q_ff_cb;
-- turned off, identical bodies are all kept
SELECT pgmsg.alter_queue('ff_cb', content_based_dedup => false);
SELECT pgmsg.send('ff_cb', '{"x": 2}', group_id => 'g') NOT IN (:c2, :c3) AS new_id;
SELECT count(*) FROM pgmsg.q_ff_cb;
SELECT pgmsg.drop_queue('ff_cb');

--
-- send_batch with group and dedup ids.
--
CREATE TEMP TABLE sb AS
  SELECT * FROM pgmsg.send_batch('ff_q',
    ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}', '{"b": 4}', '{"b": 5}']::jsonb[],
    group_ids => ARRAY['bg', 'bh', 'bg', 'bg', 'bh'],
    dedup_ids => ARRAY['k1', 'k2', 'k1', NULL, 'k5']) WITH ORDINALITY AS s(id, pos);
-- the ids come in the order of the bodies; the third repeats the first's
SELECT pos, id = (SELECT id FROM sb WHERE pos = 1) AS is_first FROM sb ORDER BY pos;
SELECT count(DISTINCT id) FROM sb;
SELECT s.pos, q.body, q.group_id FROM pgmsg.q_ff_q q JOIN sb s ON s.id = q.msg_id
 WHERE s.pos <> 3 ORDER BY s.pos;
-- the groups' orders
CREATE TEMP TABLE rb AS
  SELECT row_number() OVER () AS pos, * FROM pgmsg.receive('ff_q', 10);
SELECT group_id, array_agg(body->>'b' ORDER BY pos) FROM rb GROUP BY group_id ORDER BY group_id;
SELECT pgmsg.delete('ff_q', array_agg(receipt)) FROM rb;
-- a dedup id already used by a single send
SELECT pgmsg.send('ff_q', '{"s": 1}', group_id => 'bg', dedup_id => 'k9') AS k9 \gset
SELECT s.id = :k9 AS is_k9
  FROM pgmsg.send_batch('ff_q', ARRAY['{"s": 2}']::jsonb[],
                        group_ids => ARRAY['bg'], dedup_ids => ARRAY['k9']) AS s(id);
-- mismatched lengths
SELECT pgmsg.send_batch('ff_q', ARRAY['{"b": 1}', '{"b": 2}']::jsonb[], group_ids => ARRAY['bg']);
SELECT pgmsg.send_batch('ff_q', ARRAY['{"b": 1}', '{"b": 2}']::jsonb[], group_ids => ARRAY['bg', 'bg', 'bg']);
SELECT pgmsg.send_batch('ff_q', ARRAY['{"b": 1}', '{"b": 2}']::jsonb[], group_ids => ARRAY['bg', 'bg'],
                        dedup_ids => ARRAY['k1']);
SELECT pgmsg.send_batch('ff_q', ARRAY['{"b": 1}']::jsonb[], group_ids => ARRAY['bg'],
                        dedup_ids => ARRAY['k1', 'k2']);
SELECT count(*) FROM pgmsg.q_ff_q;

SELECT pgmsg.purge_queue('ff_q');

--
-- The queue's delay applies to FIFO queues.  A group keeps its order when
-- the delay is lowered between two sends, and other groups are not held
-- back by its delayed message.
--
-- ff_drain receives (committing between tries, with pg_sleep(0.1)) and
-- deletes until it has "expect" messages or 30 seconds have passed; it
-- returns group:n of each, in the order they came.
CREATE PROCEDURE ff_drain(queue text, expect int, INOUT got text[] DEFAULT '{}')
LANGUAGE plpgsql AS $$
DECLARE
    m record;
    deadline timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
    WHILE coalesce(array_length(got, 1), 0) < expect AND clock_timestamp() < deadline LOOP
        FOR m IN SELECT * FROM pgmsg.receive(queue, 10) LOOP
            got := got || (m.group_id || ':' || (m.body->>'n'));
            PERFORM pgmsg.delete(queue, m.receipt);
        END LOOP;
        COMMIT;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;
SELECT pgmsg.alter_queue('ff_q', delay => '2 seconds');
SELECT pgmsg.send('ff_q', '{"late": 1, "n": 1}', group_id => 'late') AS late \gset
SELECT visible_at - sent_at AS delay FROM pgmsg.q_ff_q WHERE msg_id = :late;
SELECT pgmsg.alter_queue('ff_q', delay => '0');
SELECT pgmsg.send('ff_q', '{"late": 0, "n": 2}', group_id => 'late') > 0 AS sent;
SELECT pgmsg.send('ff_q', '{"late": 0, "n": 1}', group_id => 'other') > 0 AS sent;
-- at once: the other group's message only
SELECT body, group_id, pgmsg.delete('ff_q', receipt) FROM pgmsg.receive('ff_q', 10);
-- then group late, in order
CALL ff_drain('ff_q', 2);
SELECT count(*) FROM pgmsg.q_ff_q;

--
-- The read-ahead of a FIFO queue: a receive keeps up to 16 fresh messages
-- past what it took, with their groups.  Later receives take the entries
-- of groups they may take, wherever they stand, and leave those of busy
-- groups; a scan that finds entries left starts after the last of them.
-- Each group still comes out in order.
--
SELECT pgmsg.create_queue('ff_ra', fifo => true, visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('ff_ra',
    ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 9) i),
    group_ids => ARRAY['a', 'a', 'a', 'a', 'a', 'b', 'c', 'a', 'b']);
-- message 1 (a), and 2 to 9 are read ahead
CREATE TEMP TABLE ff_held AS
  SELECT group_id, body->>'n' AS n, receipt FROM pgmsg.receive('ff_ra', 1);
-- a is busy: 6 (b) from the middle of the entries, then 7 (c)
INSERT INTO ff_held SELECT group_id, body->>'n', receipt FROM pgmsg.receive('ff_ra', 1);
INSERT INTO ff_held SELECT group_id, body->>'n', receipt FROM pgmsg.receive('ff_ra', 10);
SELECT group_id, n FROM ff_held;
-- every group busy
SELECT count(*) FROM pgmsg.receive('ff_ra', 10);
-- with a free, 2 to 5 and 8 from the entries, in order
SELECT pgmsg.delete('ff_ra', receipt) FROM ff_held WHERE group_id = 'a';
SELECT group_id, body->>'n' AS n FROM pgmsg.receive('ff_ra', 10, visibility_timeout => '0');
SELECT pgmsg.delete('ff_ra', receipt) FROM ff_held WHERE group_id <> 'a';
CALL ff_drain('ff_ra', 6);
TRUNCATE ff_held;

-- A full read-ahead of one busy group: the scan after it passes the
-- group's later messages, which it cannot store, for those of free groups.
SELECT count(*) FROM pgmsg.send_batch('ff_ra',
    ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 20) i),
    group_ids => array_fill('x'::text, ARRAY[20]));
SELECT count(*) FROM pgmsg.send_batch('ff_ra',
    ARRAY['{"n": 21}', '{"n": 22}', '{"n": 23}', '{"n": 24}']::jsonb[],
    group_ids => ARRAY['y', 'x', 'y', 'z']);
-- 1; 2 to 17 fill the read-ahead
INSERT INTO ff_held SELECT group_id, body->>'n', receipt FROM pgmsg.receive('ff_ra', 1);
-- 21 (y), past 18 to 20
INSERT INTO ff_held SELECT group_id, body->>'n', receipt FROM pgmsg.receive('ff_ra', 1);
-- 24 (z), past 22 (x) and 23 (y, held)
INSERT INTO ff_held SELECT group_id, body->>'n', receipt FROM pgmsg.receive('ff_ra', 10);
SELECT group_id, n FROM ff_held;
SELECT count(*) FROM pgmsg.receive('ff_ra', 10);
-- the rest, every group in order, and nothing twice
SELECT pgmsg.delete('ff_ra', receipt) FROM ff_held;
CALL ff_drain('ff_ra', 21);
SELECT count(*) FROM pgmsg.q_ff_ra;
SELECT pgmsg.drop_queue('ff_ra');
DROP TABLE ff_held;
DROP PROCEDURE ff_drain(text, int, text[]);

SELECT pgmsg.drop_queue('ff_q');
SELECT pgmsg.drop_queue('ff_std');
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'ff\_%';
