-- Queue management: create_queue, alter_queue, drop_queue, purge_queue and
-- the pgmsg.queues view.

-- the stable columns of the view for the queues of this test
CREATE TEMP VIEW qv AS
SELECT name, visibility_timeout, delay, retention, max_message_size,
       dead_letter_queue, max_receive_count, fifo, content_based_dedup, notify,
       owner = current_user AS owned, created_at <= now() AS created
  FROM pgmsg.queues WHERE name LIKE 'qt\_%';
CREATE TEMP VIEW qc AS
SELECT name, messages_visible, messages_in_flight, messages_delayed,
       sent_total, received_total, deleted_total, dead_lettered_total
  FROM pgmsg.queues WHERE name LIKE 'qt\_%';

--
-- create_queue
--
SELECT pgmsg.create_queue('qt_default');
SELECT pgmsg.create_queue('qt_custom', visibility_timeout => '5 minutes', delay => '10 seconds',
                          retention => '1 day', max_message_size => 1000);
SELECT * FROM qv ORDER BY name;
SELECT * FROM qc ORDER BY name;
SELECT oldest_message_age IS NULL AS no_age FROM pgmsg.queues WHERE name = 'qt_default';
-- the table behind it
SELECT to_regclass('pgmsg.q_qt_default') IS NOT NULL AS has_table,
       to_regclass('pgmsg.q_qt_default_key') IS NOT NULL AS has_index;
SELECT count(*) FROM pgmsg.q_qt_default;

-- limits are inclusive
SELECT pgmsg.create_queue('qt_limits_hi', visibility_timeout => '12 hours', delay => '15 minutes',
                          retention => '14 days', max_message_size => 1048576);
SELECT pgmsg.create_queue('qt_limits_lo', visibility_timeout => '0', delay => '0',
                          retention => '1 minute', max_message_size => 1);
SELECT * FROM qv WHERE name LIKE 'qt\_limits%' ORDER BY name;
SELECT pgmsg.drop_queue('qt_limits_hi');
SELECT pgmsg.drop_queue('qt_limits_lo');

-- a 48-character name, digits and underscores after the first letter
SELECT pgmsg.create_queue('qt_' || repeat('x', 45));
SELECT pgmsg.create_queue('qt_a1_b2__');
SELECT length(name) FROM pgmsg.queues WHERE name LIKE 'qt\_x%';
SELECT pgmsg.drop_queue('qt_' || repeat('x', 45));
SELECT pgmsg.drop_queue('qt_a1_b2__');

-- bad names
SELECT pgmsg.create_queue('a;drop table x');
SELECT pgmsg.create_queue('Upper');
SELECT pgmsg.create_queue('');
SELECT pgmsg.create_queue(repeat('a', 49));
SELECT pgmsg.create_queue('1abc');
SELECT pgmsg.create_queue('_abc');
SELECT pgmsg.create_queue('a-b');
SELECT pgmsg.create_queue('a b');
SELECT pgmsg.create_queue('a.b');
SELECT pgmsg.create_queue('"a"');
SELECT pgmsg.create_queue(NULL);
SELECT to_regclass('pgmsg.q_a') IS NULL AS no_table;

-- NULL arguments
SELECT pgmsg.create_queue('qt_null', visibility_timeout => NULL);
SELECT pgmsg.create_queue('qt_null', delay => NULL);
SELECT pgmsg.create_queue('qt_null', retention => NULL);
SELECT pgmsg.create_queue('qt_null', max_message_size => NULL);
SELECT pgmsg.create_queue('qt_null', fifo => NULL);
SELECT pgmsg.create_queue('qt_null', content_based_dedup => NULL);
SELECT pgmsg.create_queue('qt_null', notify => NULL);

