-- pgmsg's own privileges, and no direct access to its tables.

-- For the test, PUBLIC must not have CREATE on the database; put it back at
-- the end if it had it.
SELECT EXISTS (
  SELECT 1 FROM pg_database d,
         aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
   WHERE d.datname = current_database() AND a.grantee = 0
     AND a.privilege_type = 'CREATE') AS public_had_create \gset
\if :public_had_create
REVOKE CREATE ON DATABASE :"DBNAME" FROM PUBLIC;
\endif

CREATE ROLE pgmsg_test_owner;
CREATE ROLE pgmsg_test_app;
CREATE ROLE pgmsg_test_manager;
CREATE ROLE pgmsg_test_other;
CREATE ROLE pgmsg_test_member IN ROLE pgmsg_test_owner;
CREATE ROLE pgmsg_test_noinherit NOINHERIT IN ROLE pgmsg_test_owner;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_test_owner;

-- the creator owns the queue and may do everything with it
SET ROLE pgmsg_test_owner;
SELECT pgmsg.create_queue('pt_q', visibility_timeout => '1 hour');
SELECT owner FROM pgmsg.queues WHERE name = 'pt_q';
SELECT pgmsg.send('pt_q', '{"owner": 1}') > 0 AS sent;
SELECT pgmsg.delete('pt_q', receipt) FROM pgmsg.receive('pt_q');
SELECT pgmsg.alter_queue('pt_q', delay => '0');
SELECT pgmsg.purge_queue('pt_q');
-- but not touch the tables behind it
SELECT count(*) FROM pgmsg.q_pt_q;
SELECT count(*) FROM pgmsg.queue_meta;
RESET ROLE;

--
-- a role without grants can do nothing with the queue
--
SELECT pgmsg.send('pt_q', '{"n": 1}') > 0 AS sent;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{}');
SELECT pgmsg.send_batch('pt_q', ARRAY['{}']::jsonb[]);
SELECT * FROM pgmsg.receive('pt_q');
SELECT * FROM pgmsg.receive('pt_q', 0);
SELECT pgmsg.delete('pt_q', repeat('0', 56));
SELECT pgmsg.delete('pt_q', 'garbage');
SELECT pgmsg.delete('pt_q', ARRAY[repeat('0', 56)]);
SELECT pgmsg.change_visibility('pt_q', repeat('0', 56), '0');
SELECT pgmsg.change_visibility('pt_q', ARRAY[repeat('0', 56)], '0');
SELECT pgmsg.purge_queue('pt_q');
SELECT pgmsg.alter_queue('pt_q', delay => '1 second');
SELECT pgmsg.alter_queue('pt_q');
SELECT pgmsg.drop_queue('pt_q');
SELECT pgmsg.drop_queue('pt_q', if_exists => true);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.redrive('pt_q');
SELECT pgmsg.start_redrive('pt_q');
SELECT pgmsg.start_worker();
-- nor touch the tables behind it
SELECT * FROM pgmsg.q_pt_q;
SELECT msg_id FROM pgmsg.q_pt_q;
INSERT INTO pgmsg.q_pt_q (visible_at, sent_at, body) VALUES (now(), now(), '{}');
UPDATE pgmsg.q_pt_q SET receive_count = 0;
DELETE FROM pgmsg.q_pt_q;
TRUNCATE pgmsg.q_pt_q;
SELECT nextval('pgmsg.q_pt_q_msg_id_seq');
SELECT * FROM pgmsg.queue_meta;
INSERT INTO pgmsg.queue_meta (name, owner, visibility_timeout, delay, retention,
    max_message_size, fifo, content_based_dedup, notify)
  VALUES ('evil', 0, '0', '0', '1 day', 1, false, false, false);
UPDATE pgmsg.queue_meta SET owner = 0;
DELETE FROM pgmsg.queue_meta;
SELECT * FROM pgmsg.queue_grants;
INSERT INTO pgmsg.queue_grants VALUES (1, 1, 'send');
UPDATE pgmsg.queue_grants SET grantee = 0;
DELETE FROM pgmsg.queue_grants;
SELECT * FROM pgmsg.dedup;
SELECT * FROM pgmsg.redrive_task;
SELECT nextval('pgmsg.queue_id_seq');
-- nor create queues without CREATE on the database
SELECT pgmsg.create_queue('pt_app');
-- the view is readable, but shows only what the role has some right on
SELECT name, owner, messages_visible FROM pgmsg.queues WHERE name = 'pt_q';
RESET ROLE;
SELECT count(*) FROM pgmsg.q_pt_q;
SELECT count(*) FROM pgmsg.queue_meta WHERE name = 'pt_q';

