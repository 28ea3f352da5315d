-- Every bad argument gets a clear error and changes nothing.
SELECT pgmsg.create_queue('eq', visibility_timeout => '1 hour', max_message_size => 64);

-- names
SELECT pgmsg.create_queue('a;drop table x');
SELECT pgmsg.create_queue('Upper');
SELECT pgmsg.create_queue('');
SELECT pgmsg.create_queue('1abc');
SELECT pgmsg.create_queue('_abc');
SELECT pgmsg.create_queue(repeat('a', 49));
SELECT pgmsg.create_queue(repeat('a', 48)) IS NULL AS created;
SELECT pgmsg.drop_queue(repeat('a', 48));
SELECT pgmsg.create_queue(repeat('x', 500));
SELECT pgmsg.create_queue(NULL);
SELECT pgmsg.create_queue('eq');
SELECT pgmsg.send('a;drop table x', '{}');
SELECT count(*) FROM pgmsg.queues;

-- unknown queue, for every function
SELECT pgmsg.alter_queue('nope', visibility_timeout => '1 minute');
SELECT pgmsg.drop_queue('nope');
SELECT pgmsg.purge_queue('nope');
SELECT pgmsg.send('nope', '{}');
SELECT pgmsg.send_batch('nope', ARRAY['{}']::jsonb[]);
SELECT * FROM pgmsg.receive('nope');
SELECT pgmsg.delete('nope', repeat('0', 56));
SELECT pgmsg.delete('nope', ARRAY[repeat('0', 56)]);
SELECT pgmsg.change_visibility('nope', repeat('0', 56), '1 minute');
SELECT pgmsg.change_visibility('nope', ARRAY[repeat('0', 56)], '1 minute');
SELECT pgmsg.grant('nope', 'public', ARRAY['send']);
SELECT pgmsg.revoke('nope', 'public', ARRAY['send']);
SELECT pgmsg.redrive('nope');

-- NULL arguments
SELECT pgmsg.create_queue('n1', visibility_timeout => NULL);
SELECT pgmsg.create_queue('n1', delay => NULL);
SELECT pgmsg.create_queue('n1', retention => NULL);
SELECT pgmsg.create_queue('n1', max_message_size => NULL);
SELECT pgmsg.create_queue('n1', fifo => NULL);
SELECT pgmsg.create_queue('n1', notify => NULL);
SELECT pgmsg.drop_queue(NULL);
SELECT pgmsg.purge_queue(NULL);
SELECT pgmsg.send(NULL, '{}');
SELECT pgmsg.send('eq', NULL);
SELECT pgmsg.send_batch('eq', NULL);
SELECT pgmsg.send_batch('eq', ARRAY['{}', NULL]::jsonb[]);
SELECT * FROM pgmsg.receive(NULL);
SELECT * FROM pgmsg.receive('eq', NULL);
SELECT * FROM pgmsg.receive('eq', 1, wait => NULL);
SELECT pgmsg.delete('eq', NULL::text);
SELECT pgmsg.delete('eq', NULL::text[]);
SELECT pgmsg.delete('eq', ARRAY[NULL]::text[]);
SELECT pgmsg.change_visibility('eq', NULL::text, '1 minute');
SELECT pgmsg.change_visibility('eq', NULL::text[], '1 minute');
SELECT pgmsg.change_visibility('eq', ARRAY[NULL]::text[], '1 minute');
SELECT pgmsg.grant('eq', NULL, ARRAY['send']);
SELECT pgmsg.grant('eq', 'public', NULL);
SELECT count(*) FROM pgmsg.queues WHERE name = 'n1';

-- intervals out of range
SELECT pgmsg.create_queue('i1', visibility_timeout => '-1 second');
SELECT pgmsg.create_queue('i1', visibility_timeout => '12 hours 1 second');
SELECT pgmsg.create_queue('i1', visibility_timeout => '1000 years');
SELECT pgmsg.create_queue('i1', delay => '-1 second');
SELECT pgmsg.create_queue('i1', delay => '16 minutes');
SELECT pgmsg.create_queue('i1', retention => '59 seconds');
SELECT pgmsg.create_queue('i1', retention => '15 days');
SELECT pgmsg.create_queue('i1', max_message_size => 0);
SELECT pgmsg.create_queue('i1', max_message_size => 1048577);
SELECT pgmsg.alter_queue('eq', visibility_timeout => '13 hours');
SELECT pgmsg.alter_queue('eq', delay => '1 hour');
SELECT pgmsg.send('eq', '{}', delay => '-5 seconds');
SELECT pgmsg.send('eq', '{}', delay => '1 hour');
SELECT * FROM pgmsg.receive('eq', 1, visibility_timeout => '-1 second');
SELECT * FROM pgmsg.receive('eq', 1, visibility_timeout => '13 hours');
SELECT * FROM pgmsg.receive('eq', 1, wait => '21 seconds');
SELECT * FROM pgmsg.receive('eq', 1, wait => '-1 second');
SELECT * FROM pgmsg.receive('eq', 0);
SELECT * FROM pgmsg.receive('eq', 1001);
SELECT * FROM pgmsg.receive('eq', -1);
SELECT pgmsg.change_visibility('eq', repeat('0', 56), '-1 second');
SELECT pgmsg.change_visibility('eq', repeat('0', 56), '13 hours');
SELECT pgmsg.change_visibility('eq', repeat('0', 56), NULL);
SELECT visibility_timeout, delay FROM pgmsg.queues WHERE name = 'eq';

