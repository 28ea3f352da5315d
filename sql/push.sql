-- Push subscriptions: the SQL side (delivery is tested in t/04*_push*.pl).
SELECT pgmsg.create_topic('p_events');
SELECT pgmsg.create_topic('p_ordered', fifo => true);

-- subscribe_sns: bad input changes nothing
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1x');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'US-EAST-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'east');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sqs:us-east-1:123456789012:orders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:1234:orders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:or/ders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:foo:sns:us-east-1:123456789012:orders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:eu-west-1:123456789012:orders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders.fifo', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_ordered', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1',
                           endpoint_url => 'http://127.0.0.1:9/');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1',
                           endpoint_url => 'not a url');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1',
                           filter_policy => '{"color": "red"}');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1',
                           filter_policy_scope => 'Body');
SELECT pgmsg.subscribe_sns('nope', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', NULL, 'us-east-1');
SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', NULL);
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pgmsg_push_%';

-- subscribe_http: bad input changes nothing
SELECT pgmsg.subscribe_http('p_events', 'http://127.0.0.1:9/hook');
SELECT pgmsg.subscribe_http('p_events', 'ftp://example.com/hook');
SELECT pgmsg.subscribe_http('p_events', 'https://');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/a b');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '["x"]');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '"x"');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '{"X-Team": 7}');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '{"X Team": "a"}');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '{"X-Team": "a\r\nX-Evil: 1"}');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '{"Content-Type": "text/xml"}');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', headers => '{"webhook-signature": "v1,x"}');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', secret => '');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', secret => 'whsec_');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', secret => 'whsec_not base64!');
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook', raw_message_delivery => NULL);
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pgmsg_push_%';

-- plain http only when allowed, for tests
SET pgmsg.allow_insecure_push = on;
SELECT pgmsg.subscribe_http('p_events', 'http://127.0.0.1:9/hook') > 0 AS subscribed;
RESET pgmsg.allow_insecure_push;

SELECT pgmsg.subscribe_sns('p_events', 'arn:aws:sns:us-east-1:123456789012:orders', 'us-east-1',
                           filter_policy => '{"color": ["red"]}') > 0 AS subscribed;
SELECT pgmsg.subscribe_sns('p_ordered', 'arn:aws:sns:eu-west-1:123456789012:orders.fifo', 'eu-west-1',
                           endpoint_url => 'https://sns.example.com/') > 0 AS subscribed;
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook',
                            headers => '{"Authorization": "Bearer abc"}',
                            secret => 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') > 0 AS subscribed;
-- the same target twice
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/hook');
SELECT topic, protocol, endpoint, filter_policy, raw_message_delivery,
       push_queue LIKE 'pgmsg_push_%' AS has_queue,
       push_dead_letter_queue LIKE 'pgmsg_push_%_dlq' AS has_dlq,
       delivered, retrying, dead_lettered, last_error, lag IS NOT NULL AS has_lag
  FROM pgmsg.subscriptions WHERE topic LIKE 'p_%' ORDER BY subscription_id;
-- the secret is in no view
SELECT count(*) FROM pgmsg.subscriptions s
 WHERE s::text LIKE '%MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw%';

-- push_secret: the owner and superusers only
SELECT pgmsg.push_secret(subscription_id) FROM pgmsg.subscriptions
 WHERE endpoint = 'https://example.com/hook';
SELECT pgmsg.push_secret(-1);
CREATE ROLE pgmsg_push_other;
SELECT subscription_id AS hook_id FROM pgmsg.subscriptions
 WHERE endpoint = 'https://example.com/hook' \gset
SET ROLE pgmsg_push_other;
-- the id varies with the tests run before: show the SQLSTATE alone
\set VERBOSITY sqlstate
SELECT pgmsg.push_secret(:hook_id);
\set VERBOSITY default
SELECT * FROM pgmsg.push_subscription;
SELECT pgmsg.subscribe_http('p_events', 'https://example.com/other');
SELECT pgmsg.unsubscribe_push('p_events', 'https://example.com/hook');
-- a non-superuser never sees the AWS credential settings
SELECT name, setting FROM pg_settings WHERE name LIKE 'pgmsg.aws%' ORDER BY name;
SHOW pgmsg.aws_secret_access_key;
RESET ROLE;
DROP ROLE pgmsg_push_other;

-- unsubscribe_push removes the subscription and its queues; a dead-letter
-- queue holding messages is the subscriber's record of what could not be
-- delivered, and stays (with a notice naming it)
SELECT push_queue AS hook_queue, push_dead_letter_queue AS hook_dlq
  FROM pgmsg.subscriptions WHERE endpoint = 'https://example.com/hook' \gset
