-- Topics: fan-out to subscribed queues through SNS filter policies.
SELECT pgmsg.create_queue('t_all');
SELECT pgmsg.create_queue('t_red');
SELECT pgmsg.create_queue('t_big');
SELECT pgmsg.create_queue('t_env');
SELECT pgmsg.create_queue('t_fifo', fifo => true);
SELECT pgmsg.create_queue('t_fifo2', fifo => true);
SELECT pgmsg.create_queue('t_spare');
SELECT pgmsg.create_topic('events');
SELECT pgmsg.create_topic('ordered', fifo => true);
SELECT pgmsg.create_topic('ordered_cbd', fifo => true, content_based_dedup => true);

-- create_topic: bad input changes nothing
SELECT pgmsg.create_topic('events');
SELECT pgmsg.create_topic('Events');
SELECT pgmsg.create_topic('a;drop table x');
SELECT pgmsg.create_topic(repeat('x', 49));
SELECT pgmsg.create_topic(NULL);
SELECT pgmsg.create_topic('nulls', fifo => NULL);
SELECT pgmsg.create_topic('nulls', content_based_dedup => NULL);
SELECT pgmsg.create_topic('cbd', content_based_dedup => true);
-- queues and topics share one namespace
SELECT pgmsg.create_topic('t_all');
SELECT pgmsg.create_queue('events');
SELECT name, fifo, content_based_dedup, subscriptions FROM pgmsg.topics ORDER BY name;

-- subscribe
SELECT pgmsg.subscribe('events', 't_all');
SELECT pgmsg.subscribe('events', 't_red', '{"color": ["red"]}');
SELECT pgmsg.subscribe('events', 't_big', '{"order": {"total": [{"numeric": [">=", 100]}]}}',
                       filter_policy_scope => 'MessageBody');
SELECT pgmsg.subscribe('events', 't_env', raw_message_delivery => false);
SELECT pgmsg.subscribe('ordered', 't_fifo');
SELECT pgmsg.subscribe('ordered_cbd', 't_fifo2');

-- subscribe: bad input
SELECT pgmsg.subscribe('events', 't_all');
SELECT pgmsg.subscribe('nope', 't_all');
SELECT pgmsg.subscribe('events', 'nope');
SELECT pgmsg.subscribe(NULL, 't_all');
SELECT pgmsg.subscribe('events', NULL);
SELECT pgmsg.subscribe('events', 't_fifo');
SELECT pgmsg.subscribe('ordered', 't_all');
SELECT pgmsg.subscribe('events', 't_fifo2', filter_policy_scope => NULL);
SELECT pgmsg.subscribe('events', 't_fifo2', raw_message_delivery => NULL);
CREATE TEMP TABLE bad_policies (note text, policy text, scope text DEFAULT 'MessageAttributes');
INSERT INTO bad_policies (note, policy) VALUES
  ('not an object',     '["red"]'),
  ('a scalar',          '"red"'),
  ('value not a list',  '{"color": "red"}'),
  ('empty list',        '{"color": []}'),
  ('unknown operator',  '{"color": [{"likeish": "r"}]}'),
  ('prefix of number',  '{"color": [{"prefix": 5}]}'),
  ('numeric bad op',    '{"n": [{"numeric": ["~", 5]}]}'),
  ('numeric string',    '{"n": [{"numeric": [">", "5"]}]}'),
  ('exists not bool',   '{"n": [{"exists": "yes"}]}'),
  ('bad cidr',          '{"ip": [{"cidr": "10.0.0.0/33"}]}'),
  ('nested in attrs',   '{"a": {"b": ["c"]}}'),
  ('six keys',          '{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}'),
  ('151 combinations',  '{"a": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16], "b": [1,2,3,4,5,6,7,8,9,10]}');
