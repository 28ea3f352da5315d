-- send and send_batch.
SELECT pgmsg.create_queue('st_q', visibility_timeout => '1 hour');
CREATE TEMP VIEW sc AS
SELECT messages_visible, messages_in_flight, messages_delayed, sent_total
  FROM pgmsg.queues WHERE name = 'st_q';

--
-- send returns the message id
--
SELECT pgmsg.send('st_q', '{"n": 1}') AS id1 \gset
SELECT pgmsg.send('st_q', '{"n": 2}', '{"kind": "new", "n": 3, "f": -1.5, "tags": ["a", "b"]}') AS id2 \gset
SELECT :id1 > 0 AS positive, :id2 > :id1 AS increasing;
SELECT * FROM sc;
-- the row as stored
SELECT msg_id = :id1 AS is_id1, body, attributes, receive_count, first_received_at,
       source_queue, group_id, sent_at <= clock_timestamp() AS sent_before_now,
       visible_at = sent_at AS visible_at_once
  FROM pgmsg.q_st_q ORDER BY msg_id;
-- receive reports the same ids, in send order
SELECT message_id = :id1 AS is_id1, body, attributes FROM pgmsg.receive('st_q');
SELECT message_id = :id2 AS is_id2, body, attributes FROM pgmsg.receive('st_q');
SELECT count(*) FROM pgmsg.receive('st_q', 10);
SELECT pgmsg.purge_queue('st_q');

-- any JSON document is a body
SELECT count(*) FROM (
  SELECT pgmsg.send('st_q', b) FROM unnest(ARRAY['{}', '[1, "two", {"three": 3}]', '"text"',
      '42', 'true', '{"deep": {"er": [1, {"x": null}]}}']::jsonb[]) WITH ORDINALITY t(b, o)
  ORDER BY o) s;
SELECT body FROM pgmsg.receive('st_q', 10);
SELECT pgmsg.purge_queue('st_q');

-- attributes: strings, numbers, arrays of strings, at most 10 keys
SELECT pgmsg.send('st_q', '{}', '{}') > 0 AS sent;
SELECT pgmsg.send('st_q', '{}', '{"s": "", "a": [], "n": 0, "e": 1e3}') > 0 AS sent;
SELECT pgmsg.send('st_q', '{}', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 10) i)) > 0 AS sent;
SELECT pgmsg.send('st_q', '{}', jsonb_build_object(repeat('k', 256), 'v')) > 0 AS sent;
SELECT pgmsg.send('st_q', '{}', NULL) > 0 AS sent;
SELECT CASE WHEN attributes ? repeat('k', 256) THEN 'the 256-character key'
            ELSE attributes::text END AS attributes,
       attributes IS NULL AS null_attributes
  FROM pgmsg.receive('st_q', 10);
SELECT pgmsg.purge_queue('st_q');

-- invalid attributes
SELECT pgmsg.send('st_q', '{}', '[1]');
SELECT pgmsg.send('st_q', '{}', '[]');
SELECT pgmsg.send('st_q', '{}', '"text"');
SELECT pgmsg.send('st_q', '{}', '1');
SELECT pgmsg.send('st_q', '{}', 'true');
SELECT pgmsg.send('st_q', '{}', 'null');
SELECT pgmsg.send('st_q', '{}', '{"a": {"b": 1}}');
SELECT pgmsg.send('st_q', '{}', '{"a": {}}');
SELECT pgmsg.send('st_q', '{}', '{"a": [1, 2]}');
SELECT pgmsg.send('st_q', '{}', '{"a": ["x", 1]}');
SELECT pgmsg.send('st_q', '{}', '{"a": ["x", null]}');
SELECT pgmsg.send('st_q', '{}', '{"a": [["x"]]}');
SELECT pgmsg.send('st_q', '{}', '{"a": [{"x": "y"}]}');
SELECT pgmsg.send('st_q', '{}', '{"a": true}');
SELECT pgmsg.send('st_q', '{}', '{"a": null}');
SELECT pgmsg.send('st_q', '{"ok": 1}', '{"good": "x", "bad": {"b": 1}}');
SELECT pgmsg.send('st_q', '{}', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 11) i));
SELECT pgmsg.send('st_q', '{}', (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 100) i));
SELECT pgmsg.send('st_q', '{}', '{"": "x"}');
SELECT pgmsg.send('st_q', '{}', jsonb_build_object(repeat('k', 257), 'v'));
SELECT * FROM sc;
SELECT count(*) FROM pgmsg.q_st_q;

