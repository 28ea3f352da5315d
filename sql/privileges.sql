-- pgmsg's own privileges, and no direct access to its tables.
CREATE ROLE pgmsg_test_owner;
CREATE ROLE pgmsg_test_app;
CREATE ROLE pgmsg_test_member IN ROLE pgmsg_test_owner;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_test_owner;

SET ROLE pgmsg_test_owner;
SELECT pgmsg.create_queue('acl_q');
SELECT pgmsg.send('acl_q', '{"n": 1}') > 0 AS owner_sends;
SELECT owner FROM pgmsg.queues WHERE name = 'acl_q';
RESET ROLE;

-- a role without grants can do nothing with the queue
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('acl_q', '{}');
SELECT * FROM pgmsg.receive('acl_q');
SELECT pgmsg.delete('acl_q', repeat('0', 56));
SELECT pgmsg.change_visibility('acl_q', repeat('0', 56), '0');
SELECT pgmsg.purge_queue('acl_q');
SELECT pgmsg.alter_queue('acl_q', delay => '1 second');
SELECT pgmsg.drop_queue('acl_q');
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY['send']);
SELECT pgmsg.redrive('acl_q');
-- nor touch the tables behind it
SELECT * FROM pgmsg.q_acl_q;
INSERT INTO pgmsg.q_acl_q (visible_at, sent_at, body) VALUES (now(), now(), '{}');
UPDATE pgmsg.q_acl_q SET receive_count = 0;
DELETE FROM pgmsg.q_acl_q;
SELECT * FROM pgmsg.queue_meta;
INSERT INTO pgmsg.queue_grants VALUES (1, 1, 'send');
DELETE FROM pgmsg.queue_grants;
UPDATE pgmsg.queue_meta SET owner = 0;
-- nor create queues without CREATE on the database
SELECT pgmsg.create_queue('app_q');
-- the view is readable
SELECT name FROM pgmsg.queues;
RESET ROLE;

-- send does not allow receive
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY['send']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('acl_q', '{"n": 2}') > 0 AS app_sends;
SELECT * FROM pgmsg.receive('acl_q');
SELECT pgmsg.purge_queue('acl_q');
RESET ROLE;

-- receive covers receive, delete and change_visibility
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY['receive']);
RESET ROLE;
SET ROLE pgmsg_test_app;
CREATE TEMP TABLE got AS SELECT body, receipt FROM pgmsg.receive('acl_q', 10);
SELECT body FROM got ORDER BY body->>'n';
SELECT pgmsg.change_visibility('acl_q', array_agg(receipt), '1 minute') FROM got;
SELECT pgmsg.delete('acl_q', array_agg(receipt)) FROM got;
SELECT pgmsg.drop_queue('acl_q');
RESET ROLE;

-- revoke takes effect at once
SET ROLE pgmsg_test_owner;
SELECT pgmsg.revoke('acl_q', 'pgmsg_test_app', ARRAY['send', 'receive']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('acl_q', '{}');
SELECT * FROM pgmsg.receive('acl_q');
RESET ROLE;

-- grants to public reach everybody; manage allows management
SET ROLE pgmsg_test_owner;
SELECT pgmsg.grant('acl_q', 'public', ARRAY['send']);
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY['manage']);
RESET ROLE;
SET ROLE pgmsg_test_app;
SELECT pgmsg.send('acl_q', '{"n": 3}') > 0 AS public_sends;
SELECT pgmsg.alter_queue('acl_q', delay => '0');
SELECT pgmsg.purge_queue('acl_q');
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY['receive']);
SELECT count(*) FROM pgmsg.receive('acl_q');
RESET ROLE;

-- members of the owning role own the queue too
SET ROLE pgmsg_test_member;
SELECT pgmsg.send('acl_q', '{"n": 4}') > 0 AS member_sends;
RESET ROLE;

-- bad grants
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY['bogus']);
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY[]::text[]);
SELECT pgmsg.grant('acl_q', 'pgmsg_test_app', ARRAY[NULL]::text[]);
SELECT pgmsg.grant('acl_q', 'no_such_role', ARRAY['send']);

-- manage allows drop
SET ROLE pgmsg_test_app;
SELECT pgmsg.drop_queue('acl_q');
RESET ROLE;

DROP TABLE got;
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_test_owner;
DROP ROLE pgmsg_test_member;
DROP ROLE pgmsg_test_app;
DROP ROLE pgmsg_test_owner;
