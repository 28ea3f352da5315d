/* pgmsg--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgmsg UPDATE TO '1.1'" to load this file. \quit

/*
 * Everything pgmsg--1.1.sql has that pgmsg--1.0.sql had not, in the same
 * order.  t/005_upgrade.pl checks that an extension updated from 1.0 has
 * exactly the objects, definitions and privileges of a fresh 1.1.
 */

/*
 * Push subscriptions (push_subscribe.c, push_worker.c).  A push
 * subscription is an ordinary subscription of the topic to an internal
 * queue, pgmsg_push_<n>, with its own dead-letter queue; the push worker
 * of the database receives from that queue and delivers out of the
 * database, to AWS SNS (PublishBatch) or to an HTTPS webhook.  The secret
 * of a webhook is in this table only, which no role but the extension
 * owner can read; pgmsg.push_secret hands it to the subscription's owner.
 */
CREATE SEQUENCE pgmsg.push_queue_seq AS integer;

CREATE TABLE pgmsg.push_subscription (
    subscription_id      integer PRIMARY KEY
                         REFERENCES pgmsg.subscription ON DELETE CASCADE,
    protocol             text NOT NULL CHECK (protocol IN ('sns', 'https')),
    endpoint             text NOT NULL,      -- topic ARN or webhook URL
    region               text,               -- sns
    endpoint_url         text,               -- sns: NULL = AWS's own
    headers              jsonb,              -- https
    secret               text,               -- https: Standard Webhooks key
    dead_letter_queue_id integer NOT NULL,
    delivered            bigint NOT NULL DEFAULT 0,
    dead_lettered        bigint NOT NULL DEFAULT 0,
    retrying             integer NOT NULL DEFAULT 0,
    last_error           text,
    last_error_at        timestamptz,
    last_success_at      timestamptz
);

REVOKE ALL ON pgmsg.push_subscription, pgmsg.push_queue_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('pgmsg.push_subscription', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.push_queue_seq', '');

CREATE FUNCTION pgmsg.subscribe_sns(topic text, target_arn text, region text,
    endpoint_url         text    DEFAULT NULL,
    filter_policy        jsonb   DEFAULT NULL,
    filter_policy_scope  text    DEFAULT 'MessageAttributes',
    raw_message_delivery boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_subscribe_sns'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.subscribe_http(topic text, url text,
    filter_policy        jsonb   DEFAULT NULL,
    filter_policy_scope  text    DEFAULT 'MessageAttributes',
    raw_message_delivery boolean DEFAULT false,
    headers              jsonb   DEFAULT NULL,
    secret               text    DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_subscribe_http'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.unsubscribe_push(subscription_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_unsubscribe_push_id'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.unsubscribe_push(topic text, endpoint text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_unsubscribe_push'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.push_secret(subscription_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'pgmsg_push_secret'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE VIEW pgmsg.subscriptions AS
SELECT s.subscription_id,
       t.name AS topic,
       COALESCE(p.protocol, 'queue'::text) AS protocol,
       COALESCE(p.endpoint, q.name) AS endpoint,
       s.filter_policy,
       s.filter_policy_scope,
       s.raw_message_delivery,
       (SELECT r.rolname FROM pg_catalog.pg_roles r
         WHERE r.oid OPERATOR(pg_catalog.=) s.owner) AS owner,
       s.created_at,
       CASE WHEN p.subscription_id IS NOT NULL THEN q.name END AS push_queue,
       d.name AS push_dead_letter_queue,
       p.delivered,
       p.retrying,
       p.dead_lettered,
       p.last_error,
       p.last_error_at,
       p.last_success_at,
       CASE WHEN p.subscription_id IS NOT NULL THEN
           COALESCE(pg_catalog.now() OPERATOR(pg_catalog.-)
                    (SELECT st.oldest_sent_at FROM pgmsg.queue_stats() st
                      WHERE st.queue_id OPERATOR(pg_catalog.=) q.queue_id),
                    '0'::interval)
       END AS lag
  FROM pgmsg.subscription s
  JOIN pgmsg.topic_meta t USING (topic_id)
  JOIN pgmsg.queue_meta q USING (queue_id)
  LEFT JOIN pgmsg.push_subscription p USING (subscription_id)
  LEFT JOIN pgmsg.queue_meta d ON d.queue_id OPERATOR(pg_catalog.=) p.dead_letter_queue_id;