--
-- message size, as SQS counts it: the UTF-8 bytes of the body's JSON text
-- (as receive returns it) plus attribute names and values
--
SELECT pgmsg.create_queue('st_small', max_message_size => 64);
-- {"p": "<55 x>"} is 64 bytes of text
SELECT octet_length(jsonb_build_object('p', repeat('x', 55))::text) AS size_55;
SELECT pgmsg.send('st_small', jsonb_build_object('p', repeat('x', 55))) > 0 AS sent;
SELECT pgmsg.send('st_small', jsonb_build_object('p', repeat('x', 56)));
SELECT pgmsg.send('st_small', jsonb_build_object('p', repeat('x', 1000)));
-- attributes count too: a name and a string value are their bytes ('{}' is 2)
SELECT pgmsg.send('st_small', '{}', jsonb_build_object('p', repeat('x', 61))) > 0 AS sent;
SELECT pgmsg.send('st_small', '{}', jsonb_build_object('p', repeat('x', 62)));
SELECT pgmsg.send('st_small', jsonb_build_object('p', repeat('x', 30)),
                  jsonb_build_object('p', repeat('x', 24))) > 0 AS sent;
SELECT pgmsg.send('st_small', jsonb_build_object('p', repeat('x', 30)),
                  jsonb_build_object('p', repeat('x', 25)));
-- a number counts its digits as written, an array of strings its JSON text
SELECT pgmsg.send('st_small', '{}', '{"n": 12.50, "a": ["x", "y"]}') > 0 AS sent;
SELECT pgmsg.send('st_small', repeat('1', 64)::jsonb) > 0 AS sent;
SELECT pgmsg.send('st_small', ('"' || repeat('x', 61) || '"')::jsonb, '{"n": 12.50, "a": ["x", "y"]}');
SELECT pgmsg.send_batch('st_small', ARRAY['{}', jsonb_build_object('p', repeat('x', 56))]);
SELECT pgmsg.send_batch('st_small', ARRAY['{}', '{}']::jsonb[],
                        ARRAY[NULL, jsonb_build_object('p', repeat('x', 62))]);
SELECT count(*) FROM pgmsg.q_st_small;
-- the smallest limit takes the smallest messages
SELECT pgmsg.alter_queue('st_small', max_message_size => 1);
SELECT pgmsg.send('st_small', '1') > 0 AS sent;
SELECT pgmsg.send('st_small', '12');
SELECT pgmsg.send('st_small', '{}');
-- the size is exactly the length of the text receive returns: escapes,
-- multibyte characters, numbers, nesting, a scalar body
CREATE TEMP TABLE st_bodies (b jsonb);
INSERT INTO st_bodies VALUES
    ('"plain"'), ('"tab\tquote\"backslash\\"'), ('"\u0001\u001f"'),
    ('"héllo €"'), ('-0.0001'), ('1e20'), ('123456789012345678901234567890.5'),
    ('true'), ('false'), ('null'), ('[]'), ('{}'), ('[1, "a", null, [true, {}]]'),
    ('{"a": {"b": [1, 2, {"c": "d"}]}, "e": [], "f": {}}'),
    ('{"k\"ey": "v", "ключ": "значение"}');
DO $$
DECLARE
    r record;
    len int;
BEGIN
    FOR r IN SELECT b FROM st_bodies LOOP
        len := octet_length(r.b::text);
        PERFORM pgmsg.alter_queue('st_small', max_message_size => len);
        PERFORM pgmsg.send('st_small', r.b);
        PERFORM pgmsg.alter_queue('st_small', max_message_size => len - 1);
        BEGIN
            PERFORM pgmsg.send('st_small', r.b);
            RAISE EXCEPTION 'a body of % bytes was accepted below its size: %', len, r.b;
        EXCEPTION WHEN program_limit_exceeded THEN
            NULL;
        END;
    END LOOP;
END
$$;
SELECT count(*) FROM pgmsg.q_st_small;
SELECT pgmsg.drop_queue('st_small');
-- the largest message allowed, at the default limit of 1 MiB
SELECT pgmsg.create_queue('st_big');
SELECT pgmsg.send('st_big', jsonb_build_object('p', repeat('x', 1048576 - 9))) > 0 AS sent;
SELECT pgmsg.send('st_big', jsonb_build_object('p', repeat('x', 1048576 - 8)));
SELECT length(body->>'p') FROM pgmsg.receive('st_big');
SELECT pgmsg.drop_queue('st_big');