-- message size and attributes
SELECT pgmsg.send('eq', jsonb_build_object('pad', repeat('x', 100)));
SELECT pgmsg.send('eq', '{}', jsonb_build_object('pad', repeat('x', 100)));
SELECT pgmsg.send('eq', '{}', '[1]');
SELECT pgmsg.send('eq', '{}', '"text"');
SELECT pgmsg.send('eq', '{}', 'null');
SELECT pgmsg.send('eq', '{}', '{"a": {"b": 1}}');
SELECT pgmsg.send('eq', '{}', '{"a": [1, 2]}');
SELECT pgmsg.send('eq', '{}', '{"a": true}');
SELECT pgmsg.send('eq', '{}', '{"a": null}');
SELECT pgmsg.send('eq', '{}', '{"": "x"}');
SELECT pgmsg.alter_queue('eq', max_message_size => 1048576);
-- names count characters, not bytes; long ones are cut short in the error
BEGIN;
SELECT pgmsg.send('eq', '{}', jsonb_build_object(repeat('é', 256), 1)) > 0 AS sent;
ROLLBACK;
SELECT pgmsg.send('eq', '{}', jsonb_build_object(repeat('é', 257), 1));
SELECT pgmsg.send('eq', '{}', (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 11) i));
SELECT pgmsg.send_batch('eq', ARRAY['{}', '{}']::jsonb[], ARRAY['{}']::jsonb[]);
SELECT pgmsg.send_batch('eq', ARRAY['{}', '{}']::jsonb[], ARRAY['{}', '[1]']::jsonb[]);
SELECT count(*) FROM pgmsg.q_eq;

-- receipts: malformed ones are errors; forged, stale or foreign ones are false
SELECT pgmsg.delete('eq', 'garbage');
SELECT pgmsg.delete('eq', repeat('0', 55));
SELECT pgmsg.delete('eq', upper(repeat('a', 56)));
SELECT pgmsg.delete('eq', repeat('g', 56));
SELECT pgmsg.delete('eq', repeat('z', 2000));
SELECT pgmsg.delete('eq', ARRAY[repeat('0', 56), 'garbage']);
SELECT pgmsg.change_visibility('eq', 'garbage', '1 minute');
SELECT pgmsg.send('eq', '{"forge": 1}') > 0 AS sent;
CREATE TEMP TABLE rr AS SELECT receipt FROM pgmsg.receive('eq');
-- the last hex digit changed: the nonce no longer matches
SELECT pgmsg.delete('eq', left(receipt, 55) || CASE WHEN right(receipt, 1) = '0' THEN '1' ELSE '0' END) FROM rr;
SELECT pgmsg.change_visibility('eq', left(receipt, 55) || CASE WHEN right(receipt, 1) = '0' THEN '1' ELSE '0' END, '0') FROM rr;
-- a receipt presented to another queue
SELECT pgmsg.create_queue('other');
SELECT pgmsg.delete('other', receipt) FROM rr;
-- the message is still leased to the real receipt
SELECT count(*) FROM pgmsg.receive('eq');
SELECT pgmsg.delete('eq', receipt) FROM rr;
SELECT pgmsg.drop_queue('other');

-- queues are not renamed or corrupted by any of the above
SELECT name FROM pgmsg.queues ORDER BY name;
SELECT pgmsg.drop_queue('eq');

-- two-phase commit is refused for transactions that used pgmsg
SELECT pgmsg.create_queue('tpc');
BEGIN;
SELECT pgmsg.send('tpc', '{}') > 0 AS sent;
PREPARE TRANSACTION 'p1';
SELECT count(*) FROM pgmsg.q_tpc;
SELECT pgmsg.drop_queue('tpc');
