-- receive, delete and change_visibility.
SELECT pgmsg.create_queue('rt_q', visibility_timeout => '1 hour');
CREATE TEMP VIEW rc AS
SELECT messages_visible, messages_in_flight, deleted_total
  FROM pgmsg.queues WHERE name = 'rt_q';

-- an empty queue
SELECT count(*) FROM pgmsg.receive('rt_q');
SELECT count(*) FROM pgmsg.receive('rt_q', 1000);
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM pgmsg.receive('rt_q', 10, wait => '0.2 seconds');
SELECT clock_timestamp() - :'t0'::timestamptz >= interval '0.2 seconds' AS waited;

--
-- what a receive returns
--
SELECT pgmsg.send('rt_q', '{"m": 1}', '{"a": "x"}') AS id1 \gset
CREATE TEMP TABLE r1 AS SELECT * FROM pgmsg.receive('rt_q');
SELECT message_id = :id1 AS same_id, receipt ~ '^[0-9a-f]{56}$' AS receipt_format,
       body, attributes, receive_count, sent_at <= first_received_at AS received_after_sent,
       first_received_at <= clock_timestamp() AS received_before_now, group_id
  FROM r1;
SELECT messages_visible, messages_in_flight, received_total, deleted_total
  FROM pgmsg.queues WHERE name = 'rt_q';
-- leased: nobody gets it again
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
-- a first receive writes nothing to the row
SELECT receive_count, first_received_at IS NULL AS no_first_received FROM pgmsg.q_rt_q;
-- delete; then the receipt is stale
SELECT pgmsg.delete('rt_q', receipt) FROM r1;
SELECT pgmsg.delete('rt_q', receipt) FROM r1;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM r1;
SELECT count(*) FROM pgmsg.q_rt_q;
SELECT * FROM rc;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
-- a long poll returns at once when there is a message
SELECT pgmsg.send('rt_q', '{"m": 2}') > 0 AS sent;
SELECT clock_timestamp() AS t0 \gset
SELECT body FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0', wait => '10 seconds');
SELECT clock_timestamp() - :'t0'::timestamptz < interval '5 seconds' AS at_once;
-- visibility_timeout NULL is the queue's
CREATE TEMP TABLE r2 AS SELECT * FROM pgmsg.receive('rt_q', 10, visibility_timeout => NULL);
SELECT count(*) FROM r2;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM r2;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10, visibility_timeout => NULL);
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.purge_queue('rt_q');
DROP TABLE r1, r2;

--
-- arguments
--
SELECT * FROM pgmsg.receive('rt_q', 0);
SELECT * FROM pgmsg.receive('rt_q', -1);
SELECT * FROM pgmsg.receive('rt_q', 1001);
SELECT * FROM pgmsg.receive('rt_q', NULL);
SELECT * FROM pgmsg.receive('rt_q', max_messages => NULL, visibility_timeout => '1 minute');
SELECT * FROM pgmsg.receive(NULL);
SELECT * FROM pgmsg.receive('rt_q', 1, visibility_timeout => '-1 second');
SELECT * FROM pgmsg.receive('rt_q', 1, visibility_timeout => '12 hours 1 second');
SELECT * FROM pgmsg.receive('rt_q', 1, wait => '-1 second');
SELECT * FROM pgmsg.receive('rt_q', 1, wait => '21 seconds');
SELECT * FROM pgmsg.receive('rt_q', 1, wait => NULL);
SELECT pgmsg.delete('rt_q', NULL::text);
SELECT pgmsg.delete('rt_q', NULL::text[]);
SELECT pgmsg.delete(NULL, repeat('0', 56));
SELECT pgmsg.change_visibility('rt_q', NULL::text, '0');
SELECT pgmsg.change_visibility('rt_q', NULL::text[], '0');
SELECT pgmsg.change_visibility('rt_q', repeat('0', 56), NULL);
SELECT pgmsg.change_visibility('rt_q', repeat('0', 56), '-1 second');
SELECT pgmsg.change_visibility('rt_q', repeat('0', 56), '12 hours 1 second');
SELECT pgmsg.change_visibility(NULL, repeat('0', 56), '0');
-- a valid receipt of nothing
SELECT pgmsg.delete('rt_q', repeat('0', 56));
SELECT pgmsg.change_visibility('rt_q', repeat('0', 56), '12 hours');