--
-- send_batch
--
CREATE TEMP TABLE batch AS
SELECT id, ord FROM pgmsg.send_batch('st_q',
    ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}']::jsonb[],
    ARRAY['{"k": "one"}', NULL, '{"k": ["t", "h"]}']::jsonb[]) WITH ORDINALITY AS t(id, ord);
-- one id per body, increasing in the order of the bodies
SELECT count(*), count(DISTINCT id), array_agg(ord ORDER BY id) AS ords FROM batch;
SELECT * FROM sc;
SELECT r.body, r.attributes, r.message_id = b.id AS same_id
  FROM pgmsg.receive('st_q', 10) WITH ORDINALITY AS r
  JOIN batch b ON b.ord = r.ordinality
 ORDER BY r.ordinality;
SELECT pgmsg.purge_queue('st_q');
DROP TABLE batch;
-- an empty batch sends nothing
SELECT count(*) FROM pgmsg.send_batch('st_q', ARRAY[]::jsonb[]);
SELECT count(*) FROM pgmsg.send_batch('st_q', ARRAY[]::jsonb[], ARRAY[]::jsonb[]);
SELECT * FROM sc;
-- errors: nothing of the batch is sent
SELECT pgmsg.send_batch('st_q', NULL);
SELECT pgmsg.send_batch(NULL, ARRAY['{}']::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}', NULL]::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY[NULL, '{}']::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}', '{}']::jsonb[], ARRAY['{}']::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}']::jsonb[], ARRAY['{}', '{}']::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}']::jsonb[], ARRAY[]::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}', '{}']::jsonb[], ARRAY['{}', '[1]']::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}', '{}']::jsonb[], ARRAY['{"a": 1}', '{"a": {"b": 1}}']::jsonb[]);
SELECT pgmsg.send_batch('st_q', ARRAY['{}']::jsonb[], delay => '-1 second');
SELECT pgmsg.send_batch('st_q', ARRAY['{}']::jsonb[], delay => '16 minutes');
SELECT pgmsg.send_batch('st_q', ARRAY['{}']::jsonb[], group_ids => ARRAY['g']);
SELECT pgmsg.send_batch('st_q', ARRAY['{}']::jsonb[], dedup_ids => ARRAY['d']);
-- a batch holds at most 1000 messages, as publish_batch's does
SELECT pgmsg.send_batch('st_q', array_fill('{}'::jsonb, ARRAY[1001]));
SELECT * FROM sc;
SELECT count(*) FROM pgmsg.q_st_q;

-- other bad arguments of send
SELECT pgmsg.send(NULL, '{}');
SELECT pgmsg.send('st_q', NULL);
SELECT pgmsg.send('st_q', '{}', group_id => 'g');
SELECT pgmsg.send('st_q', '{}', dedup_id => 'd');
SELECT * FROM sc;

--
-- delay
--
SELECT pgmsg.send('st_q', '{"later": 1}', delay => '10 minutes') > 0 AS sent;
SELECT pgmsg.send('st_q', '{"later": 2}', delay => '15 minutes') > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('st_q', ARRAY['{"later": 3}', '{"later": 4}']::jsonb[],
                                      delay => '5 minutes');
SELECT pgmsg.send('st_q', '{"now": 1}', delay => '0') > 0 AS sent;
SELECT * FROM sc;
-- delayed messages are not received, and do not hold back later ones
SELECT body FROM pgmsg.receive('st_q', 10);
SELECT count(*) FROM pgmsg.receive('st_q', 10);
SELECT body, visible_at > sent_at + interval '4 minutes' AS delayed
  FROM pgmsg.q_st_q ORDER BY msg_id;
-- out of range
SELECT pgmsg.send('st_q', '{}', delay => '-1 second');
SELECT pgmsg.send('st_q', '{}', delay => '-1 microsecond');
SELECT pgmsg.send('st_q', '{}', delay => '15 minutes 1 microsecond');
SELECT pgmsg.send('st_q', '{}', delay => '1 hour');
SELECT pgmsg.send('st_q', '{}', delay => '1 month');
SELECT pgmsg.purge_queue('st_q');
-- a short delay passes
SELECT pgmsg.send('st_q', '{"soon": 1}', delay => '2 seconds') > 0 AS sent;
SELECT count(*) FROM pgmsg.receive('st_q', 10);
SELECT pg_sleep(2.2);
SELECT body, receive_count FROM pgmsg.receive('st_q', 10);
SELECT pgmsg.purge_queue('st_q');

