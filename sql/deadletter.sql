-- Dead-letter queues, redrive, delays and retention bounds.

--
-- A message moves to the dead-letter queue after exactly max_receive_count
-- receives, keeping body, attributes, send time, receive count and source.
--
SELECT pgmsg.create_queue('dl_dead');
SELECT pgmsg.create_queue('dl_work', visibility_timeout => '1 hour',
                          dead_letter_queue => 'dl_dead', max_receive_count => 3);
SELECT name, dead_letter_queue, max_receive_count, dead_lettered_total
  FROM pgmsg.queues WHERE name LIKE 'dl\_%' ORDER BY name;

-- the send time of each job as sent
CREATE TEMP TABLE dl_orig (job text PRIMARY KEY, sent_at timestamptz);
SELECT pgmsg.send('dl_work', '{"job": 1}', attributes => '{"kind": "x", "tags": ["a"]}') AS id1 \gset
SELECT sent_at AS sent1 FROM pgmsg.q_dl_work WHERE msg_id = :id1 \gset
INSERT INTO dl_orig SELECT body->>'job', sent_at FROM pgmsg.q_dl_work WHERE msg_id = :id1;
-- visibility_timeout 0: each receive makes the message due again at once
SELECT message_id = :id1 AS same, receive_count, sent_at = :'sent1' AS same_sent_at
  FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT message_id = :id1 AS same, receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT message_id = :id1 AS same, receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
-- the fourth receive would exceed max_receive_count: it moves the message
SELECT count(*) FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.q_dl_work;
SELECT body, attributes, sent_at = :'sent1' AS original_sent_at, receive_count,
       source_queue, group_id
  FROM pgmsg.q_dl_dead;
SELECT name, messages_visible, messages_in_flight, dead_lettered_total
  FROM pgmsg.queues WHERE name LIKE 'dl\_%' ORDER BY name;
-- nothing is left to receive from the source
SELECT count(*) FROM pgmsg.receive('dl_work', 10, visibility_timeout => '0');

-- a receive that moves one message still returns the others
SELECT pgmsg.send('dl_work', '{"job": 2}') AS id2 \gset
INSERT INTO dl_orig SELECT body->>'job', sent_at FROM pgmsg.q_dl_work WHERE msg_id = :id2;
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT pgmsg.send('dl_work', '{"job": 3}') AS id3 \gset
INSERT INTO dl_orig SELECT body->>'job', sent_at FROM pgmsg.q_dl_work WHERE msg_id = :id3;
CREATE TEMP TABLE got3 AS SELECT * FROM pgmsg.receive('dl_work', 10);
SELECT message_id = :id3 AS is_job3, body, receive_count FROM got3;
SELECT body, receive_count, source_queue FROM pgmsg.q_dl_dead ORDER BY body->>'job';
SELECT pgmsg.delete('dl_work', receipt) FROM got3;

--
-- A rolled-back move: the message stays in the source, and the next
-- receive moves it again.
--
SELECT pgmsg.send('dl_work', '{"job": 4}') AS id4 \gset
INSERT INTO dl_orig SELECT body->>'job', sent_at FROM pgmsg.q_dl_work WHERE msg_id = :id4;
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_work';
BEGIN;
SELECT count(*) FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
-- inside the transaction, the move is done
SELECT count(*) AS in_source FROM pgmsg.q_dl_work WHERE msg_id = :id4;
SELECT count(*) AS in_dlq FROM pgmsg.q_dl_dead WHERE body = '{"job": 4}';
-- but not counted before it commits
SELECT dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_work';
ROLLBACK;
SELECT msg_id = :id4 AS same, receive_count FROM pgmsg.q_dl_work;
SELECT count(*) AS in_dlq FROM pgmsg.q_dl_dead WHERE body = '{"job": 4}';
SELECT dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_work';
SELECT count(*) FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT count(*) AS in_source FROM pgmsg.q_dl_work;
SELECT body, receive_count, source_queue, d.sent_at = o.sent_at AS original_sent_at
  FROM pgmsg.q_dl_dead d JOIN dl_orig o ON o.job = d.body->>'job' ORDER BY o.job;