-- max_messages bounds a receive; 1000 is allowed
SELECT count(*) FROM pgmsg.send_batch('rt_q',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 1000) i));
SELECT count(*) FROM pgmsg.send_batch('rt_q',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1001, 1005) i));
SELECT count(*) FROM pgmsg.receive('rt_q', 2);
SELECT count(*) FROM pgmsg.receive('rt_q', 1000);
SELECT count(*) FROM pgmsg.receive('rt_q', 1000);
SELECT * FROM rc;
SELECT pgmsg.purge_queue('rt_q');

--
-- order: messages come out in send order
--
CREATE TEMP TABLE got (ord serial, n int, receive_count int);
SELECT pgmsg.send('rt_q', '{"n": 1}') > 0 AS sent;
SELECT pgmsg.send('rt_q', '{"n": 2}') > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('rt_q', ARRAY['{"n": 3}', '{"n": 4}', '{"n": 5}']::jsonb[]);
SELECT pgmsg.send('rt_q', '{"n": 6}') > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('rt_q',
    (SELECT array_agg(jsonb_build_object('n', i) ORDER BY i) FROM generate_series(7, 30) i));
INSERT INTO got (n, receive_count) SELECT (body->>'n')::int, receive_count FROM pgmsg.receive('rt_q', 1);
INSERT INTO got (n, receive_count) SELECT (body->>'n')::int, receive_count FROM pgmsg.receive('rt_q', 1);
INSERT INTO got (n, receive_count) SELECT (body->>'n')::int, receive_count FROM pgmsg.receive('rt_q', 3);
-- a rolled-back receive puts its messages back in their place
BEGIN;
SELECT body FROM pgmsg.receive('rt_q', 2);
ROLLBACK;
INSERT INTO got (n, receive_count) SELECT (body->>'n')::int, receive_count FROM pgmsg.receive('rt_q', 10);
INSERT INTO got (n, receive_count) SELECT (body->>'n')::int, receive_count FROM pgmsg.receive('rt_q', 1000);
SELECT array_agg(n ORDER BY ord) = array_agg(n ORDER BY n) AS in_send_order,
       count(*), count(DISTINCT n), max(receive_count)
  FROM got;