INSERT INTO bad_policies (note, policy, scope) VALUES
  ('too deep',          repeat('{"a": ', 20) || '["x"]' || repeat('}', 20), 'MessageBody'),
  ('bad scope',         '{"color": ["red"]}', 'MessageHeaders');
DO $$
DECLARE
  r record;
  d text;
BEGIN
  FOR r IN SELECT * FROM bad_policies LOOP
    BEGIN
      PERFORM pgmsg.subscribe('events', 't_spare', r.policy::jsonb, r.scope);
      RAISE NOTICE '%: accepted', r.note;
    EXCEPTION WHEN others THEN
      GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
      RAISE NOTICE '%: % (%) %', r.note, SQLERRM, SQLSTATE, d;
    END;
  END LOOP;
END $$;
SELECT pgmsg.subscribe('events', 't_spare', '{"color": ["red"}');
-- a valid policy after all those errors: nothing was stored for them
SELECT pgmsg.subscribe('events', 't_spare', '{"color": [{"anything-but": ["red", "blue"]}]}');
SELECT pgmsg.unsubscribe('events', 't_spare');
SELECT topic, protocol, endpoint, filter_policy, filter_policy_scope, raw_message_delivery
  FROM pgmsg.subscriptions ORDER BY subscription_id;

-- publish returns the number of copies; each matching queue gets one
SELECT pgmsg.publish('events', '{"order": {"total": 150}}', '{"color": "red"}');
SELECT pgmsg.publish('events', '{"order": {"total": 5}}', '{"color": "blue"}');
SELECT pgmsg.publish('events', '"plain text"');
SELECT name, messages_visible FROM pgmsg.queues WHERE name LIKE 't\_%' ORDER BY name;
SELECT body, attributes FROM pgmsg.receive('t_all', 10);
SELECT body, attributes FROM pgmsg.receive('t_red', 10);
SELECT body, attributes FROM pgmsg.receive('t_big', 10);

-- the SNS envelope
CREATE TEMP TABLE env AS SELECT body, attributes FROM pgmsg.receive('t_env', 10);
SELECT body->>'Type' AS type, body->>'TopicArn' AS topic_arn, body->>'Message' AS message,
       body->'MessageAttributes' AS message_attributes, attributes,
       body->>'MessageId' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid,
       (body->>'Timestamp')::timestamptz BETWEEN now() - interval '1 hour' AND now() + interval '1 hour' AS ts,
       body->>'Timestamp' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$' AS ts_format
  FROM env;
SELECT count(DISTINCT body->>'MessageId') FROM env;
SELECT pgmsg.publish('events', '{"a": 1}', '{"s": "x", "n": 2.50, "l": ["p", "q"]}');
SELECT body->'MessageAttributes' AS message_attributes, body->>'Message' AS message
  FROM pgmsg.receive('t_env', 10);

-- a rolled-back publish reaches no queue; a savepoint rolled back takes its copies
BEGIN;
SELECT pgmsg.publish('events', '{"rb": 1}', '{"color": "red"}');
ROLLBACK;
BEGIN;
SELECT pgmsg.publish('events', '{"sp": 1}', '{"color": "red"}');
SAVEPOINT s;
SELECT pgmsg.publish('events', '{"sp": 2}', '{"color": "red"}');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT body FROM pgmsg.receive('t_red', 10);
SELECT count(*) FROM pgmsg.receive('t_all', 10);
SELECT count(*) FROM pgmsg.receive('t_env', 10);

-- publish: bad input changes nothing
SELECT pgmsg.publish('nope', '{}');
SELECT pgmsg.publish(NULL, '{}');
SELECT pgmsg.publish('events', NULL);
SELECT pgmsg.publish('events', '{}', '[1]');
SELECT pgmsg.publish('events', '{}', '{"n": {"x": 1}}');
SELECT pgmsg.publish('events', '{}', group_id => 'g');
SELECT pgmsg.publish('events', '{}', dedup_id => 'd');
SELECT pgmsg.publish('ordered', '{}');
SELECT pgmsg.publish('ordered', '{}', group_id => '');
SELECT pgmsg.publish('ordered', '{}', group_id => 'g', dedup_id => repeat('d', 129));
SELECT pgmsg.publish('Events', '{}');
SELECT sum(messages_visible) FROM pgmsg.queues WHERE name LIKE 't\_%';