SELECT dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_work';

-- a move rolled back to a savepoint is undone and not counted either
SELECT pgmsg.send('dl_work', '{"job": 5}') AS id5 \gset
INSERT INTO dl_orig SELECT body->>'job', sent_at FROM pgmsg.q_dl_work WHERE msg_id = :id5;
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT messages_visible AS dlq_visible, sent_total AS dlq_sent
  FROM pgmsg.queues WHERE name = 'dl_dead' \gset
SELECT :dlq_visible AS dlq_visible;
BEGIN;
SAVEPOINT before_move;
SELECT count(*) FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT count(*) AS in_dlq FROM pgmsg.q_dl_dead WHERE body = '{"job": 5}';
ROLLBACK TO SAVEPOINT before_move;
COMMIT;
SELECT msg_id = :id5 AS same, receive_count FROM pgmsg.q_dl_work;
SELECT count(*) AS in_dlq FROM pgmsg.q_dl_dead WHERE body = '{"job": 5}';
SELECT messages_visible - :dlq_visible AS more_visible, sent_total - :dlq_sent AS more_sent
  FROM pgmsg.queues WHERE name = 'dl_dead';
SELECT dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_work';
SELECT count(*) FROM pgmsg.receive('dl_work', 1, visibility_timeout => '0');
SELECT messages_visible - :dlq_visible AS more_visible, sent_total - :dlq_sent AS more_sent
  FROM pgmsg.queues WHERE name = 'dl_dead';
SELECT dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_work';

-- a consumer of the dead-letter queue gets the original message
CREATE TEMP TABLE fromdlq AS SELECT * FROM pgmsg.receive('dl_dead', 10, visibility_timeout => '0');
SELECT body, attributes, receive_count, f.sent_at = o.sent_at AS original_sent_at
  FROM fromdlq f JOIN dl_orig o ON o.job = f.body->>'job' ORDER BY o.job;

--
-- Redrive: back to each message's source, as new messages.
--
SELECT pgmsg.redrive('dl_dead');
SELECT count(*) FROM pgmsg.q_dl_dead;
SELECT body, attributes, receive_count, first_received_at, source_queue,
       msg_id NOT IN (:id1, :id2, :id4, :id5) AS new_id, w.sent_at > o.sent_at AS new_sent_at
  FROM pgmsg.q_dl_work w JOIN dl_orig o ON o.job = w.body->>'job' ORDER BY o.job;
CREATE TEMP TABLE redriven AS SELECT * FROM pgmsg.receive('dl_work', 10);
SELECT body, receive_count FROM redriven ORDER BY body->>'job';
SELECT pgmsg.delete('dl_work', array_agg(receipt)) FROM redriven;
-- an empty dead-letter queue: nothing to move
SELECT pgmsg.redrive('dl_dead');

-- A helper: put n messages into dl_dead from queue dl_fast, which
-- dead-letters on the second receive.  Each step commits, as separate
-- consumers' transactions would.
SELECT pgmsg.create_queue('dl_fast', dead_letter_queue => 'dl_dead', max_receive_count => 1);
CREATE PROCEDURE dl_fill(n int) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM count(*) FROM pgmsg.send_batch('dl_fast',
        ARRAY(SELECT jsonb_build_object('fill', i) FROM generate_series(1, n) i));
    COMMIT;
    PERFORM count(*) FROM pgmsg.receive('dl_fast', n, visibility_timeout => '0');
    COMMIT;
    PERFORM count(*) FROM pgmsg.receive('dl_fast', n, visibility_timeout => '0');
    COMMIT;
END
$$;
CALL dl_fill(3);
SELECT body, receive_count, source_queue FROM pgmsg.q_dl_dead ORDER BY body->>'fill';
SELECT name, dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_fast';

-- a rolled-back redrive leaves the messages in the dead-letter queue,
-- free to be taken at once
BEGIN;
SELECT pgmsg.redrive('dl_dead');
SELECT count(*) FROM pgmsg.q_dl_dead;
ROLLBACK;
SELECT count(*) FROM pgmsg.q_dl_dead;
SELECT count(*) FROM pgmsg.q_dl_fast;