SELECT pgmsg.purge_queue('rt_q');
TRUNCATE got;
-- a message released again comes before newer ones
SELECT count(*) FROM pgmsg.send_batch('rt_q', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
CREATE TEMP TABLE first AS SELECT receipt FROM pgmsg.receive('rt_q', 1);
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM first;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.purge_queue('rt_q');
DROP TABLE first, got;

--
-- visibility_timeout 0: received again at once, receive_count growing
--
SELECT pgmsg.send('rt_q', '{"v": 1}') AS idv \gset
CREATE TEMP TABLE v1 AS SELECT * FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0');
CREATE TEMP TABLE v2 AS SELECT * FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0');
CREATE TEMP TABLE v3 AS SELECT * FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0');
SELECT v.n, m.message_id = :idv AS same_id, m.receive_count,
       m.first_received_at = v1.first_received_at AS same_first_received,
       m.sent_at = v1.sent_at AS same_sent_at, m.receipt <> v1.receipt OR v.n = 1 AS new_receipt
  FROM (SELECT 1 AS n, * FROM v1 UNION ALL SELECT 2, * FROM v2 UNION ALL SELECT 3, * FROM v3) m
  JOIN (VALUES (1), (2), (3)) v(n) ON v.n = m.n, v1
 ORDER BY v.n;
-- the receive count is stored in the row from the second receive on
SELECT q.receive_count, q.first_received_at = v1.first_received_at AS first_received_stored
  FROM pgmsg.q_rt_q q, v1;
-- only the latest receipt is valid
SELECT pgmsg.delete('rt_q', receipt) FROM v1;
SELECT pgmsg.delete('rt_q', receipt) FROM v2;
SELECT pgmsg.change_visibility('rt_q', receipt, '1 hour') FROM v1;
SELECT pgmsg.change_visibility('rt_q', receipt, '1 hour') FROM v2;
CREATE TEMP TABLE v4 AS SELECT * FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0');
SELECT receive_count FROM v4;
SELECT pgmsg.delete('rt_q', receipt) FROM v3;
SELECT pgmsg.change_visibility('rt_q', receipt, '1 hour') FROM v3;
SELECT receive_count FROM pgmsg.q_rt_q;
SELECT pgmsg.change_visibility('rt_q', receipt, '1 hour') FROM v4;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT pgmsg.delete('rt_q', receipt) FROM v4;
SELECT count(*) FROM pgmsg.q_rt_q;
DROP TABLE v1, v2, v3, v4;

--
-- receipts
--
SELECT pgmsg.send('rt_q', '{"forge": 1}') > 0 AS sent;
SELECT pgmsg.send('rt_q', '{"forge": 2}') > 0 AS sent;
CREATE TEMP TABLE rr AS SELECT receipt, body FROM pgmsg.receive('rt_q', 2);
-- malformed receipts are errors
SELECT pgmsg.delete('rt_q', 'garbage');
SELECT pgmsg.delete('rt_q', '');
SELECT pgmsg.delete('rt_q', repeat('0', 55));
SELECT pgmsg.delete('rt_q', repeat('0', 57));
SELECT pgmsg.delete('rt_q', upper(repeat('abcdef', 10)::varchar(56)));
SELECT pgmsg.delete('rt_q', repeat('g', 56));
SELECT pgmsg.delete('rt_q', repeat('0', 55) || ' ');
SELECT pgmsg.delete('rt_q', repeat('0', 55) || E'\n');
SELECT pgmsg.delete('rt_q', repeat('0', 55) || '-');
SELECT pgmsg.delete('rt_q', repeat('x', 1000));
SELECT pgmsg.change_visibility('rt_q', 'garbage', '0');
SELECT pgmsg.change_visibility('rt_q', repeat('0', 55), '0');
SELECT pgmsg.change_visibility('rt_q', upper(repeat('abcdef', 10)::varchar(56)), '0');
SELECT pgmsg.delete('rt_q', ARRAY['garbage']);
SELECT pgmsg.change_visibility('rt_q', ARRAY['garbage'], '0');
-- real receipts made malformed (the error quotes the receipt, so only its
-- SQLSTATE and the shape of the message are shown)
DO $$
DECLARE
  r text := (SELECT receipt FROM rr WHERE body = '{"forge": 1}');
  c record;
BEGIN
  FOR c IN SELECT * FROM (VALUES
      ('last digit upper-case', left(r, 55) || 'A'),
      ('upper-case', upper(left(r, 40)) || 'ABCDEF0123456789'),
      ('last digit not hex', left(r, 55) || 'g'),
      ('one digit short', left(r, 55)),
      ('one digit long', r || '0'),
      ('leading space', ' ' || r),
      ('trailing space', r || ' ')) v(label, bad)
  LOOP
    BEGIN
      PERFORM pgmsg.delete('rt_q', c.bad);
      RAISE NOTICE '%: delete accepted it', c.label;
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE NOTICE '%: delete: % (%)', c.label, regexp_replace(SQLERRM, '"[^"]*"', '"..."'), SQLSTATE;
    END;
    BEGIN
      PERFORM pgmsg.change_visibility('rt_q', c.bad, '0');
      RAISE NOTICE '%: change_visibility accepted it', c.label;
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE NOTICE '%: change_visibility: % (%)', c.label, regexp_replace(SQLERRM, '"[^"]*"', '"..."'), SQLSTATE;
    END;
  END LOOP;
END $$;
-- forged receipts (well-formed, but not the lease's) are false
CREATE TEMP TABLE forged AS
SELECT r.body, f.kind, f.receipt
  FROM rr r, rr o,
  LATERAL (VALUES
    ('last digit', left(r.receipt, 55) || CASE WHEN right(r.receipt, 1) = '0' THEN '1' ELSE '0' END),
    ('zero nonce', left(r.receipt, 40) || repeat('0', 16)),
    ('epoch', overlay(r.receipt PLACING CASE WHEN substr(r.receipt, 30, 1) = '0' THEN '1' ELSE '0' END FROM 30 FOR 1)),
    ('queue id', overlay(r.receipt PLACING CASE WHEN substr(r.receipt, 8, 1) = '0' THEN '1' ELSE '0' END FROM 8 FOR 1)),
    ('other message id', left(r.receipt, 8) || substr(o.receipt, 9, 16) || right(r.receipt, 32))
  ) f(kind, receipt)
 WHERE r.body <> o.body;
SELECT body, kind, pgmsg.change_visibility('rt_q', receipt, '0') FROM forged ORDER BY body->>'forge', kind COLLATE "C";
SELECT body, kind, pgmsg.delete('rt_q', receipt) FROM forged ORDER BY body->>'forge', kind COLLATE "C";
SELECT pgmsg.delete('rt_q', array_agg(receipt)) FROM forged;
SELECT pgmsg.change_visibility('rt_q', array_agg(receipt), '0') FROM forged;
-- nothing happened: both messages are still leased to the real receipts
SELECT * FROM rc;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT body, pgmsg.delete('rt_q', receipt) FROM rr ORDER BY body->>'forge';
DROP TABLE forged;

-- a receipt of another queue is false, even for the same message id
SELECT pgmsg.create_queue('rt_a', visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('rt_b', visibility_timeout => '1 hour');
SELECT pgmsg.send('rt_a', '{"q": "a"}') AS id_a \gset
SELECT pgmsg.send('rt_b', '{"q": "b"}') AS id_b \gset
SELECT :id_a = :id_b AS same_message_id;
CREATE TEMP TABLE ra AS SELECT receipt FROM pgmsg.receive('rt_a');
CREATE TEMP TABLE rb AS SELECT receipt FROM pgmsg.receive('rt_b');
SELECT pgmsg.delete('rt_b', receipt) FROM ra;
SELECT pgmsg.change_visibility('rt_b', receipt, '0') FROM ra;
SELECT pgmsg.delete('rt_a', receipt) FROM rb;
SELECT pgmsg.delete('rt_a', ARRAY[receipt]) FROM rb;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM rb;
SELECT count(*) FROM pgmsg.receive('rt_a', 10);
SELECT count(*) FROM pgmsg.receive('rt_b', 10);
SELECT pgmsg.delete('rt_a', receipt) FROM ra;
SELECT pgmsg.delete('rt_b', receipt) FROM rb;
SELECT pgmsg.drop_queue('rt_a');
SELECT pgmsg.drop_queue('rt_b');
DROP TABLE ra, rb, rr;

--
-- array forms
--
SELECT count(*) FROM pgmsg.send_batch('rt_q', ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}']::jsonb[]);
CREATE TEMP TABLE arr AS SELECT receipt, body FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.change_visibility('rt_q', array_agg(receipt), '2 hours') FROM arr;
SELECT pgmsg.change_visibility('rt_q', ARRAY[]::text[], '0');
SELECT pgmsg.delete('rt_q', ARRAY[]::text[]);
-- a malformed or NULL element: an error, and nothing is deleted
SELECT pgmsg.delete('rt_q', array_agg(receipt) || 'garbage'::text) FROM arr;
SELECT pgmsg.delete('rt_q', array_agg(receipt) || NULL::text) FROM arr;
SELECT pgmsg.change_visibility('rt_q', array_agg(receipt) || 'garbage'::text, '0') FROM arr;
SELECT pgmsg.change_visibility('rt_q', array_agg(receipt) || NULL::text, '0') FROM arr;
SELECT * FROM rc;
-- the same receipt twice deletes once
SELECT pgmsg.delete('rt_q', ARRAY[receipt, receipt]) FROM arr WHERE body = '{"b": 1}';
-- stale and valid receipts together
SELECT pgmsg.change_visibility('rt_q', array_agg(receipt), '1 hour') FROM arr;
SELECT pgmsg.delete('rt_q', array_agg(receipt)) FROM arr;
SELECT pgmsg.delete('rt_q', array_agg(receipt)) FROM arr;
SELECT * FROM rc;
DROP TABLE arr;

--
-- change_visibility
--
SELECT pgmsg.send('rt_q', '{"cv": 1}') > 0 AS sent;
CREATE TEMP TABLE cv1 AS SELECT receipt FROM pgmsg.receive('rt_q');
-- to 0: receivable again at once
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM cv1;
CREATE TEMP TABLE cv2 AS SELECT receipt, receive_count FROM pgmsg.receive('rt_q');
SELECT receive_count FROM cv2;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM cv1;
-- longer: not received; the largest timeout is allowed
SELECT pgmsg.change_visibility('rt_q', receipt, '12 hours') FROM cv2;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
-- it takes effect at commit
BEGIN;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM cv2;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
COMMIT;
CREATE TEMP TABLE cv3 AS SELECT receipt, receive_count FROM pgmsg.receive('rt_q');
SELECT receive_count FROM cv3;
-- and not at all if rolled back
BEGIN;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM cv3;
ROLLBACK;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
-- the latest change wins
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM cv3;
SELECT pgmsg.change_visibility('rt_q', receipt, '1 hour') FROM cv3;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM cv3;
-- for a message received in the same transaction
BEGIN;
SELECT receipt AS rcpt, receive_count AS rcount FROM pgmsg.receive('rt_q', 1, visibility_timeout => '1 hour') \gset
SELECT :rcount AS receive_count;
SELECT pgmsg.change_visibility('rt_q', :'rcpt', '0');
COMMIT;
SELECT receipt AS rcpt, receive_count AS rcount FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0') \gset
SELECT :rcount AS receive_count;
BEGIN;
SELECT receipt AS rcpt, receive_count AS rcount FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0') \gset
SELECT :rcount AS receive_count;
SELECT pgmsg.change_visibility('rt_q', :'rcpt', '1 hour');
COMMIT;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
-- a deleted message cannot be made visible
BEGIN;
SELECT pgmsg.delete('rt_q', :'rcpt');
SELECT pgmsg.change_visibility('rt_q', :'rcpt', '0');
SELECT pgmsg.delete('rt_q', :'rcpt');
COMMIT;
SELECT count(*) FROM pgmsg.q_rt_q;
SELECT pgmsg.change_visibility('rt_q', :'rcpt', '0');
-- rolled back to a savepoint, a change does not take effect, even for a
-- message received in the same transaction
SELECT pgmsg.send('rt_q', '{"cv": 2}') > 0 AS sent;
\set sp_count none
BEGIN;
SELECT receipt AS sp_rcpt FROM pgmsg.receive('rt_q', 1, visibility_timeout => '1 hour') \gset
SAVEPOINT s;
SELECT pgmsg.change_visibility('rt_q', :'sp_rcpt', '0');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
BEGIN;
SAVEPOINT s;
SELECT pgmsg.change_visibility('rt_q', :'sp_rcpt', '0');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.change_visibility('rt_q', :'sp_rcpt', '0');
BEGIN;
SELECT receipt AS sp_rcpt, receive_count AS sp_count
  FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0') \gset
SELECT :'sp_count' AS receive_count;
SAVEPOINT s;
SELECT pgmsg.change_visibility('rt_q', :'sp_rcpt', '1 hour');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT pgmsg.purge_queue('rt_q');
DROP TABLE cv1, cv2, cv3;

--
-- transactions
--
-- a rolled-back receive releases its messages at once, as if never received
SELECT pgmsg.send('rt_q', '{"rb": 1}') > 0 AS sent;
BEGIN;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10);
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
ROLLBACK;
SELECT * FROM rc;
CREATE TEMP TABLE rb1 AS SELECT * FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT body, receive_count FROM rb1;
-- a rolled-back redelivery: the previous receive count, receipt and row
BEGIN;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10);
SELECT receive_count FROM pgmsg.q_rt_q;
ROLLBACK;
SELECT receive_count FROM pgmsg.q_rt_q;
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM rb1;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.q_rt_q;
SELECT pgmsg.delete('rt_q', receipt) FROM rb1;
-- rolled back to a savepoint
BEGIN;
SAVEPOINT s;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10, visibility_timeout => '1 hour');
ROLLBACK TO SAVEPOINT s;
CREATE TEMP TABLE rb2 AS SELECT * FROM pgmsg.receive('rt_q', 10, visibility_timeout => '1 hour');
SELECT body, receive_count FROM rb2;
COMMIT;
SELECT count(*) FROM pgmsg.receive('rt_q', 10);
SELECT * FROM rc;