-- sizes: a topic takes messages of up to 256 KiB, and only queues that take
-- them too may subscribe, so no subscriber can fail another's copy
SELECT pgmsg.alter_queue('t_red', max_message_size => 262143);
SELECT pgmsg.alter_queue('t_red', max_message_size => 262144);
SELECT pgmsg.create_queue('t_small', max_message_size => 1000);
SELECT pgmsg.subscribe('events', 't_small');
SELECT pgmsg.alter_queue('t_small', max_message_size => 262144);
SELECT pgmsg.subscribe('events', 't_small');
SELECT pgmsg.unsubscribe('events', 't_small');
SELECT pgmsg.drop_queue('t_small');
BEGIN;
SELECT pgmsg.publish('events', jsonb_build_object('p', repeat('x', 262144 - 9)));
SELECT pgmsg.publish('events', jsonb_build_object('p', repeat('x', 262144 - 9 - 8)), '{"color": "red"}');
ROLLBACK;
SELECT pgmsg.publish('events', jsonb_build_object('p', repeat('x', 262144 - 9 - 7)), '{"color": "red"}');
SELECT pgmsg.publish_batch('events', ARRAY['{}', jsonb_build_object('p', repeat('x', 262144 - 8))]);
SELECT pgmsg.alter_queue('t_red', max_message_size => 1048576);
SELECT sum(messages_visible) FROM pgmsg.queues WHERE name LIKE 't\_%';

-- FIFO topics carry group and dedup ids; a repeated dedup id is not delivered again
SELECT pgmsg.publish('ordered', '{"n": 1}', group_id => 'g1', dedup_id => 'd1');
SELECT pgmsg.publish('ordered', '{"n": 1}', group_id => 'g1', dedup_id => 'd1');
SELECT pgmsg.publish('ordered', '{"n": 2}', group_id => 'g2');
SELECT body, group_id FROM pgmsg.receive('t_fifo', 10);
SELECT pgmsg.publish('ordered_cbd', '{"n": 1}', group_id => 'g1');
SELECT pgmsg.publish('ordered_cbd', '{"n": 1}', group_id => 'g1');
SELECT pgmsg.publish('ordered_cbd', '{"n": 2}', group_id => 'g1');
SELECT body, group_id FROM pgmsg.receive('t_fifo2', 10);

-- publish_batch
SELECT pgmsg.publish_batch('events', ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}']::jsonb[],
                           ARRAY['{"color": "red"}', NULL, '{"color": "green"}']::jsonb[]);
SELECT body FROM pgmsg.receive('t_red', 10);
SELECT body FROM pgmsg.receive('t_all', 10);
SELECT count(*) FROM pgmsg.receive('t_env', 10);
SELECT pgmsg.publish_batch('events', ARRAY[]::jsonb[]);
SELECT pgmsg.publish_batch('events', NULL);
SELECT pgmsg.publish_batch('events', ARRAY['{}', NULL]::jsonb[]);
SELECT pgmsg.publish_batch('events', ARRAY['{}']::jsonb[], ARRAY['{}', '{}']::jsonb[]);
SELECT pgmsg.publish_batch('events', ARRAY['{}', '{}']::jsonb[], ARRAY['{}', '[]']::jsonb[]);
SELECT pgmsg.publish_batch('ordered', ARRAY['{"x": 1}', '{"x": 2}']::jsonb[],
                           group_ids => ARRAY['g', NULL]);