-- the queue's delay is the default; delay => '0' overrides it
SELECT pgmsg.create_queue('st_delayed', delay => '10 minutes');
SELECT pgmsg.send('st_delayed', '{"d": "queue default"}') > 0 AS sent;
SELECT pgmsg.send('st_delayed', '{"d": "null"}', delay => NULL) > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('st_delayed', ARRAY['{"d": "batch default"}']::jsonb[]);
SELECT pgmsg.send('st_delayed', '{"d": "zero"}', delay => '0') > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('st_delayed', ARRAY['{"d": "batch zero"}']::jsonb[], delay => '0');
SELECT messages_visible, messages_delayed FROM pgmsg.queues WHERE name = 'st_delayed';
SELECT body FROM pgmsg.receive('st_delayed', 10);
SELECT pgmsg.drop_queue('st_delayed');

--
-- transactions
--
-- a rolled-back send is never received
BEGIN;
SELECT pgmsg.send('st_q', '{"rolled": "back"}') > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('st_q', ARRAY['{"rolled": "back too"}']::jsonb[]);
ROLLBACK;
SELECT * FROM sc;
SELECT count(*) FROM pgmsg.receive('st_q', 10);
SELECT count(*) FROM pgmsg.q_st_q;
-- a send in a failed transaction
BEGIN;
SELECT pgmsg.send('st_q', '{"failed": 1}') > 0 AS sent;
SELECT 1 / 0;
COMMIT;
SELECT count(*) FROM pgmsg.receive('st_q', 10);
-- a send rolled back to a savepoint; the others commit
BEGIN;
SELECT pgmsg.send('st_q', '{"sp": "a"}') > 0 AS sent;
SAVEPOINT s;
SELECT pgmsg.send('st_q', '{"sp": "b"}') > 0 AS sent;
ROLLBACK TO SAVEPOINT s;
SELECT pgmsg.send('st_q', '{"sp": "c"}') > 0 AS sent;
SAVEPOINT t;
SELECT pgmsg.send('st_q', '{"sp": "d"}') > 0 AS sent;
RELEASE SAVEPOINT t;
COMMIT;
SELECT * FROM sc;
SELECT body FROM pgmsg.receive('st_q', 10);
SELECT pgmsg.purge_queue('st_q');

-- the outbox pattern: the message exists if and only if the business row does
CREATE TABLE st_orders (id int PRIMARY KEY, item text NOT NULL);
BEGIN;
INSERT INTO st_orders VALUES (1, 'widget');
SELECT pgmsg.send('st_q', jsonb_build_object('order', id, 'item', item)) > 0 AS sent
  FROM st_orders WHERE id = 1;
COMMIT;
BEGIN;
INSERT INTO st_orders VALUES (2, 'gadget');
SELECT pgmsg.send('st_q', '{"order": 2}') > 0 AS sent;
ROLLBACK;
BEGIN;
SELECT pgmsg.send('st_q', '{"order": 1, "again": true}') > 0 AS sent;
INSERT INTO st_orders VALUES (1, 'duplicate');
COMMIT;
SELECT * FROM st_orders ORDER BY id;
SELECT body FROM pgmsg.receive('st_q', 10);
-- from a trigger
CREATE FUNCTION st_order_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgmsg.send('st_q', jsonb_build_object('order', NEW.id, 'item', NEW.item),
                     jsonb_build_object('table', TG_TABLE_NAME));
  RETURN NEW;
END $$;
CREATE TRIGGER st_orders_outbox AFTER INSERT ON st_orders
  FOR EACH ROW EXECUTE FUNCTION st_order_sent();
INSERT INTO st_orders VALUES (3, 'gizmo'), (4, 'doohickey');
BEGIN;
INSERT INTO st_orders VALUES (5, 'thingamajig');
ROLLBACK;
INSERT INTO st_orders VALUES (6, 'whatsit'), (3, 'duplicate');
SELECT id, item FROM st_orders ORDER BY id;
SELECT body, attributes FROM pgmsg.receive('st_q', 10);
SELECT * FROM sc;

-- clean up
DROP TABLE st_orders;
DROP FUNCTION st_order_sent();
DROP VIEW sc;
SELECT pgmsg.drop_queue('st_q');