-- intervals out of range
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '-1 second');
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '-1 microsecond');
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '12 hours 1 microsecond');
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '1 day');
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '1 month');
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '-1 month');
SELECT pgmsg.create_queue('qt_range', visibility_timeout => '100000 years');
SELECT pgmsg.create_queue('qt_range', delay => '-1 second');
SELECT pgmsg.create_queue('qt_range', delay => '15 minutes 1 second');
SELECT pgmsg.create_queue('qt_range', delay => '1 day');
SELECT pgmsg.create_queue('qt_range', retention => '59 seconds');
SELECT pgmsg.create_queue('qt_range', retention => '-1 day');
SELECT pgmsg.create_queue('qt_range', retention => '14 days 1 second');
-- max_message_size out of range
SELECT pgmsg.create_queue('qt_range', max_message_size => 0);
SELECT pgmsg.create_queue('qt_range', max_message_size => -1);
SELECT pgmsg.create_queue('qt_range', max_message_size => 1048577);
SELECT pgmsg.create_queue('qt_range', max_message_size => 2147483647);
-- none of them was created
SELECT count(*) FROM pgmsg.queues WHERE name IN ('qt_null', 'qt_range');

-- creating a queue twice
SELECT pgmsg.create_queue('qt_default');
SELECT pgmsg.create_queue('qt_default', visibility_timeout => '1 minute');
SELECT visibility_timeout FROM qv WHERE name = 'qt_default';

--
-- alter_queue
--
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '1 minute');
SELECT * FROM qv WHERE name = 'qt_default';
SELECT pgmsg.alter_queue('qt_default', delay => '2 seconds', retention => '2 days',
                         max_message_size => 500, notify => true);
SELECT * FROM qv WHERE name = 'qt_default';
-- NULL leaves a setting unchanged; no setting changes nothing
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => NULL, delay => NULL,
                         retention => NULL, max_message_size => NULL, notify => NULL);
SELECT pgmsg.alter_queue('qt_default');
SELECT * FROM qv WHERE name = 'qt_default';
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '0', delay => '0',
                         max_message_size => 1048576, notify => false);
SELECT * FROM qv WHERE name = 'qt_default';
-- errors, which change nothing
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '-1 second');
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '12 hours 1 second');
SELECT pgmsg.alter_queue('qt_default', delay => '-1 second');
SELECT pgmsg.alter_queue('qt_default', delay => '16 minutes');
SELECT pgmsg.alter_queue('qt_default', retention => '1 second');
SELECT pgmsg.alter_queue('qt_default', retention => '15 days');
SELECT pgmsg.alter_queue('qt_default', max_message_size => 0);
SELECT pgmsg.alter_queue('qt_default', max_message_size => 1048577);
-- a valid setting next to an invalid one is not applied either
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '7 minutes', delay => '1 hour');
SELECT pgmsg.alter_queue('qt_default', fifo => true);
SELECT pgmsg.alter_queue(NULL);
SELECT pgmsg.alter_queue(NULL, visibility_timeout => '1 minute');
SELECT pgmsg.alter_queue('Upper', visibility_timeout => '1 minute');
SELECT * FROM qv WHERE name = 'qt_default';
-- alter is transactional
BEGIN;
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '3 hours');
SELECT visibility_timeout FROM qv WHERE name = 'qt_default';
ROLLBACK;
SELECT visibility_timeout FROM qv WHERE name = 'qt_default';
-- and this session's cached settings roll back with it
BEGIN;
SELECT pgmsg.alter_queue('qt_default', max_message_size => 20);
SELECT pgmsg.send('qt_default', jsonb_build_object('pad', repeat('x', 20)));
ROLLBACK;
BEGIN;
SELECT pgmsg.alter_queue('qt_default', max_message_size => 20);
ROLLBACK;
SELECT pgmsg.send('qt_default', jsonb_build_object('rolled_back', repeat('x', 20))) > 0 AS sent;
SELECT pgmsg.purge_queue('qt_default');

-- the new settings apply to the next call in the same session
SELECT pgmsg.alter_queue('qt_default', max_message_size => 20);
SELECT pgmsg.send('qt_default', jsonb_build_object('pad', repeat('x', 20)));
SELECT pgmsg.alter_queue('qt_default', max_message_size => 1048576);
SELECT pgmsg.send('qt_default', jsonb_build_object('pad', repeat('x', 20))) > 0 AS sent;
SELECT pgmsg.alter_queue('qt_default', delay => '15 minutes');
SELECT pgmsg.send('qt_default', '{"delayed": true}') > 0 AS sent;
SELECT messages_visible, messages_delayed FROM qc WHERE name = 'qt_default';
SELECT body FROM pgmsg.receive('qt_default', 10);
SELECT pgmsg.alter_queue('qt_default', delay => '0', visibility_timeout => '0');
-- visibility_timeout 0 is the queue default now: received again at once
SELECT body, receive_count FROM pgmsg.receive('qt_default', 10);
SELECT body, receive_count FROM pgmsg.receive('qt_default', 10);
SELECT pgmsg.alter_queue('qt_default', visibility_timeout => '1 hour');
SELECT body, receive_count FROM pgmsg.receive('qt_default', 10);
SELECT count(*) FROM pgmsg.receive('qt_default', 10);
SELECT messages_visible, messages_in_flight, messages_delayed FROM qc WHERE name = 'qt_default';

