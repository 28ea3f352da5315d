-- Receiving fresh messages writes no WAL.
SELECT pgmsg.create_queue('wal_a', visibility_timeout => '1 hour');
SELECT pgmsg.create_queue('wal_b', visibility_timeout => '1 hour');
ALTER TABLE pgmsg.q_wal_a SET (autovacuum_enabled = off);
ALTER TABLE pgmsg.q_wal_b SET (autovacuum_enabled = off);
SELECT count(*) FROM pgmsg.send_batch('wal_a',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 1000) i));
SELECT count(*) FROM pgmsg.send_batch('wal_b',
    (SELECT array_agg(jsonb_build_object('n', i)) FROM generate_series(1, 1000) i));
-- set hint bits first, as any reader would
SELECT count(*) FROM pgmsg.q_wal_a;
SELECT count(*) FROM pgmsg.q_wal_b;
CHECKPOINT;

-- one receive of 1,000
SELECT pg_current_wal_insert_lsn() AS before \gset
SELECT count(*) FROM pgmsg.receive('wal_a', 1000);
SELECT pg_current_wal_insert_lsn() AS after \gset
SELECT pg_wal_lsn_diff(:'after', :'before') < 16384 AS under_16kb;

-- 1,000 receives of one, in one transaction
SELECT pg_current_wal_insert_lsn() AS before \gset
DO $$
BEGIN
  FOR i IN 1..1000 LOOP
    PERFORM pgmsg.receive('wal_b', 1);
  END LOOP;
END $$;
SELECT pg_current_wal_insert_lsn() AS after \gset
SELECT pg_wal_lsn_diff(:'after', :'before') < 16384 AS under_16kb;
SELECT messages_in_flight FROM pgmsg.queues WHERE name IN ('wal_a', 'wal_b') ORDER BY name;

SELECT pgmsg.drop_queue('wal_a');
SELECT pgmsg.drop_queue('wal_b');