SELECT pgmsg.publish_batch('ordered', ARRAY['{"x": 1}', '{"x": 2}']::jsonb[],
                           group_ids => ARRAY['g', 'g'], dedup_ids => ARRAY['x1', 'x1']);
SELECT body, group_id FROM pgmsg.receive('t_fifo', 10);
SELECT pgmsg.publish_batch('events', array_fill('{}'::jsonb, ARRAY[1001]));
SELECT sum(messages_visible) FROM pgmsg.queues WHERE name LIKE 't\_%';

-- unsubscribe: the next publish no longer reaches the queue
SELECT pgmsg.unsubscribe('events', 't_red');
SELECT pgmsg.unsubscribe('events', 't_red');
SELECT pgmsg.unsubscribe('nope', 't_red');
SELECT pgmsg.unsubscribe('events', 'nope');
SELECT pgmsg.unsubscribe('events', NULL);
SELECT pgmsg.publish('events', '{}', '{"color": "red"}');
SELECT count(*) FROM pgmsg.receive('t_red', 10);

-- dropping a queue removes its subscriptions
SELECT pgmsg.drop_queue('t_big');
SELECT topic, endpoint FROM pgmsg.subscriptions ORDER BY subscription_id;
SELECT pgmsg.publish('events', '{"order": {"total": 500}}');

-- a topic without subscriptions accepts messages and delivers none
SELECT pgmsg.create_topic('lonely');
SELECT pgmsg.publish('lonely', '{}');
SELECT pgmsg.publish_batch('lonely', ARRAY['{}', '{}']::jsonb[]);

-- publish_trigger: row changes of an existing table feed a topic
CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric);
SELECT pgmsg.create_queue('t_changes');
SELECT pgmsg.create_queue('t_deletes');
SELECT pgmsg.create_topic('account_changes');
SELECT pgmsg.subscribe('account_changes', 't_changes');
SELECT pgmsg.subscribe('account_changes', 't_deletes', '{"operation": ["DELETE"]}');
CREATE TRIGGER accounts_publish AFTER INSERT OR UPDATE OR DELETE ON accounts
  FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('account_changes');
INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20);
UPDATE accounts SET balance = balance + 5 WHERE id = 1;
DELETE FROM accounts WHERE id = 2;
BEGIN;
INSERT INTO accounts VALUES (3, 'cat', 30);
ROLLBACK;
SELECT body, attributes FROM pgmsg.receive('t_changes', 10);
SELECT body->'old' AS old FROM pgmsg.receive('t_deletes', 10);
-- a BEFORE trigger still changes the row as the statement asked
CREATE TABLE notes (id int, note text);
CREATE TRIGGER notes_publish BEFORE INSERT OR UPDATE ON notes
  FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('account_changes');
INSERT INTO notes VALUES (1, 'hello');
UPDATE notes SET note = 'bye';
SELECT * FROM notes;
SELECT body->'new' AS new, attributes->>'operation' AS op FROM pgmsg.receive('t_changes', 10);
-- a FIFO topic groups by table
CREATE TABLE ledger (id int);
SELECT pgmsg.create_queue('t_ledger', fifo => true);
SELECT pgmsg.subscribe('ordered', 't_ledger');
CREATE TRIGGER ledger_publish AFTER INSERT ON ledger
  FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('ordered');
INSERT INTO ledger VALUES (1), (2);
SELECT body->'new' AS new, group_id FROM pgmsg.receive('t_ledger', 10);
-- misuse
SELECT pgmsg.publish_trigger();
CREATE TRIGGER notes_stmt AFTER INSERT ON notes
  FOR EACH STATEMENT EXECUTE FUNCTION pgmsg.publish_trigger('account_changes');
INSERT INTO notes VALUES (2, 'x');
DROP TRIGGER notes_stmt ON notes;
CREATE TRIGGER notes_noarg AFTER INSERT ON notes
  FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger();