--
-- purge_queue
--
SELECT pgmsg.create_queue('qt_purge', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('qt_purge', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]);
SELECT pgmsg.send('qt_purge', '{"n": 4}', delay => '10 minutes') > 0 AS sent;
CREATE TEMP TABLE purge_r AS SELECT receipt, body FROM pgmsg.receive('qt_purge', 1);
SELECT body FROM purge_r;
SELECT messages_visible, messages_in_flight, messages_delayed FROM qc WHERE name = 'qt_purge';
-- a rolled-back purge removes nothing and keeps the lease
BEGIN;
SELECT pgmsg.purge_queue('qt_purge');
SELECT count(*) FROM pgmsg.q_qt_purge;
ROLLBACK;
SELECT count(*) FROM pgmsg.q_qt_purge;
SELECT messages_visible, messages_in_flight, messages_delayed FROM qc WHERE name = 'qt_purge';
SELECT count(*) FROM pgmsg.receive('qt_purge', 10, visibility_timeout => '0');
SELECT pgmsg.change_visibility('qt_purge', receipt, '1 hour') FROM purge_r;
-- purge removes every message: visible, in flight and delayed
SELECT pgmsg.purge_queue('qt_purge');
SELECT count(*) FROM pgmsg.q_qt_purge;
SELECT messages_visible, messages_in_flight, messages_delayed FROM qc WHERE name = 'qt_purge';
-- the receipt of a purged message is stale
SELECT pgmsg.delete('qt_purge', receipt) FROM purge_r;
SELECT pgmsg.change_visibility('qt_purge', receipt, '0') FROM purge_r;
SELECT count(*) FROM pgmsg.receive('qt_purge', 10);
-- an empty queue purges to 0, and the queue works afterwards
SELECT pgmsg.purge_queue('qt_purge');
SELECT pgmsg.send('qt_purge', '{"n": 5}') > 0 AS sent;
SELECT body, receive_count FROM pgmsg.receive('qt_purge', 10);
-- a message sent and received after a purge in the same transaction is not
-- purged, and keeps its lease
SELECT pgmsg.send('qt_purge', '{"n": 6}') > 0 AS sent;
BEGIN;
SELECT pgmsg.purge_queue('qt_purge');
SELECT pgmsg.send('qt_purge', '{"n": 7}') > 0 AS sent;
CREATE TEMP TABLE purge_r2 ON COMMIT PRESERVE ROWS AS
  SELECT receipt, body FROM pgmsg.receive('qt_purge', 10);
SELECT body FROM purge_r2;
COMMIT;
SELECT count(*) FROM pgmsg.q_qt_purge;
SELECT messages_visible, messages_in_flight FROM qc WHERE name = 'qt_purge';
SELECT body, receive_count FROM pgmsg.receive('qt_purge', 10);
SELECT pgmsg.delete('qt_purge', receipt) FROM purge_r2;
SELECT count(*) FROM pgmsg.q_qt_purge;
DROP TABLE purge_r2;
SELECT pgmsg.purge_queue(NULL);
SELECT pgmsg.purge_queue('Upper');
SELECT pgmsg.drop_queue('qt_purge');
DROP TABLE purge_r;