--
-- send allows send, nothing else
--
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{"n": 2}') > 0 AS sent;
SELECT count(*) FROM pgmsg.send_batch('pt_q', ARRAY['{"n": 3}']::jsonb[]);
SELECT * FROM pgmsg.receive('pt_q');
SELECT pgmsg.delete('pt_q', repeat('0', 56));
SELECT pgmsg.change_visibility('pt_q', repeat('0', 56), '0');
SELECT pgmsg.purge_queue('pt_q');
SELECT pgmsg.alter_queue('pt_q', delay => '1 second');
SELECT pgmsg.drop_queue('pt_q');
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['receive']);
SELECT * FROM pgmsg.q_pt_q;
RESET ROLE;

--
-- receive allows receive, delete and change_visibility
--
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['receive']);
-- granting again is harmless
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['receive', 'receive']);
RESET ROLE;
SET ROLE pgmsg_test_app;
CREATE TEMP TABLE got AS SELECT body, receipt FROM pgmsg.receive('pt_q', 10);
SELECT body FROM got ORDER BY body->>'n';
SELECT pgmsg.change_visibility('pt_q', receipt, '0') FROM got WHERE body = '{"n": 1}';
SELECT pgmsg.change_visibility('pt_q', array_agg(receipt), '1 minute') FROM got WHERE body <> '{"n": 1}';
SELECT pgmsg.delete('pt_q', receipt) FROM got WHERE body = '{"n": 2}';
SELECT pgmsg.delete('pt_q', array_agg(receipt)) FROM got WHERE body = '{"n": 3}';
SELECT body, receive_count FROM pgmsg.receive('pt_q', 10);
SELECT pgmsg.send('pt_q', '{"n": 4}') > 0 AS sent;
SELECT pgmsg.purge_queue('pt_q');
SELECT pgmsg.alter_queue('pt_q', delay => '1 second');
SELECT pgmsg.drop_queue('pt_q');
SELECT pgmsg.grant('pt_q', 'pgmsg_test_other', ARRAY['receive']);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['receive']);
DELETE FROM pgmsg.q_pt_q;
SELECT receipt AS app_receipt FROM got WHERE body = '{"n": 1}' \gset
RESET ROLE;
-- a receipt is no use to a role without receive
SET ROLE pgmsg_test_other;
SELECT pgmsg.delete('pt_q', :'app_receipt');
SELECT pgmsg.change_visibility('pt_q', :'app_receipt', '0');
RESET ROLE;

--
-- revoke takes effect at once
--
SET ROLE pgmsg_test_owner;
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['send']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{}');
SELECT count(*) FROM pgmsg.receive('pt_q', 10);
RESET ROLE;
SET ROLE pgmsg_test_owner;
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['receive']);
-- revoking what was not granted is harmless
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['send', 'receive', 'manage']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT * FROM pgmsg.receive('pt_q');
SELECT pgmsg.delete('pt_q', receipt) FROM got;
RESET ROLE;
-- grants and revokes are transactional, and take effect within the transaction
BEGIN;
SET LOCAL ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send']);
SET LOCAL ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{"n": 5}') > 0 AS sent;
SET LOCAL ROLE pgmsg_test_owner;
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['send']);
SET LOCAL ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{}');
ROLLBACK;
BEGIN;
SET LOCAL ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send']);
ROLLBACK;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{}');
RESET ROLE;
DROP TABLE got;

--
-- manage allows alter, purge, drop, grant and revoke, but not send or receive
--
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_q', 'pgmsg_test_manager', ARRAY['manage']);
RESET ROLE;
SET ROLE pgmsg_test_manager;
SELECT pgmsg.send('pt_q', '{}');
SELECT * FROM pgmsg.receive('pt_q');
SELECT pgmsg.alter_queue('pt_q', visibility_timeout => '5 minutes');
SELECT visibility_timeout FROM pgmsg.queues WHERE name = 'pt_q';
SELECT pgmsg.purge_queue('pt_q');
SELECT pgmsg.grant('pt_q', 'pgmsg_test_manager', ARRAY['send', 'receive']);
SELECT pgmsg.send('pt_q', '{"n": 6}') > 0 AS sent;
SELECT body FROM pgmsg.receive('pt_q');
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_manager', ARRAY['send', 'receive']);
SELECT pgmsg.send('pt_q', '{}');
-- still no access to the tables
SELECT * FROM pgmsg.q_pt_q;
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{"n": 7}') > 0 AS sent;
RESET ROLE;

--
-- grants to PUBLIC reach every role
--
SET ROLE pgmsg_test_other;
SELECT pgmsg.send('pt_q', '{}');
RESET ROLE;
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_q', 'public', ARRAY['send', 'receive']);
RESET ROLE;
SET ROLE pgmsg_test_other;
SELECT pgmsg.send('pt_q', '{"n": 8}') > 0 AS sent;
SELECT body FROM pgmsg.receive('pt_q', 10);
SELECT pgmsg.purge_queue('pt_q');
RESET ROLE;
SET ROLE pgmsg_test_owner;
SELECT pgmsg.revoke('pt_q', 'public', ARRAY['send', 'receive']);
RESET ROLE;
SET ROLE pgmsg_test_other;
SELECT pgmsg.send('pt_q', '{}');
RESET ROLE;