-- max_messages limits the redrive
SELECT pgmsg.redrive('dl_dead', max_messages => 2);
SELECT count(*) AS left_in_dlq FROM pgmsg.q_dl_dead;
SELECT count(*) AS back_in_source FROM pgmsg.q_dl_fast;

-- a destination other than the source
SELECT pgmsg.create_queue('dl_other');
SELECT pgmsg.redrive('dl_dead', 'dl_other');
SELECT body, receive_count, source_queue FROM pgmsg.q_dl_other;
SELECT count(*) FROM pgmsg.q_dl_dead;
SELECT pgmsg.purge_queue('dl_other');
SELECT pgmsg.purge_queue('dl_fast');

-- redrive never takes a message in flight in the dead-letter queue
CALL dl_fill(3);
CREATE TEMP TABLE held AS SELECT * FROM pgmsg.receive('dl_dead', 1, visibility_timeout => '1 hour');
SELECT pgmsg.redrive('dl_dead');
SELECT body = (SELECT body FROM held) AS the_held_one, receive_count FROM pgmsg.q_dl_dead;
SELECT messages_in_flight FROM pgmsg.queues WHERE name = 'dl_dead';
SELECT count(*) FROM pgmsg.q_dl_fast;
-- nor one received by a transaction still in progress
SELECT pgmsg.change_visibility('dl_dead', receipt, '0') FROM held;
BEGIN;
SELECT count(*) FROM pgmsg.receive('dl_dead', 1, visibility_timeout => '1 hour');
SELECT pgmsg.redrive('dl_dead');
ROLLBACK;
SELECT pgmsg.redrive('dl_dead');
SELECT count(*) FROM pgmsg.q_dl_dead;
SELECT count(*) FROM pgmsg.q_dl_fast;
SELECT pgmsg.purge_queue('dl_fast');