--
-- drop_queue
--
SELECT pgmsg.create_queue('qt_drop', visibility_timeout => '1 hour');
SELECT pgmsg.send('qt_drop', '{"d": 1}') > 0 AS sent;
SELECT pgmsg.send('qt_drop', '{"d": 2}') > 0 AS sent;
CREATE TEMP TABLE drop_r AS SELECT receipt FROM pgmsg.receive('qt_drop', 1);
-- a rolled-back drop leaves the queue, its messages and its leases
BEGIN;
SELECT pgmsg.drop_queue('qt_drop');
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_drop';
SELECT to_regclass('pgmsg.q_qt_drop') IS NULL AS no_table;
SELECT pgmsg.send('qt_drop', '{}');
ROLLBACK;
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_drop';
SELECT count(*) FROM pgmsg.q_qt_drop;
SELECT messages_visible, messages_in_flight FROM qc WHERE name = 'qt_drop';
SELECT body FROM pgmsg.receive('qt_drop', 10);
SELECT pgmsg.delete('qt_drop', receipt) FROM drop_r;
-- drop
SELECT pgmsg.drop_queue('qt_drop');
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_drop';
SELECT to_regclass('pgmsg.q_qt_drop') IS NULL AS no_table;
SELECT pgmsg.send('qt_drop', '{}');
SELECT pgmsg.drop_queue('qt_drop');
-- if_exists
SELECT pgmsg.drop_queue('qt_drop', if_exists => true);
SELECT pgmsg.drop_queue('qt_drop', if_exists => false);
SELECT pgmsg.drop_queue('qt_drop', if_exists => NULL);
SELECT pgmsg.drop_queue(NULL);
SELECT pgmsg.drop_queue(NULL, if_exists => true);
SELECT pgmsg.drop_queue('Upper', if_exists => true);
-- the old receipt names a queue that is gone
SELECT pgmsg.create_queue('qt_drop');
SELECT pgmsg.delete('qt_drop', receipt) FROM drop_r;
SELECT count(*) FROM pgmsg.receive('qt_drop', 10);
SELECT * FROM qc WHERE name = 'qt_drop';
SELECT pgmsg.drop_queue('qt_drop', if_exists => true);
DROP TABLE drop_r;

--
-- create and drop are transactional
--
BEGIN;
SELECT pgmsg.create_queue('qt_tx');
SELECT pgmsg.send('qt_tx', '{"tx": 1}') > 0 AS sent;
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_tx';
ROLLBACK;
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_tx';
SELECT to_regclass('pgmsg.q_qt_tx') IS NULL AS no_table;
SELECT count(*) FROM pgmsg.queue_meta WHERE name = 'qt_tx';
SELECT pgmsg.send('qt_tx', '{}');
SELECT * FROM pgmsg.receive('qt_tx');
SELECT pgmsg.drop_queue('qt_tx');
-- the name is free again
SELECT pgmsg.create_queue('qt_tx');
SELECT count(*) FROM pgmsg.receive('qt_tx', 10);
SELECT * FROM qc WHERE name = 'qt_tx';
-- rolled back to a savepoint
BEGIN;
SAVEPOINT s;
SELECT pgmsg.create_queue('qt_sp');
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_sp';
SELECT pgmsg.create_queue('qt_sp');
COMMIT;
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_sp';
SELECT pgmsg.drop_queue('qt_sp');
-- created and dropped in one transaction
BEGIN;
SELECT pgmsg.create_queue('qt_brief');
SELECT pgmsg.send('qt_brief', '{}') > 0 AS sent;
SELECT pgmsg.drop_queue('qt_brief');
COMMIT;
SELECT count(*) FROM pgmsg.queues WHERE name = 'qt_brief';
SELECT to_regclass('pgmsg.q_qt_brief') IS NULL AS no_table;
-- dropped and created again in one transaction: a new, empty queue
SELECT pgmsg.send('qt_tx', '{"old": 1}') > 0 AS sent;
BEGIN;
SELECT pgmsg.drop_queue('qt_tx');
SELECT pgmsg.create_queue('qt_tx', visibility_timeout => '2 minutes');
SELECT pgmsg.send('qt_tx', '{"new": 1}') > 0 AS sent;
COMMIT;
SELECT visibility_timeout FROM qv WHERE name = 'qt_tx';
SELECT body FROM pgmsg.receive('qt_tx', 10);
SELECT pgmsg.drop_queue('qt_tx');