INSERT INTO notes VALUES (3, 'x');
DROP TRIGGER notes_noarg ON notes;
CREATE TRIGGER notes_unknown AFTER INSERT ON notes
  FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('no_such_topic');
INSERT INTO notes VALUES (4, 'x');
DROP TRIGGER notes_unknown ON notes;
SELECT count(*) FROM notes;

-- privileges
CREATE ROLE topic_pub;
CREATE ROLE topic_sub;
GRANT CREATE ON DATABASE contrib_regression TO topic_sub;
GRANT INSERT ON accounts TO topic_pub;
SET ROLE topic_pub;
SELECT pgmsg.publish('events', '{}');
SELECT pgmsg.create_topic('nope');
RESET ROLE;
SELECT pgmsg.grant('events', 'topic_pub', ARRAY['publish']);
SELECT pgmsg.grant('events', 'topic_pub', ARRAY['send']);
SELECT pgmsg.grant('t_all', 'topic_pub', ARRAY['publish']);
SELECT pgmsg.grant('nothing', 'topic_pub', ARRAY['publish']);
SET ROLE topic_pub;
SELECT pgmsg.publish('events', '{"by": "topic_pub"}');
SELECT pgmsg.subscribe('events', 't_red');
SELECT pgmsg.drop_topic('events');
INSERT INTO accounts VALUES (9, 'pub', 0);
RESET ROLE;
-- subscribing needs "subscribe" on the topic and "manage" on the queue
SET ROLE topic_sub;
SELECT pgmsg.create_queue('t_mine');
SELECT pgmsg.subscribe('events', 't_mine');
RESET ROLE;
SELECT pgmsg.grant('events', 'topic_sub', ARRAY['subscribe']);
SET ROLE topic_sub;
SELECT pgmsg.subscribe('events', 't_mine');
SELECT pgmsg.subscribe('events', 't_red');
SELECT pgmsg.unsubscribe('events', 't_mine');
SELECT pgmsg.subscribe('events', 't_mine');
RESET ROLE;
SELECT pgmsg.revoke('events', 'topic_pub', ARRAY['publish']);
SET ROLE topic_pub;
SELECT pgmsg.publish('events', '{}');
RESET ROLE;
-- the publish trigger publishes with the privileges of the role changing the row
SET ROLE topic_pub;
INSERT INTO accounts VALUES (10, 'pub', 0);
RESET ROLE;
SELECT pgmsg.grant('account_changes', 'topic_pub', ARRAY['publish']);
SET ROLE topic_pub;
INSERT INTO accounts VALUES (10, 'pub', 0);
RESET ROLE;
SELECT body->'new' AS new FROM pgmsg.receive('t_changes', 10);
-- the backing tables stay closed
SET ROLE topic_pub;
SELECT count(*) FROM pgmsg.subscription;
SELECT count(*) FROM pgmsg.topic_meta;
-- and the view shows only the topics the role has a right on
SELECT name, subscriptions FROM pgmsg.topics ORDER BY name;
RESET ROLE;

-- drop_topic
SELECT pgmsg.drop_topic('lonely');
SELECT pgmsg.drop_topic('lonely');
SELECT pgmsg.drop_topic('lonely', if_exists => true);
SELECT pgmsg.drop_topic(NULL);
SELECT pgmsg.drop_topic('events');
SELECT pgmsg.publish('events', '{}');
SELECT count(*) FROM pgmsg.subscriptions WHERE topic = 'events';
-- the queues stay
SELECT name FROM pgmsg.queues WHERE name LIKE 't\_%' ORDER BY name;

-- clean up
SELECT count(pgmsg.drop_topic(name)) FROM pgmsg.topics;
SELECT count(pgmsg.drop_queue(name)) FROM pgmsg.queues WHERE name LIKE 't\_%';
DROP TABLE accounts, notes, ledger;
REVOKE CREATE ON DATABASE contrib_regression FROM topic_sub;
DROP ROLE topic_pub, topic_sub;