-- a rolled-back delete leaves the message leased to the same receipt
BEGIN;
SELECT pgmsg.delete('rt_q', receipt) FROM rb2;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
ROLLBACK;
SELECT * FROM rc;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT pgmsg.change_visibility('rt_q', receipt, '0') FROM rb2;
CREATE TEMP TABLE rb3 AS SELECT * FROM pgmsg.receive('rt_q', 10);
SELECT body, receive_count FROM rb3;
SELECT pgmsg.delete('rt_q', receipt) FROM rb2;
-- rolled back to a savepoint, then deleted for good
BEGIN;
SAVEPOINT s;
SELECT pgmsg.delete('rt_q', receipt) FROM rb3;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT pgmsg.delete('rt_q', receipt) FROM rb3;
COMMIT;
SELECT count(*) FROM pgmsg.q_rt_q;
SELECT * FROM rc;
DROP TABLE rb1, rb2, rb3;

-- received_total counts committed receives only
SELECT pgmsg.send('rt_q', '{"rt": 1}') > 0 AS sent;
SELECT received_total AS received_before FROM pgmsg.queues WHERE name = 'rt_q' \gset
BEGIN;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT received_total - :received_before AS not_yet FROM pgmsg.queues WHERE name = 'rt_q';
COMMIT;
SELECT received_total - :received_before AS received FROM pgmsg.queues WHERE name = 'rt_q';
SELECT pgmsg.purge_queue('rt_q');

