-- Receiving fresh messages writes no WAL.
SELECT pgmsg.create_queue('wal_a', visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('wal_b', visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('wal_c', visibility_timeout => '1 hour');
ALTER TABLE pgmsg.q_wal_a SET (autovacuum_enabled = off);
ALTER TABLE pgmsg.q_wal_b SET (autovacuum_enabled = off);
ALTER TABLE pgmsg.q_wal_c SET (autovacuum_enabled = off);
SELECT count(*) FROM pgmsg.send_batch('wal_a',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 1000) i));
SELECT count(pgmsg.send('wal_b', jsonb_build_object('n', i))) FROM generate_series(1, 1000) i;
SELECT count(*) FROM pgmsg.send_batch('wal_c',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 10) i));
-- set hint bits first, as any reader would (with data checksums or
-- wal_log_hints, the first reader logs them)
SELECT count(*) FROM pgmsg.q_wal_a;
SELECT count(*) FROM pgmsg.q_wal_b;
SELECT count(*) FROM pgmsg.q_wal_c;
CHECKPOINT;

-- one receive of 1,000
SELECT pg_current_wal_insert_lsn() AS before \gset
SELECT count(*) FROM pgmsg.receive('wal_a', 1000);
SELECT pg_current_wal_insert_lsn() AS after \gset
SELECT pg_wal_lsn_diff(:'after', :'before') < 16384 AS under_16kb;

-- 1,000 receives of one, in one transaction
SELECT pg_current_wal_insert_lsn() AS before \gset
DO $$
DECLARE
  total int := 0;
  got int;
BEGIN
  FOR i IN 1..1000 LOOP
    SELECT count(*) INTO got FROM pgmsg.receive('wal_b', 1);
    total := total + got;
  END LOOP;
  RAISE NOTICE 'received %', total;
END $$;
SELECT pg_current_wal_insert_lsn() AS after \gset
SELECT pg_wal_lsn_diff(:'after', :'before') < 16384 AS under_16kb;

-- all of them are in flight, and nothing is left
SELECT name, messages_visible, messages_in_flight FROM pgmsg.queues
 WHERE name IN ('wal_a', 'wal_b') ORDER BY name;
SELECT count(*) FROM pgmsg.receive('wal_a', 1000);
SELECT count(*) FROM pgmsg.receive('wal_b', 1000);
-- no row was written
SELECT count(*) FILTER (WHERE receive_count = 0 AND first_received_at IS NULL) AS untouched,
       count(*)
  FROM pgmsg.q_wal_a;
SELECT count(*) FILTER (WHERE receive_count = 0 AND first_received_at IS NULL) AS untouched,
       count(*)
  FROM pgmsg.q_wal_b;

-- a transaction that only receives fresh messages needs no transaction id
BEGIN;
SELECT count(*) FROM pgmsg.receive('wal_c', 10);
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_xid;
COMMIT;

SELECT pgmsg.drop_queue('wal_a');
SELECT pgmsg.drop_queue('wal_b');
SELECT pgmsg.drop_queue('wal_c');
