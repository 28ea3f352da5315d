-- A large redrive can be cancelled, and a cancelled one moves nothing.
SELECT pgmsg.create_queue('rc_dl');
SELECT pgmsg.create_queue('rc_dest');
SELECT count(*) FROM generate_series(1, 100) b,
  LATERAL pgmsg.send_batch('rc_dl',
    ARRAY(SELECT jsonb_build_object('n', (b - 1) * 1000 + i) FROM generate_series(1, 1000) i));
SET statement_timeout = '20ms';
SELECT pgmsg.redrive('rc_dl', 'rc_dest');
RESET statement_timeout;
SELECT count(*) FROM pgmsg.q_rc_dl;
SELECT count(*) FROM pgmsg.q_rc_dest;
SELECT messages_visible, messages_in_flight FROM pgmsg.queues WHERE name = 'rc_dl';
-- the messages are all there to move, none in flight
SELECT pgmsg.redrive('rc_dl', 'rc_dest', max_messages => 2500);
SELECT count(*) FROM pgmsg.q_rc_dl;
SELECT count(*), count(DISTINCT body) FROM pgmsg.q_rc_dest;
SELECT pgmsg.drop_queue('rc_dl');
SELECT pgmsg.drop_queue('rc_dest');