-- receive and delete in one transaction that rolls back: a fresh message again
SELECT pgmsg.send('rt_q', '{"rd": 1}') > 0 AS sent;
BEGIN;
CREATE TEMP TABLE w ON COMMIT DROP AS SELECT * FROM pgmsg.receive('rt_q');
SELECT pgmsg.delete('rt_q', receipt) FROM w;
ROLLBACK;
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT pgmsg.purge_queue('rt_q');

-- exactly once: receive, do the work and delete in one transaction
CREATE TABLE rt_done (n int PRIMARY KEY, body jsonb);
INSERT INTO rt_done VALUES (2, '{"already": "done"}');
SELECT count(*) FROM pgmsg.send_batch('rt_q', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
-- the first attempt fails on message 2 and changes nothing
BEGIN;
CREATE TEMP TABLE w ON COMMIT DROP AS SELECT * FROM pgmsg.receive('rt_q', 10);
INSERT INTO rt_done SELECT (body->>'n')::int, body FROM w;
COMMIT;
SELECT * FROM rc;
-- the next attempt gets the same messages, works around the failure and deletes them
BEGIN;
CREATE TEMP TABLE w ON COMMIT DROP AS SELECT * FROM pgmsg.receive('rt_q', 10);
SELECT body, receive_count FROM w;
INSERT INTO rt_done SELECT (body->>'n')::int, body FROM w ON CONFLICT DO NOTHING;
SELECT pgmsg.delete('rt_q', array_agg(receipt)) FROM w;
COMMIT;
SELECT * FROM rt_done ORDER BY n;
SELECT count(*) FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.q_rt_q;
SELECT * FROM rc;
DROP TABLE rt_done;

-- a receive reads ahead of what it takes, and the next receives take those
-- messages first, in order; a rollback that gives messages back starts over
SELECT count(*) FROM pgmsg.send_batch('rt_q',
    ARRAY(SELECT jsonb_build_object('ra', i) FROM generate_series(1, 24) i));
SELECT body FROM pgmsg.receive('rt_q', 1);
BEGIN;
SELECT body FROM pgmsg.receive('rt_q', 2);
ROLLBACK;
SELECT body FROM pgmsg.receive('rt_q', 3);
-- a message read ahead and then deleted (here by hand) is not handed out
DELETE FROM pgmsg.q_rt_q WHERE body = '{"ra": 6}';
SELECT body FROM pgmsg.receive('rt_q', 2);
-- beyond what was read ahead, the scan goes on from the last one taken
SELECT body FROM pgmsg.receive('rt_q', 20);
SELECT body FROM pgmsg.receive('rt_q', 20);
SELECT pgmsg.purge_queue('rt_q');
-- after a purge only newer messages come
SELECT count(*) FROM pgmsg.send_batch('rt_q', ARRAY['{"rp": 1}', '{"rp": 2}', '{"rp": 3}']::jsonb[]);
SELECT body FROM pgmsg.receive('rt_q', 1);
SELECT pgmsg.purge_queue('rt_q');
SELECT pgmsg.send('rt_q', '{"after": "purge"}') > 0 AS sent;
SELECT body FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.purge_queue('rt_q');
-- a rewrite of the table moves rows: what was read ahead is dropped and
-- scanned for again
SELECT count(*) FROM pgmsg.send_batch('rt_q',
    ARRAY(SELECT jsonb_build_object('vf', i) FROM generate_series(1, 6) i));
SELECT receipt AS vf1 FROM pgmsg.receive('rt_q', 1) \gset
SELECT pgmsg.delete('rt_q', :'vf1');
VACUUM FULL pgmsg.q_rt_q;
SELECT body FROM pgmsg.receive('rt_q', 10);
SELECT pgmsg.purge_queue('rt_q');
-- messages in flight during a rewrite are delivered again, as after a
-- restart, and their receipts are stale
SELECT count(*) FROM pgmsg.send_batch('rt_q',
    ARRAY(SELECT jsonb_build_object('cl', i) FROM generate_series(1, 4) i));
SELECT receipt AS cl1 FROM pgmsg.receive('rt_q', 1) \gset
SELECT pgmsg.delete('rt_q', :'cl1');
SELECT receipt AS cl2 FROM pgmsg.receive('rt_q', 1) \gset
SELECT receipt AS cl3 FROM pgmsg.receive('rt_q', 1, visibility_timeout => '0') \gset
SELECT body, receive_count FROM pgmsg.receive('rt_q', 10, visibility_timeout => '0');
SELECT messages_in_flight FROM pgmsg.queues WHERE name = 'rt_q';
CLUSTER pgmsg.q_rt_q USING q_rt_q_key;
SELECT pgmsg.delete('rt_q', :'cl2');
SELECT messages_in_flight FROM pgmsg.queues WHERE name = 'rt_q';
SELECT body, receive_count, pgmsg.delete('rt_q', receipt) AS deleted
  FROM pgmsg.receive('rt_q', 10);
SELECT count(*) FROM pgmsg.q_rt_q;

--
-- redeliveries whose visibility timeouts run out together come back in
-- send order, every time
--
SELECT pgmsg.create_queue('rt_order');
SELECT count(*) FROM pgmsg.send_batch('rt_order',
    ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 12) i));
