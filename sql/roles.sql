-- Roles that own pgmsg objects or hold privileges on them: DROP ROLE
-- refuses, REASSIGN OWNED and DROP OWNED take care of them, as PostgreSQL
-- does for its own objects.

CREATE ROLE pgmsg_role_alice;
CREATE ROLE pgmsg_role_bob;
CREATE ROLE pgmsg_role_carol;
CREATE ROLE pgmsg_role_idle;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_role_alice, pgmsg_role_carol;

SET ROLE pgmsg_role_alice;
SELECT pgmsg.create_queue('ro_dlq');
SELECT pgmsg.create_queue('ro_q', dead_letter_queue => 'ro_dlq', max_receive_count => 3);
SELECT pgmsg.create_topic('ro_t');
SELECT pgmsg.subscribe('ro_t', 'ro_q');
SELECT pgmsg.grant('ro_q', 'pgmsg_role_bob', ARRAY['send', 'receive']);
SELECT pgmsg.grant('ro_t', 'pgmsg_role_bob', ARRAY['publish']);
SELECT pgmsg.send('ro_q', '{"n": 1}') > 0 AS sent;
RESET ROLE;
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_role_alice;

-- DROP ROLE refuses while the role owns pgmsg objects or holds privileges
-- on them, and changes nothing
DROP ROLE pgmsg_role_alice;
DROP ROLE pgmsg_role_bob;
DROP ROLE pgmsg_role_idle, pgmsg_role_bob;
-- from another database too, which cannot see pgmsg's tables here
\set test_db :DBNAME
\c postgres
DROP ROLE pgmsg_role_alice;
DROP ROLE pgmsg_role_bob;
\c :test_db
SELECT rolname FROM pg_roles WHERE rolname LIKE 'pgmsg\_role\_%' ORDER BY 1;
SELECT name, owner FROM pgmsg.queues WHERE name LIKE 'ro\_%' ORDER BY name;
-- a role that may not drop the role learns nothing about pgmsg's objects
SET ROLE pgmsg_role_bob;
DROP ROLE pgmsg_role_alice;
RESET ROLE;
-- a role that owns nothing goes, as do roles that do not exist
DROP ROLE pgmsg_role_idle;
DROP ROLE IF EXISTS pgmsg_role_nobody;

-- REASSIGN OWNED hands queues, topics and subscriptions over
REASSIGN OWNED BY pgmsg_role_alice TO pgmsg_role_carol;
SELECT name, owner FROM pgmsg.queues WHERE name LIKE 'ro\_%' ORDER BY name;
SELECT name, owner FROM pgmsg.topics WHERE name = 'ro_t';
SELECT topic, endpoint, owner FROM pgmsg.subscriptions WHERE topic = 'ro_t';
DROP ROLE pgmsg_role_alice;
-- the new owner may do everything with them at once
SET ROLE pgmsg_role_carol;
SELECT body FROM pgmsg.receive('ro_q');
SELECT pgmsg.alter_queue('ro_q', visibility_timeout => '1 minute');
-- (push subscriptions by a role that is not a superuser, too)
SELECT pgmsg.subscribe_http('ro_t', 'https://example.com/ro') > 0 AS subscribed;
SELECT pgmsg.subscribe_http('ro_t', 'https://example.com/ro2') > 0 AS subscribed;
SELECT pgmsg.unsubscribe_push('ro_t', 'https://example.com/ro2');
RESET ROLE;
SELECT count(*) FROM pgmsg.queues WHERE owner = 'pgmsg_role_carol';

-- DROP OWNED revokes the role's privileges
SET ROLE pgmsg_role_bob;
SELECT pgmsg.send('ro_q', '{"n": 2}') > 0 AS sent;
RESET ROLE;
DROP OWNED BY pgmsg_role_bob;
SET ROLE pgmsg_role_bob;
SELECT pgmsg.send('ro_q', '{"n": 3}');
SELECT pgmsg.publish('ro_t', '{"n": 3}');
RESET ROLE;
DROP ROLE pgmsg_role_bob;

-- a queue another role's queue dead-letters into cannot go with DROP OWNED
CREATE ROLE pgmsg_role_dave;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_role_dave;
SELECT pgmsg.grant('ro_dlq', 'pgmsg_role_dave', ARRAY['send']);
SET ROLE pgmsg_role_dave;
SELECT pgmsg.create_queue('ro_dave', dead_letter_queue => 'ro_dlq', max_receive_count => 1);
RESET ROLE;
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_role_dave;
DROP OWNED BY pgmsg_role_carol;
SELECT name, owner FROM pgmsg.queues WHERE name LIKE 'ro\_%' ORDER BY name;
SELECT protocol, endpoint FROM pgmsg.subscriptions WHERE topic = 'ro_t' ORDER BY 1;
DROP OWNED BY pgmsg_role_dave;
DROP ROLE pgmsg_role_dave;

-- DROP OWNED drops the subscriptions, topics and queues the role owns,
-- a dead-letter queue after the queues that use it, push subscriptions
-- with their queues
DROP OWNED BY pgmsg_role_carol;
SELECT count(*) FROM pgmsg.queues WHERE owner = 'pgmsg_role_carol';
SELECT count(*) FROM pgmsg.topics WHERE name = 'ro_t';
SELECT count(*) FROM pg_tables WHERE schemaname = 'pgmsg' AND tablename LIKE 'q\_ro\_%';
DROP ROLE pgmsg_role_carol;
SELECT rolname FROM pg_roles WHERE rolname LIKE 'pgmsg\_role\_%';

-- DROP OWNED of a role one does not have the privileges of changes nothing
CREATE ROLE pgmsg_role_erin;
CREATE ROLE pgmsg_role_frank;
GRANT CREATE ON DATABASE :"DBNAME" TO pgmsg_role_frank;
SET ROLE pgmsg_role_frank;
SELECT pgmsg.create_queue('ro_frank');
RESET ROLE;
REVOKE CREATE ON DATABASE :"DBNAME" FROM pgmsg_role_frank;
SET ROLE pgmsg_role_erin;
DROP OWNED BY pgmsg_role_frank;
RESET ROLE;
SELECT name, owner FROM pgmsg.queues WHERE name = 'ro_frank';
SELECT pgmsg.drop_queue('ro_frank');
DROP ROLE pgmsg_role_erin, pgmsg_role_frank;

-- pgmsg.track_role() runs only as an AFTER row trigger naming a column
CREATE TABLE ro_track (owner regrole);
CREATE TRIGGER ro_track BEFORE INSERT ON ro_track
    FOR EACH ROW EXECUTE FUNCTION pgmsg.track_role('owner');
INSERT INTO ro_track VALUES ('postgres');
DROP TABLE ro_track;