--
-- unknown queue, for every function
--
SELECT pgmsg.alter_queue('qt_nope', visibility_timeout => '1 minute');
SELECT pgmsg.drop_queue('qt_nope');
SELECT pgmsg.purge_queue('qt_nope');
SELECT pgmsg.send('qt_nope', '{}');
SELECT pgmsg.send_batch('qt_nope', ARRAY['{}']::jsonb[]);
SELECT * FROM pgmsg.receive('qt_nope');
SELECT pgmsg.delete('qt_nope', repeat('0', 56));
SELECT pgmsg.delete('qt_nope', ARRAY[repeat('0', 56)]);
SELECT pgmsg.change_visibility('qt_nope', repeat('0', 56), '1 minute');
SELECT pgmsg.change_visibility('qt_nope', ARRAY[repeat('0', 56)], '1 minute');
SELECT pgmsg.grant('qt_nope', 'public', ARRAY['send']);
SELECT pgmsg.revoke('qt_nope', 'public', ARRAY['send']);
SELECT pgmsg.redrive('qt_nope');

-- a bad name, for every function
SELECT pgmsg.alter_queue('a;drop table x', visibility_timeout => '1 minute');
SELECT pgmsg.drop_queue('a;drop table x');
SELECT pgmsg.purge_queue('a;drop table x');
SELECT pgmsg.send('a;drop table x', '{}');
SELECT pgmsg.send_batch('a;drop table x', ARRAY['{}']::jsonb[]);
SELECT * FROM pgmsg.receive('a;drop table x');
SELECT pgmsg.delete('a;drop table x', repeat('0', 56));
SELECT pgmsg.change_visibility('a;drop table x', repeat('0', 56), '1 minute');
SELECT pgmsg.grant('a;drop table x', 'public', ARRAY['send']);

-- clean up; DROP EXTENSION refuses while a queue exists
DROP VIEW qv, qc;
SELECT pgmsg.drop_queue('qt_custom');
DROP EXTENSION pgmsg;
SELECT pgmsg.drop_queue('qt_default');
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'qt\_%';

--
-- the extension dropped and created again, in a database of its own
--
\set regress_db :DBNAME
CREATE DATABASE pgmsg_test_reinstall;
\c pgmsg_test_reinstall
SET client_min_messages = warning;
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('qt_old', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('qt_old', ARRAY['{"old": 1}', '{"old": 2}', '{"old": 3}']::jsonb[]);
SELECT count(*) FROM pgmsg.receive('qt_old', 10);
DROP EXTENSION pgmsg CASCADE;
CREATE EXTENSION pgmsg;
\c pgmsg_test_reinstall
SET client_min_messages = warning;
-- a new queue has nothing of the dropped ones: no messages in flight, no counts
SELECT pgmsg.create_queue('qt_new', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('qt_new',
    ARRAY['{"new": 1}', '{"new": 2}', '{"new": 3}', '{"new": 4}']::jsonb[]);
SELECT name, messages_visible, messages_in_flight, sent_total, received_total
  FROM pgmsg.queues;
SELECT body, receive_count FROM pgmsg.receive('qt_new', 10);
-- a session that used pgmsg before can use it at once after it is created again
DROP EXTENSION pgmsg CASCADE;
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('qt_same');
SELECT pgmsg.send('qt_same', '{"same": 1}') > 0 AS sent;
SELECT body FROM pgmsg.receive('qt_same');
-- dropped and created again in one transaction: the old queue's slot and
-- leases live until the drop commits, and the new queue shares nothing
SELECT count(*) FROM pgmsg.send_batch('qt_same', ARRAY['{"same": 2}', '{"same": 3}']::jsonb[]);
SELECT count(*) FROM pgmsg.receive('qt_same', 10);
BEGIN;
DROP EXTENSION pgmsg CASCADE;
CREATE EXTENSION pgmsg;
SELECT pgmsg.create_queue('qt_again', visibility_timeout => '1 hour');
SELECT count(*) FROM pgmsg.send_batch('qt_again',
    ARRAY['{"again": 1}', '{"again": 2}', '{"again": 3}', '{"again": 4}']::jsonb[]);
SELECT body, receive_count FROM pgmsg.receive('qt_again', 10);
COMMIT;
SELECT name, messages_visible, messages_in_flight, sent_total, received_total
  FROM pgmsg.queues;
SELECT count(*) FROM pgmsg.receive('qt_again', 10);
DROP EXTENSION pgmsg CASCADE;
\c :regress_db
DROP DATABASE pgmsg_test_reinstall WITH (FORCE);