CREATE TEMP TABLE rt_rounds (round int, ns int[]);
DO $$
BEGIN
    FOR r IN 1..6 LOOP
        INSERT INTO rt_rounds
        SELECT r, array_agg((body->>'n')::int ORDER BY ord)
          FROM pgmsg.receive('rt_order', 12, visibility_timeout => '0')
               WITH ORDINALITY AS m(msg_id, receipt, body, attributes, receive_count,
                                    sent_at, first_received_at, group_id, ord);
        COMMIT;
    END LOOP;
END
$$;
SELECT round, ns FROM rt_rounds ORDER BY round;
SELECT pgmsg.drop_queue('rt_order');

--
-- a batching window: with a wait, a receive that has messages goes on
-- taking more until it has max_messages or the window has passed
--
SELECT pgmsg.create_queue('rt_bw');
SELECT count(*) FROM pgmsg.send_batch('rt_bw',
    ARRAY(SELECT jsonb_build_object('n', i) FROM generate_series(1, 5) i));
-- max_messages in hand: it returns without waiting out the window
SELECT body FROM pgmsg.receive('rt_bw', 3, wait => '20 seconds', batch_window => '20 seconds');
-- fewer than max_messages: what there is, once the window has passed
SELECT body FROM pgmsg.receive('rt_bw', 10, wait => '20 seconds', batch_window => '0.1 seconds');
-- nothing at all: empty when the wait is over, the window never opened
SELECT count(*) FROM pgmsg.receive('rt_bw', 10, wait => '0.1 seconds', batch_window => '20 seconds');
-- bad windows change nothing
SELECT count(*) FROM pgmsg.send('rt_bw', '{"n": 6}');
SELECT * FROM pgmsg.receive('rt_bw', 10, wait => '1 second', batch_window => '-1 second');
SELECT * FROM pgmsg.receive('rt_bw', 10, wait => '1 second', batch_window => '21 seconds');
SELECT * FROM pgmsg.receive('rt_bw', 10, wait => '1 second', batch_window => NULL);
SELECT * FROM pgmsg.receive('rt_bw', 10, batch_window => '10 milliseconds');
SELECT messages_visible, messages_in_flight FROM pgmsg.queues WHERE name = 'rt_bw';
-- a window of 0 is none
SELECT body FROM pgmsg.receive('rt_bw', 10, batch_window => '0');
SELECT pgmsg.drop_queue('rt_bw');

