-- The per-queue limit of messages in flight, max_in_flight.

-- SQS's limits are the defaults
SELECT pgmsg.create_queue('if_default');
SELECT pgmsg.create_queue('if_default_fifo', fifo => true);
SELECT name, max_in_flight FROM pgmsg.queue_meta WHERE name LIKE 'if\_default%' ORDER BY name;

-- out of range, and nothing changes
SELECT pgmsg.create_queue('if_bad', max_in_flight => 0);
SELECT pgmsg.create_queue('if_bad', max_in_flight => 1000001);
SELECT pgmsg.alter_queue('if_default', max_in_flight => -1);
SELECT count(*) FROM pgmsg.queue_meta WHERE name = 'if_bad';
SELECT max_in_flight FROM pgmsg.queue_meta WHERE name = 'if_default';

-- a standard queue returns what fits under the limit, then refuses
SELECT pgmsg.create_queue('if_std', max_in_flight => 3, visibility_timeout => '1 hour');
SELECT count(pgmsg.send('if_std', jsonb_build_object('n', n))) FROM generate_series(1, 6) n;
SELECT receipt AS r1 FROM pgmsg.receive('if_std') \gset
SELECT receipt AS r2 FROM pgmsg.receive('if_std') \gset
SELECT body FROM pgmsg.receive('if_std', 10);
SELECT body FROM pgmsg.receive('if_std', 10);
-- deleting one makes room for one
SELECT pgmsg.delete('if_std', :'r1');
SELECT body FROM pgmsg.receive('if_std', 10);
-- a redelivery takes no new lease: an expired message is received again
SELECT pgmsg.change_visibility('if_std', :'r2', '0');
SELECT body, receive_count FROM pgmsg.receive('if_std', 10);
-- raising the limit with alter_queue lets more through
SELECT pgmsg.alter_queue('if_std', max_in_flight => 5);
SELECT body FROM pgmsg.receive('if_std', 10);
SELECT messages_in_flight FROM pgmsg.queues WHERE name = 'if_std';

-- a FIFO queue at its limit returns nothing, without an error
SELECT pgmsg.create_queue('if_fifo', fifo => true, max_in_flight => 2,
                          visibility_timeout => '1 hour');
SELECT count(pgmsg.send('if_fifo', jsonb_build_object('n', n), group_id => 'g' || n))
  FROM generate_series(1, 4) n;
SELECT body FROM pgmsg.receive('if_fifo', 10);
SELECT count(*) FROM pgmsg.receive('if_fifo', 10);

SELECT pgmsg.drop_queue('if_default');
SELECT pgmsg.drop_queue('if_default_fifo');
SELECT pgmsg.drop_queue('if_std');
SELECT pgmsg.drop_queue('if_fifo');