-- a message whose source queue is gone stays, unless a destination is named
SELECT pgmsg.create_queue('dl_gone', dead_letter_queue => 'dl_dead', max_receive_count => 1);
SELECT pgmsg.send('dl_gone', '{"orphan": true}') > 0 AS sent;
SELECT count(*) FROM pgmsg.receive('dl_gone', 1, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.receive('dl_gone', 1, visibility_timeout => '0');
SELECT pgmsg.drop_queue('dl_gone');
SELECT pgmsg.redrive('dl_dead');
SELECT body, source_queue FROM pgmsg.q_dl_dead;
SELECT pgmsg.redrive('dl_dead', 'dl_other');
SELECT body, source_queue FROM pgmsg.q_dl_other;
SELECT pgmsg.purge_queue('dl_other');

-- redrive errors
SELECT pgmsg.redrive('dl_nope');
SELECT pgmsg.redrive('dl_dead', 'dl_nope');
SELECT pgmsg.redrive('dl_dead', 'dl_dead');
SELECT pgmsg.redrive('dl_dead', max_messages => 0);
SELECT pgmsg.redrive(NULL);

--
-- FIFO dead-letter queues keep the message group.
--
SELECT pgmsg.create_queue('dl_fdead', fifo => true);
SELECT pgmsg.create_queue('dl_fwork', fifo => true, dead_letter_queue => 'dl_fdead',
                          max_receive_count => 1);
SELECT pgmsg.send('dl_fwork', '{"f": 1}', group_id => 'g1') > 0 AS sent;
SELECT body, group_id FROM pgmsg.receive('dl_fwork', 1, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.receive('dl_fwork', 1, visibility_timeout => '0');
SELECT body, group_id, receive_count, source_queue FROM pgmsg.q_dl_fdead;
SELECT pgmsg.redrive('dl_fdead');
SELECT body, group_id, receive_count FROM pgmsg.q_dl_fwork;
SELECT pgmsg.purge_queue('dl_fwork');
-- messages without a group cannot go into a FIFO queue
CALL dl_fill(1);
SELECT pgmsg.redrive('dl_dead', 'dl_fwork');
SELECT count(*) FROM pgmsg.q_dl_dead;
SELECT count(*) FROM pgmsg.q_dl_fwork;
SELECT pgmsg.purge_queue('dl_dead');

--
-- Dead-letter queue settings: errors.
--
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_nope', max_receive_count => 3);
-- of the other kind, both ways
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_fdead', max_receive_count => 3);
SELECT pgmsg.create_queue('dl_x', fifo => true, dead_letter_queue => 'dl_dead', max_receive_count => 3);
SELECT pgmsg.alter_queue('dl_work', dead_letter_queue => 'dl_fdead');
SELECT pgmsg.alter_queue('dl_fwork', dead_letter_queue => 'dl_dead');
-- max_receive_count out of range
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_dead', max_receive_count => 0);
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_dead', max_receive_count => 1001);
SELECT pgmsg.alter_queue('dl_work', max_receive_count => 0);
SELECT pgmsg.alter_queue('dl_work', max_receive_count => 1001);
-- one without the other
SELECT pgmsg.create_queue('dl_x', max_receive_count => 3);
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_dead');
SELECT pgmsg.alter_queue('dl_other', max_receive_count => 3);
SELECT pgmsg.alter_queue('dl_other', dead_letter_queue => 'dl_dead');
-- its own dead-letter queue
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_x', max_receive_count => 3);
SELECT pgmsg.alter_queue('dl_work', dead_letter_queue => 'dl_work');
-- nothing was created or changed
SELECT count(*) FROM pgmsg.queues WHERE name = 'dl_x';
SELECT name, dead_letter_queue, max_receive_count
  FROM pgmsg.queues WHERE name LIKE 'dl\_%' ORDER BY name;

-- bounds are accepted
SELECT pgmsg.create_queue('dl_x', dead_letter_queue => 'dl_dead', max_receive_count => 1000);
SELECT pgmsg.alter_queue('dl_x', max_receive_count => 1);
SELECT name, dead_letter_queue, max_receive_count FROM pgmsg.queues WHERE name = 'dl_x';
SELECT pgmsg.drop_queue('dl_x');

-- a cycle through a chain: a -> b, b -> c, then c -> a is refused
SELECT pgmsg.create_queue('dl_a');
SELECT pgmsg.create_queue('dl_b');
SELECT pgmsg.create_queue('dl_c');
SELECT pgmsg.alter_queue('dl_a', dead_letter_queue => 'dl_b', max_receive_count => 2);
SELECT pgmsg.alter_queue('dl_b', dead_letter_queue => 'dl_c', max_receive_count => 2);
SELECT pgmsg.alter_queue('dl_c', dead_letter_queue => 'dl_a', max_receive_count => 2);
SELECT pgmsg.alter_queue('dl_c', dead_letter_queue => 'dl_b', max_receive_count => 2);
SELECT pgmsg.alter_queue('dl_b', dead_letter_queue => 'dl_a');
-- also when the chain was built in the same transaction
BEGIN;
SELECT pgmsg.create_queue('dl_d');
SELECT pgmsg.alter_queue('dl_c', dead_letter_queue => 'dl_d', max_receive_count => 2);
SELECT pgmsg.alter_queue('dl_d', dead_letter_queue => 'dl_a', max_receive_count => 2);
ROLLBACK;
SELECT name, dead_letter_queue, max_receive_count
  FROM pgmsg.queues WHERE name IN ('dl_a', 'dl_b', 'dl_c', 'dl_d') ORDER BY name;

-- a queue that is a dead-letter queue cannot be dropped
SELECT pgmsg.drop_queue('dl_b');
SELECT pgmsg.drop_queue('dl_c');
SELECT pgmsg.drop_queue('dl_dead');
-- max_receive_count alone can be changed
SELECT pgmsg.alter_queue('dl_a', max_receive_count => 5);
SELECT name, dead_letter_queue, max_receive_count
  FROM pgmsg.queues WHERE name = 'dl_a';
-- dead_letter_queue => '' removes it, and max_receive_count with it
SELECT pgmsg.alter_queue('dl_a', dead_letter_queue => '', max_receive_count => 3);
SELECT pgmsg.alter_queue('dl_a', dead_letter_queue => '');
SELECT name, dead_letter_queue, max_receive_count
  FROM pgmsg.queues WHERE name IN ('dl_a', 'dl_b', 'dl_c') ORDER BY name;
SELECT pgmsg.alter_queue('dl_a', max_receive_count => 3);
SELECT pgmsg.drop_queue('dl_b');
SELECT pgmsg.drop_queue('dl_c');
SELECT pgmsg.drop_queue('dl_a');

-- a role may only name a dead-letter queue it may send to
CREATE ROLE regress_dl_user;
GRANT CREATE ON DATABASE :"DBNAME" TO regress_dl_user;
SET ROLE regress_dl_user;
SELECT pgmsg.create_queue('dl_mine', dead_letter_queue => 'dl_dead', max_receive_count => 1);
RESET ROLE;
SELECT pgmsg.grant('dl_dead', 'regress_dl_user', ARRAY['send']);
SET ROLE regress_dl_user;
SELECT pgmsg.create_queue('dl_mine', dead_letter_queue => 'dl_dead', max_receive_count => 1);
-- the right is checked again whenever a message would move: once the
-- queue's owner may no longer send to the dead-letter queue, messages stay
-- in their queue and are delivered again
RESET ROLE;
SELECT pgmsg.revoke('dl_dead', 'regress_dl_user', ARRAY['send']);
SET ROLE regress_dl_user;
SELECT pgmsg.send('dl_mine', '{"mine": 1}') > 0 AS sent;
SELECT count(*) FROM pgmsg.receive('dl_mine', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_mine', 1, visibility_timeout => '0');
RESET ROLE;
SELECT count(*) FROM pgmsg.q_dl_dead;
-- changing the queue's settings does not bring the link back; a grant does
SET ROLE regress_dl_user;
SELECT pgmsg.alter_queue('dl_mine', max_receive_count => 1);
SELECT receive_count FROM pgmsg.receive('dl_mine', 1, visibility_timeout => '0');
RESET ROLE;
SELECT pgmsg.grant('dl_dead', 'regress_dl_user', ARRAY['send']);
SET ROLE regress_dl_user;
SELECT count(*) FROM pgmsg.receive('dl_mine', 1, visibility_timeout => '0');
RESET ROLE;
SELECT pgmsg.revoke('dl_dead', 'regress_dl_user', ARRAY['send']);
SELECT body, source_queue FROM pgmsg.q_dl_dead;
-- redrive needs receive on the dead-letter queue
SET ROLE regress_dl_user;
SELECT pgmsg.redrive('dl_dead');
RESET ROLE;
SELECT pgmsg.grant('dl_dead', 'regress_dl_user', ARRAY['receive']);
-- and send on each message's source: dl_fast is not the role's
CALL dl_fill(1);
SET ROLE regress_dl_user;
SELECT pgmsg.redrive('dl_dead');
-- the oldest message alone comes from the role's own queue
SELECT pgmsg.redrive('dl_dead', max_messages => 1);
-- or send on the destination
SELECT pgmsg.redrive('dl_dead', 'dl_other');
SELECT pgmsg.redrive('dl_dead', 'dl_mine');
RESET ROLE;
SELECT body, receive_count, source_queue FROM pgmsg.q_dl_mine ORDER BY body::text;
SELECT count(*) FROM pgmsg.q_dl_dead;
SELECT pgmsg.drop_queue('dl_mine');
REVOKE CREATE ON DATABASE :"DBNAME" FROM regress_dl_user;
SELECT pgmsg.revoke('dl_dead', 'regress_dl_user', ARRAY['receive']);
DROP ROLE regress_dl_user;

-- without a dead-letter queue, receives are no longer limited
SELECT pgmsg.alter_queue('dl_fast', dead_letter_queue => '');
SELECT pgmsg.send('dl_fast', '{"keep": 1}') > 0 AS sent;
SELECT receive_count FROM pgmsg.receive('dl_fast', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_fast', 1, visibility_timeout => '0');
SELECT receive_count FROM pgmsg.receive('dl_fast', 1, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.q_dl_dead;
-- and a dead-letter queue added later applies to the next receive
SELECT pgmsg.alter_queue('dl_fast', dead_letter_queue => 'dl_dead', max_receive_count => 2);
SELECT count(*) FROM pgmsg.receive('dl_fast', 1, visibility_timeout => '0');
SELECT body, receive_count, source_queue FROM pgmsg.q_dl_dead;
SELECT name, dead_lettered_total FROM pgmsg.queues WHERE name = 'dl_fast';
SELECT pgmsg.purge_queue('dl_dead');

--
-- Delays: a message is invisible until its delay has passed.  dl_poll
-- receives, with pg_sleep(0.1) between tries, until a message comes or 30
-- seconds pass; it reports whether one came, and whether it certainly came
-- before it was due (sent_at + delay).
--
CREATE FUNCTION dl_poll(queue text, delay interval,
                        OUT got boolean, OUT early boolean, OUT body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    m record;
    deadline timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
    got := false;
    early := false;
    LOOP
        SELECT * INTO m FROM pgmsg.receive(queue, 1);
        IF FOUND THEN
            got := true;
            early := clock_timestamp() < m.sent_at + delay;
            body := m.body;
            PERFORM pgmsg.delete(queue, m.receipt);
            RETURN;
        END IF;
        EXIT WHEN clock_timestamp() > deadline;
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;

-- per-message delay
SELECT pgmsg.create_queue('dl_late');
SELECT pgmsg.send('dl_late', '{"late": 1}', delay => '2 seconds') AS late_id \gset
SELECT pgmsg.send('dl_late', '{"now": 1}') > 0 AS sent;
SELECT visible_at - sent_at AS delay, visible_at AS late_due
  FROM pgmsg.q_dl_late WHERE msg_id = :late_id \gset
SELECT :'delay' AS delay;
-- the undelayed message comes at once, the delayed one not before it is due
SELECT body FROM pgmsg.receive('dl_late', 10)
 WHERE body = '{"now": 1}' OR clock_timestamp() < :'late_due';
SELECT messages_delayed = 1 OR clock_timestamp() >= :'late_due' AS counted_as_delayed,
       messages_in_flight
  FROM pgmsg.queues WHERE name = 'dl_late';
SELECT * FROM dl_poll('dl_late', '2 seconds');
SELECT messages_delayed FROM pgmsg.queues WHERE name = 'dl_late';
SELECT pgmsg.purge_queue('dl_late');

-- the queue's delay, and a delay of 0 that overrides it
SELECT pgmsg.alter_queue('dl_late', delay => '1 second');
SELECT delay FROM pgmsg.queues WHERE name = 'dl_late';
SELECT pgmsg.send('dl_late', '{"queue_delay": 1}') AS qd_id \gset
SELECT pgmsg.send('dl_late', '{"no_delay": 1}', delay => '0') > 0 AS sent;
SELECT visible_at - sent_at AS delay, visible_at AS qd_due
  FROM pgmsg.q_dl_late WHERE msg_id = :qd_id \gset
SELECT :'delay' AS delay;
SELECT body FROM pgmsg.receive('dl_late', 10)
 WHERE body = '{"no_delay": 1}' OR clock_timestamp() < :'qd_due';
SELECT * FROM dl_poll('dl_late', '1 second');
-- a long poll wakes up when a delayed message becomes visible
SELECT pgmsg.send('dl_late', '{"queue_delay": 2}') > 0 AS sent;
SELECT body, clock_timestamp() >= sent_at + interval '1 second' AS not_early
  FROM pgmsg.receive('dl_late', 1, wait => '20 seconds');
SELECT messages_delayed FROM pgmsg.queues WHERE name = 'dl_late';

-- a batch's delay applies to each message
SELECT pgmsg.alter_queue('dl_late', delay => '0');
SELECT pgmsg.purge_queue('dl_late');
SELECT count(*) FROM pgmsg.send_batch('dl_late', ARRAY['{"b": 1}', '{"b": 2}']::jsonb[],
                                      delay => '1 second');
SELECT bool_and(visible_at - sent_at = '1 second') AS all_delayed, min(visible_at) AS batch_due
  FROM pgmsg.q_dl_late \gset
SELECT :'all_delayed' AS all_delayed;
SELECT count(*) FROM pgmsg.receive('dl_late', 10) WHERE clock_timestamp() < :'batch_due';
SELECT * FROM dl_poll('dl_late', '1 second');
SELECT * FROM dl_poll('dl_late', '1 second');
SELECT pgmsg.drop_queue('dl_late');

--
-- Retention bounds.
--
SELECT pgmsg.create_queue('dl_ret', retention => '30 seconds');
SELECT pgmsg.create_queue('dl_ret', retention => '15 days');
SELECT pgmsg.create_queue('dl_ret', retention => '1 minute');
SELECT pgmsg.alter_queue('dl_ret', retention => '59 seconds');
SELECT pgmsg.alter_queue('dl_ret', retention => '14 days 1 second');
SELECT pgmsg.alter_queue('dl_ret', retention => '14 days');
SELECT retention FROM pgmsg.queues WHERE name = 'dl_ret';
SELECT pgmsg.drop_queue('dl_ret');

-- clean up: dead-letter queues go after their sources
SELECT pgmsg.drop_queue('dl_work');
-- only a dead-letter queue has source queues to redrive to
SELECT pgmsg.create_queue('dl_plain');
SELECT pgmsg.send('dl_plain', '{"p": 1}') > 0 AS sent;
SELECT pgmsg.redrive('dl_plain');
SELECT pgmsg.start_redrive('dl_plain');
SELECT pgmsg.redrive('dl_plain', 'dl_other');
SELECT count(*) FROM pgmsg.q_dl_other;
SELECT pgmsg.purge_queue('dl_other');
-- a dead-letter queue keeps what was sent to it directly, and says so
SELECT pgmsg.send('dl_dead', '{"direct": 1}') > 0 AS sent;
SELECT pgmsg.redrive('dl_dead');
SELECT body FROM pgmsg.q_dl_dead WHERE body ? 'direct';
SELECT pgmsg.purge_queue('dl_dead');
SELECT pgmsg.drop_queue('dl_plain');

SELECT pgmsg.drop_queue('dl_fast');
SELECT pgmsg.drop_queue('dl_fwork');
SELECT pgmsg.drop_queue('dl_dead');
SELECT pgmsg.drop_queue('dl_fdead');
SELECT pgmsg.drop_queue('dl_other');

-- one receive that moves several messages and returns one after them
SELECT pgmsg.create_queue('dl_mdead');
SELECT pgmsg.create_queue('dl_mwork', visibility_timeout => '1 hour',
                          dead_letter_queue => 'dl_mdead', max_receive_count => 2);
SELECT count(*) FROM pgmsg.send_batch('dl_mwork', ARRAY['{"job": 1}', '{"job": 2}', '{"job": 3}']::jsonb[]);
SELECT count(*) FROM pgmsg.receive('dl_mwork', 10, visibility_timeout => '0');
SELECT count(*) FROM pgmsg.receive('dl_mwork', 10, visibility_timeout => '0');
SELECT pgmsg.send('dl_mwork', '{"job": 4}') > 0 AS sent;
SELECT body, receive_count FROM pgmsg.receive('dl_mwork', 10);
SELECT body, receive_count, source_queue FROM pgmsg.q_dl_mdead ORDER BY body->>'job';
SELECT body FROM pgmsg.q_dl_mwork;
SELECT pgmsg.drop_queue('dl_mwork');
SELECT pgmsg.drop_queue('dl_mdead');
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'dl\_%';
DROP PROCEDURE dl_fill(int);
DROP FUNCTION dl_poll(text, interval);