--
-- role membership
--
-- members of the owning role own the queue; NOINHERIT members do not
SET ROLE pgmsg_test_member;
SELECT pgmsg.send('pt_q', '{"n": 9}') > 0 AS sent;
SELECT pgmsg.alter_queue('pt_q', visibility_timeout => '1 hour');
RESET ROLE;
SET ROLE pgmsg_test_noinherit;
SELECT pgmsg.send('pt_q', '{}');
RESET ROLE;
-- a role's grants reach its members, from the moment it is granted
SET ROLE pgmsg_test_other;
SELECT pgmsg.send('pt_q', '{}');
RESET ROLE;
GRANT pgmsg_test_app TO pgmsg_test_other;
SET ROLE pgmsg_test_other;
SELECT pgmsg.send('pt_q', '{"n": 10}') > 0 AS sent;
RESET ROLE;
REVOKE pgmsg_test_app FROM pgmsg_test_other;
SET ROLE pgmsg_test_other;
SELECT pgmsg.send('pt_q', '{}');
RESET ROLE;

--
-- bad grants
--
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['bogus']);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send', 'bogus']);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['SEND']);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['']);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['all']);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY[]::text[]);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY[NULL]::text[]);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', ARRAY['send', NULL]);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_app', NULL);
SELECT pgmsg.grant('pt_q', NULL, ARRAY['send']);
SELECT pgmsg.grant(NULL, 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.grant('pt_q', 'pgmsg_test_nobody', ARRAY['send']);
SELECT pgmsg.grant('pt_nope', 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY['bogus']);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY[]::text[]);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', ARRAY[NULL]::text[]);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_app', NULL);
SELECT pgmsg.revoke('pt_q', NULL, ARRAY['send']);
SELECT pgmsg.revoke(NULL, 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.revoke('pt_q', 'pgmsg_test_nobody', ARRAY['send']);
-- nothing changed: the app may still send, and only send
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('pt_q', '{"n": 11}') > 0 AS sent;
SELECT * FROM pgmsg.receive('pt_q');
RESET ROLE;

-- superusers may do everything with any queue
SELECT body FROM pgmsg.receive('pt_q', 10);
SELECT pgmsg.purge_queue('pt_q');

--
-- CREATE on the database allows creating queues
--
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_test_app;
SET ROLE pgmsg_test_app;
SELECT pgmsg.create_queue('pt_app');
SELECT owner FROM pgmsg.queues WHERE name = 'pt_app';
SELECT pgmsg.send('pt_app', '{"app": 1}') > 0 AS sent;
SELECT body FROM pgmsg.receive('pt_app');
RESET ROLE;
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_test_app;
SET ROLE pgmsg_test_app;
-- the queue stays the app's; a new one needs CREATE
SELECT pgmsg.purge_queue('pt_app');
SELECT pgmsg.create_queue('pt_app2');
SELECT pgmsg.drop_queue('pt_app');
RESET ROLE;

--
-- manage allows drop
--
SET ROLE pgmsg_test_manager;
SELECT pgmsg.drop_queue('pt_q');
RESET ROLE;
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pt\_%';
SELECT count(*) FROM pgmsg.queue_grants g
 WHERE NOT EXISTS (SELECT 1 FROM pgmsg.queue_meta m WHERE m.queue_id = g.queue_id);

--
-- a role that owns queues cannot be dropped (roles.sql has more); REASSIGN
-- OWNED hands them over, and holders of manage still manage them
--
CREATE ROLE pgmsg_test_gone;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_test_gone;
SET ROLE pgmsg_test_gone;
SELECT pgmsg.create_queue('pt_orphan');
SELECT pgmsg.create_queue('pt_orphan2');
SELECT pgmsg.grant('pt_orphan', 'pgmsg_test_manager', ARRAY['manage', 'send']);
RESET ROLE;
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_test_gone;
DROP ROLE pgmsg_test_gone;
REASSIGN OWNED BY pgmsg_test_gone TO pgmsg_test_owner;
DROP ROLE pgmsg_test_gone;
SELECT name, owner FROM pgmsg.queues
 WHERE name LIKE 'pt\_orphan%' ORDER BY name;
SET ROLE pgmsg_test_manager;
SELECT pgmsg.alter_queue('pt_orphan', delay => '1 second');
SELECT pgmsg.send('pt_orphan', '{}') > 0 AS sent;
SELECT pgmsg.purge_queue('pt_orphan');
SELECT pgmsg.drop_queue('pt_orphan');
SELECT pgmsg.drop_queue('pt_orphan2');
RESET ROLE;
SELECT pgmsg.alter_queue('pt_orphan2', delay => '1 second');
SELECT pgmsg.drop_queue('pt_orphan2');
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pt\_orphan%';

--
-- the views show a role only the objects it owns (through membership) or
-- holds some privilege on, directly or through PUBLIC; superusers see all
--
SET ROLE pgmsg_test_owner;
SELECT pgmsg.create_queue('pt_seen');
SELECT pgmsg.create_queue('pt_hidden');
-- pt_seen is a dead-letter queue, so it may be redriven without a destination
SELECT pgmsg.create_queue('dlsrc_pt', dead_letter_queue => 'pt_seen', max_receive_count => 3);
SELECT pgmsg.create_topic('pt_topic');
SELECT pgmsg.subscribe('pt_topic', 'pt_hidden');
SELECT pgmsg.grant('pt_seen', 'pgmsg_test_other', ARRAY['receive']);
RESET ROLE;
SET ROLE pgmsg_test_other;
SELECT name, owner FROM pgmsg.queues WHERE name LIKE 'pt\_%' ORDER BY name;
SELECT name FROM pgmsg.topics WHERE name LIKE 'pt\_%';
SELECT topic, endpoint FROM pgmsg.subscriptions WHERE topic = 'pt_topic';
SELECT pgmsg.start_redrive('pt_seen') > 0 AS started;
SELECT dead_letter_queue, started_by FROM pgmsg.redrive_tasks WHERE dead_letter_queue = 'pt_seen';
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pt\_%';
SELECT count(*) FROM pgmsg.redrive_tasks WHERE dead_letter_queue = 'pt_seen';
RESET ROLE;
SET ROLE pgmsg_test_member;
SELECT name FROM pgmsg.queues WHERE name LIKE 'pt\_%' ORDER BY name;
SELECT name FROM pgmsg.topics WHERE name LIKE 'pt\_%';
SELECT topic, endpoint FROM pgmsg.subscriptions WHERE topic = 'pt_topic';
SELECT count(*) FROM pgmsg.redrive_tasks WHERE dead_letter_queue = 'pt_seen';
RESET ROLE;
-- without inheritance, membership shows nothing
SET ROLE pgmsg_test_noinherit;
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pt\_%';
RESET ROLE;
-- a grant to PUBLIC shows the topic, and its subscriptions, to everybody
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_topic', 'public', ARRAY['publish']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT name FROM pgmsg.topics WHERE name LIKE 'pt\_%';
SELECT topic, endpoint FROM pgmsg.subscriptions WHERE topic = 'pt_topic';
RESET ROLE;
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pt\_%';
SELECT pgmsg.drop_topic('pt_topic');
SELECT pgmsg.drop_queue('dlsrc_pt');
SELECT pgmsg.drop_queue('pt_seen');
SELECT pgmsg.drop_queue('pt_hidden');

--
-- revoking a right undoes what it set up: a subscription whose owner no
-- longer holds subscribe on the topic gets no copies, until it is granted
-- again; the subscription stays listed
--
SET ROLE pgmsg_test_owner;
SELECT pgmsg.create_topic('pt_rt');
SELECT pgmsg.grant('pt_rt', 'pgmsg_test_other', ARRAY['subscribe']);
RESET ROLE;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_test_other;
SET ROLE pgmsg_test_other;
SELECT pgmsg.create_queue('pt_other_q');
SELECT pgmsg.subscribe('pt_rt', 'pt_other_q');
RESET ROLE;
SELECT pgmsg.publish('pt_rt', '{"before": "revoke subscribe"}');
SET ROLE pgmsg_test_owner;
SELECT pgmsg.revoke('pt_rt', 'pgmsg_test_other', ARRAY['subscribe']);
RESET ROLE;
SELECT pgmsg.publish('pt_rt', '{"after": "revoke subscribe"}');
SELECT topic, endpoint FROM pgmsg.subscriptions WHERE topic = 'pt_rt';
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('pt_rt', 'pgmsg_test_other', ARRAY['manage']);
RESET ROLE;
SELECT pgmsg.publish('pt_rt', '{"after": "grant manage"}');
SELECT body FROM pgmsg.receive('pt_other_q', 10) ORDER BY message_id;
SELECT pgmsg.drop_topic('pt_rt');
SELECT pgmsg.drop_queue('pt_other_q');
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_test_other;

REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_test_owner;
DROP ROLE pgmsg_test_member;
DROP ROLE pgmsg_test_noinherit;
DROP ROLE pgmsg_test_other;
DROP ROLE pgmsg_test_manager;
DROP ROLE pgmsg_test_app;
DROP ROLE pgmsg_test_owner;
\if :public_had_create
GRANT CREATE ON DATABASE :"DBNAME" TO PUBLIC;
\endif