--
-- a delete goes to the row by the TID its lease keeps, and deletes it only
-- if it is still that message's live row
--
SELECT pgmsg.create_queue('rt_tid', visibility_timeout => '0');
SELECT pgmsg.send('rt_tid', '{"n": 1}') > 0 AS sent;
SELECT receive_count FROM pgmsg.receive('rt_tid', 1);
-- a redelivery writes the count to a new row version; rolled back, the
-- lease goes back to the row it had
BEGIN;
SELECT receive_count FROM pgmsg.receive('rt_tid', 1);
ROLLBACK;
SELECT receipt AS tid_rcpt, receive_count AS tid_count
  FROM pgmsg.receive('rt_tid', 1, visibility_timeout => '1 hour') \gset
SELECT :tid_count AS receive_count, pgmsg.delete('rt_tid', :'tid_rcpt') AS deleted;
SELECT count(*) FROM pgmsg.q_rt_tid;
-- a redelivery and its delete in one statement: the new row version goes
SELECT pgmsg.send('rt_tid', '{"n": 2}') > 0 AS sent;
SELECT receive_count FROM pgmsg.receive('rt_tid', 1);
SELECT receive_count, pgmsg.delete('rt_tid', receipt) AS deleted
  FROM pgmsg.receive('rt_tid', 1);