SELECT pgmsg.send(:'hook_dlq', '{"lost": 1}', '{"pgmsg_error": "HTTP 410"}') > 0 AS sent;
SET client_min_messages = warning;
SELECT pgmsg.unsubscribe_push('p_events', 'https://example.com/hook');
RESET client_min_messages;
SELECT pgmsg.unsubscribe_push('p_events', 'https://example.com/hook');
SELECT name = :'hook_dlq' AS kept, messages_visible FROM pgmsg.queues
 WHERE name IN (:'hook_queue', :'hook_dlq');
SELECT body, attributes FROM pgmsg.receive(:'hook_dlq');
SELECT pgmsg.drop_queue(:'hook_dlq');
-- an empty one goes with the subscription
SELECT pgmsg.unsubscribe_push(subscription_id) FROM pgmsg.subscriptions
 WHERE topic = 'p_ordered';
-- and one whose dead-letter queue its subscriber dropped can be removed
SELECT pgmsg.subscribe_http('p_ordered', 'https://example.com/seq') > 0 AS subscribed;
SELECT pgmsg.drop_queue(push_dead_letter_queue) FROM pgmsg.subscriptions
 WHERE endpoint = 'https://example.com/seq';
SELECT pgmsg.unsubscribe_push('p_ordered', 'https://example.com/seq');
SELECT pgmsg.unsubscribe_push(NULL);
SELECT pgmsg.unsubscribe_push('nope', 'https://example.com/hook');
SELECT topic, protocol, endpoint FROM pgmsg.subscriptions WHERE topic LIKE 'p_%'
 ORDER BY subscription_id;
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pgmsg_push_%';
-- dropping the topic removes its push subscriptions as unsubscribe_push
-- does, whoever owns them: their queues go, but for a dead-letter queue
-- holding messages
SELECT push_dead_letter_queue AS sns_dlq FROM pgmsg.subscriptions
 WHERE protocol = 'sns' AND topic = 'p_events' \gset
SELECT pgmsg.send(:'sns_dlq', '{"lost": 2}') > 0 AS sent;
CREATE ROLE pgmsg_push_manager;
SELECT pgmsg.grant('p_events', 'pgmsg_push_manager', ARRAY['manage']);
SET ROLE pgmsg_push_manager;
SET client_min_messages = warning;
SELECT pgmsg.drop_topic('p_events');
RESET client_min_messages;
RESET ROLE;
SELECT pgmsg.drop_topic('p_ordered');
SELECT count(*) FROM pgmsg.push_subscription;
SELECT name = :'sns_dlq' AS kept, messages_visible FROM pgmsg.queues
 WHERE name LIKE 'pgmsg_push_%';
SELECT pgmsg.drop_queue(:'sns_dlq');
DROP ROLE pgmsg_push_manager;

-- pgmsg.push_stats(): a row per push subscription, to the roles that see it
-- in pgmsg.subscriptions and to pg_monitor
CREATE ROLE pgmsg_push_nobody;
CREATE ROLE pgmsg_push_monitor IN ROLE pg_monitor;
SELECT pgmsg.create_topic('p_stats');
SELECT pgmsg.subscribe_http('p_stats', 'https://127.0.0.1:1/hook') > 0 AS subscribed;
SELECT topic, protocol, push_queue LIKE 'pgmsg_push_%' AS push_queue,
       dead_letter_queue = push_queue || '_dlq' AS dead_letter_queue,
       delivered, retrying, dead_lettered, messages_waiting, dead_letter_messages, lag
  FROM pgmsg.push_stats() WHERE topic = 'p_stats';
-- a published message waits, in flight or not, and its age is the lag
SELECT pgmsg.publish('p_stats', '{"n": 1}');
SELECT messages_waiting + dead_letter_messages AS messages, lag > '0' AS lagging
  FROM pgmsg.push_stats() WHERE topic = 'p_stats';
SELECT lag > '0' AS lagging FROM pgmsg.subscriptions WHERE topic = 'p_stats';
SET ROLE pgmsg_push_nobody;
SELECT count(*) FROM pgmsg.push_stats() WHERE topic = 'p_stats';
SET ROLE pgmsg_push_monitor;
SELECT count(*) FROM pgmsg.push_stats() WHERE topic = 'p_stats';
RESET ROLE;
-- dropping the topic ends the subscription and drops its empty queues
SELECT pgmsg.drop_topic('p_stats');
SELECT count(*) FROM pgmsg.push_stats() WHERE topic = 'p_stats';
SELECT count(*) FROM pgmsg.queues WHERE name LIKE 'pgmsg_push_%';
DROP ROLE pgmsg_push_nobody, pgmsg_push_monitor;