SELECT count(*) FROM pgmsg.q_rt_tid;
-- a row deleted behind the lease's back: the receipt deletes nothing
SELECT pgmsg.send('rt_tid', '{"n": 3}') > 0 AS sent;
SELECT receipt AS tid_rcpt FROM pgmsg.receive('rt_tid', 1, visibility_timeout => '1 hour') \gset
DELETE FROM pgmsg.q_rt_tid;
SELECT pgmsg.delete('rt_tid', :'tid_rcpt') AS deleted;
-- and once vacuum has freed the TID and another message holds it, the
-- receipt deletes nothing either: the other message stays (with the page
-- emptied by vacuum first, both messages take its first line pointer)
VACUUM (TRUNCATE false) pgmsg.q_rt_tid;
SELECT pgmsg.send('rt_tid', '{"n": 4}') > 0 AS sent;
SELECT receipt AS tid_rcpt FROM pgmsg.receive('rt_tid', 1, visibility_timeout => '1 hour') \gset
DELETE FROM pgmsg.q_rt_tid;
VACUUM (TRUNCATE false) pgmsg.q_rt_tid;
SELECT pgmsg.send('rt_tid', '{"n": 5}') > 0 AS sent;
SELECT pgmsg.delete('rt_tid', :'tid_rcpt') AS deleted;
SELECT body FROM pgmsg.q_rt_tid;
SELECT body, receive_count FROM pgmsg.receive('rt_tid', 10);
SELECT pgmsg.drop_queue('rt_tid');

--
-- planned calls leave out trailing arguments equal to their defaults
-- (receive_support), and receive takes the absent ones as the defaults
--
SELECT pgmsg.create_queue('rt_plan', visibility_timeout => '1 hour');
EXPLAIN (VERBOSE, COSTS OFF) SELECT receipt FROM pgmsg.receive('rt_plan');
EXPLAIN (VERBOSE, COSTS OFF) SELECT receipt FROM pgmsg.receive('rt_plan', 1);
EXPLAIN (VERBOSE, COSTS OFF)
  SELECT receipt FROM pgmsg.receive('rt_plan', 1, NULL, '0', '0 seconds');
EXPLAIN (VERBOSE, COSTS OFF) SELECT receipt FROM pgmsg.receive('rt_plan', 2);
EXPLAIN (VERBOSE, COSTS OFF)
  SELECT receipt FROM pgmsg.receive('rt_plan', 1, visibility_timeout => '30 seconds');
EXPLAIN (VERBOSE, COSTS OFF)
  SELECT receipt FROM pgmsg.receive('rt_plan', wait => '1 second');
EXPLAIN (VERBOSE, COSTS OFF)
  SELECT receipt FROM pgmsg.receive('rt_plan', wait => '1 second', batch_window => '0.1 seconds');
-- a parameter is not a default, nor is anything after it dropped
PREPARE rt_p(int) AS SELECT receipt FROM pgmsg.receive('rt_plan', $1);
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE rt_p(1);
RESET plan_cache_mode;
DEALLOCATE rt_p;
-- the absent visibility_timeout is the queue's: an hour here, a second
-- on rt_plan2, whose message comes back once the second has passed
SELECT pgmsg.send('rt_plan', '{"p": 1}') > 0 AS sent;
SELECT body, receive_count FROM pgmsg.receive('rt_plan');
SELECT count(*) FROM pgmsg.receive('rt_plan', 1);
SELECT pgmsg.create_queue('rt_plan2', visibility_timeout => '1 second');
SELECT pgmsg.send('rt_plan2', '{"p": 2}') > 0 AS sent;
SELECT body, receive_count FROM pgmsg.receive('rt_plan2', 1);
SELECT count(*) FROM pgmsg.receive('rt_plan2');
SELECT pg_sleep(1.2);
SELECT body, receive_count FROM pgmsg.receive('rt_plan2');
SELECT pgmsg.drop_queue('rt_plan2');
-- the errors of arguments given explicitly are still raised
SELECT count(*) FROM pgmsg.receive('rt_plan', NULL);
SELECT count(*) FROM pgmsg.receive('rt_plan', 0);
SELECT count(*) FROM pgmsg.receive('rt_plan', 1, wait => NULL);
SELECT count(*) FROM pgmsg.receive('rt_plan', 1, batch_window => NULL);
SELECT pgmsg.drop_queue('rt_plan');

-- clean up
DROP VIEW rc;
SELECT pgmsg.drop_queue('rt_q');
