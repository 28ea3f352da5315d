/* pgmsg--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgmsg UPDATE TO '1.1'" to load this file. \quit

/*
 * Everything pgmsg--1.1.sql has that pgmsg--1.0.sql had not, in the same
 * order.  t/005_upgrade.pl checks that an extension updated from 1.0 has
 * exactly the objects, definitions and privileges of a fresh 1.1.
 */

/*
 * Receive counts of messages in flight (metrics.c): per queue, the held
 * leases, the largest receive count among them and a cumulative histogram,
 * read from shared memory without scanning queue tables.
 */
CREATE FUNCTION pgmsg.queue_receive_counts(
    OUT queue             text,
    OUT messages_held     bigint,
    OUT receive_count_max integer,
    OUT receive_count_sum bigint,
    OUT receive_count_le  integer[],
    OUT messages_le       bigint[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgmsg_queue_receive_counts'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

/*
 * Ownership through dump and restore (catalog.c, acl.c, queue.c).  Owners
 * and grantees become regrole, which pg_dump writes as role names; the
 * self-referencing foreign key of queue_meta goes, as pg_dump reports it
 * as circular; the FIFO dedup window is dumped; and an event trigger makes
 * a restored queue table depend on the extension again.  The views,
 * which read the retyped columns, are made again, now showing each role
 * only what it has some right on.
 */
DROP VIEW pgmsg.queues, pgmsg.redrive_tasks, pgmsg.topics, pgmsg.subscriptions;
ALTER TABLE pgmsg.queue_meta ALTER COLUMN owner TYPE regrole;
ALTER TABLE pgmsg.queue_meta DROP CONSTRAINT queue_meta_dead_letter_queue_id_fkey;
ALTER TABLE pgmsg.queue_grants ALTER COLUMN grantee TYPE regrole;
ALTER TABLE pgmsg.redrive_task ALTER COLUMN started_by TYPE regrole;
ALTER TABLE pgmsg.topic_meta ALTER COLUMN owner TYPE regrole;
ALTER TABLE pgmsg.subscription ALTER COLUMN owner TYPE regrole;
ALTER TABLE pgmsg.topic_grants ALTER COLUMN grantee TYPE regrole;
SELECT pg_catalog.pg_extension_config_dump('pgmsg.dedup', '');

/*
 * A restore creates queue tables as ordinary tables after CREATE
 * EXTENSION; this gives each the dependency on the extension that
 * create_queue gave it, which pg_dump does not carry (queue.c).
 */
CREATE FUNCTION pgmsg.adopt_queue_tables()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'pgmsg_adopt_queue_tables'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION pgmsg.adopt_queue_tables() FROM PUBLIC;

CREATE EVENT TRIGGER pgmsg_adopt_queue_tables ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION pgmsg.adopt_queue_tables();

CREATE VIEW pgmsg.queues AS
SELECT m.name,
       m.visibility_timeout,
       m.delay,
       m.retention,
       m.max_message_size,
       d.name AS dead_letter_queue,
       m.max_receive_count,
       m.fifo,
       m.content_based_dedup,
       m.notify,
       -- NULL once the owning role has been dropped
       (SELECT r.rolname FROM pg_catalog.pg_roles r
         WHERE r.oid OPERATOR(pg_catalog.=) m.owner) AS owner,
       m.created_at,
       s.messages - s.messages_in_flight - s.messages_delayed AS messages_visible,
       s.messages_in_flight,
       s.messages_delayed,
       pg_catalog.now() - s.oldest_sent_at AS oldest_message_age,
       s.sent_total,
       s.received_total,
       s.deleted_total,
       s.dead_lettered_total
  FROM pgmsg.queue_meta m
  JOIN pgmsg.queue_stats() s USING (queue_id)
  LEFT JOIN pgmsg.queue_meta d ON d.queue_id = m.dead_letter_queue_id
 WHERE pg_catalog.pg_has_role(m.owner, 'USAGE')
    -- monitoring roles see every queue, as they see every backend
    OR pg_catalog.pg_has_role('pg_monitor', 'USAGE')
    OR EXISTS (SELECT FROM pgmsg.queue_grants g
                WHERE g.queue_id OPERATOR(pg_catalog.=) m.queue_id
                  AND (g.grantee::oid OPERATOR(pg_catalog.=) 0::oid
                       OR pg_catalog.pg_has_role(g.grantee, 'USAGE')));

GRANT SELECT ON pgmsg.queues TO PUBLIC;

CREATE VIEW pgmsg.redrive_tasks AS
SELECT task_id, dead_letter_queue, destination, max_messages, moved, state,
       last_error,
       (SELECT r.rolname FROM pg_catalog.pg_roles r
         WHERE r.oid OPERATOR(pg_catalog.=) started_by) AS started_by,
       started_at, finished_at
  FROM pgmsg.redrive_task k
 WHERE pg_catalog.pg_has_role(k.started_by, 'USAGE')
    OR EXISTS (SELECT FROM pgmsg.queue_meta m
                WHERE m.name OPERATOR(pg_catalog.=) k.dead_letter_queue
                  AND pg_catalog.pg_has_role(m.owner, 'USAGE'));

GRANT SELECT ON pgmsg.redrive_tasks TO PUBLIC;

CREATE VIEW pgmsg.topics AS
SELECT t.name,
       t.fifo,
       t.content_based_dedup,
       (SELECT r.rolname FROM pg_catalog.pg_roles r
         WHERE r.oid OPERATOR(pg_catalog.=) t.owner) AS owner,
       t.created_at,
       (SELECT pg_catalog.count(*) FROM pgmsg.subscription s
         WHERE s.topic_id = t.topic_id) AS subscriptions
  FROM pgmsg.topic_meta t
 WHERE pg_catalog.pg_has_role(t.owner, 'USAGE')
    OR EXISTS (SELECT FROM pgmsg.topic_grants g
                WHERE g.topic_id OPERATOR(pg_catalog.=) t.topic_id
                  AND (g.grantee::oid OPERATOR(pg_catalog.=) 0::oid
                       OR pg_catalog.pg_has_role(g.grantee, 'USAGE')));

GRANT SELECT ON pgmsg.topics TO PUBLIC;

CREATE VIEW pgmsg.subscriptions AS
SELECT s.subscription_id,
       t.name AS topic,
       'queue'::text AS protocol,
       q.name AS endpoint,
       s.filter_policy,
       s.filter_policy_scope,
       s.raw_message_delivery,
       (SELECT r.rolname FROM pg_catalog.pg_roles r
         WHERE r.oid OPERATOR(pg_catalog.=) s.owner) AS owner,
       s.created_at
  FROM pgmsg.subscription s
  JOIN pgmsg.topic_meta t USING (topic_id)
  JOIN pgmsg.queue_meta q USING (queue_id)
 WHERE pg_catalog.pg_has_role(s.owner, 'USAGE')
    OR pg_catalog.pg_has_role(t.owner, 'USAGE')
    OR pg_catalog.pg_has_role(q.owner, 'USAGE')
    OR EXISTS (SELECT FROM pgmsg.topic_grants g
                WHERE g.topic_id OPERATOR(pg_catalog.=) t.topic_id
                  AND (g.grantee::oid OPERATOR(pg_catalog.=) 0::oid
                       OR pg_catalog.pg_has_role(g.grantee, 'USAGE')))
    OR EXISTS (SELECT FROM pgmsg.queue_grants g
                WHERE g.queue_id OPERATOR(pg_catalog.=) q.queue_id
                  AND (g.grantee::oid OPERATOR(pg_catalog.=) 0::oid
                       OR pg_catalog.pg_has_role(g.grantee, 'USAGE')));

GRANT SELECT ON pgmsg.subscriptions TO PUBLIC;

/*
 * Dead letters remember their source queue by id as well as by name, so a
 * queue created again under a dropped queue's name never receives the old
 * queue's dead letters (redrive.c).  Dead letters already stored keep only
 * the name.
 */
DO $$
DECLARE
    q record;
BEGIN
    FOR q IN SELECT name FROM pgmsg.queue_meta LOOP
        EXECUTE pg_catalog.format('ALTER TABLE pgmsg.%I ADD COLUMN IF NOT EXISTS source_queue_id integer',
                                  'q_' OPERATOR(pg_catalog.||) q.name);
    END LOOP;
END
$$;

/*
 * A per-queue limit of messages in flight, max_in_flight (queue.c,
 * receive.c): SQS's 120,000 on standard queues and 20,000 on FIFO queues
 * unless set.
 */
ALTER TABLE pgmsg.queue_meta ADD COLUMN max_in_flight integer;
UPDATE pgmsg.queue_meta SET max_in_flight = CASE WHEN fifo THEN 20000 ELSE 120000 END;
ALTER TABLE pgmsg.queue_meta ALTER COLUMN max_in_flight SET NOT NULL;

DROP FUNCTION pgmsg.create_queue(text, interval, interval, interval, integer, text, integer,
                                 boolean, boolean, boolean);
CREATE FUNCTION pgmsg.create_queue(
    queue               text,
    visibility_timeout  interval DEFAULT '30 seconds',
    delay               interval DEFAULT '0',
    retention           interval DEFAULT '4 days',
    max_message_size    integer  DEFAULT 1048576,
    dead_letter_queue   text     DEFAULT NULL,
    max_receive_count   integer  DEFAULT NULL,
    fifo                boolean  DEFAULT false,
    content_based_dedup boolean  DEFAULT false,
    notify              boolean  DEFAULT false,
    max_in_flight       integer  DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_create_queue'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

DROP FUNCTION pgmsg.alter_queue(text, interval, interval, interval, integer, text, integer,
                                boolean, boolean, boolean);
CREATE FUNCTION pgmsg.alter_queue(
    queue               text,
    visibility_timeout  interval DEFAULT NULL,
    delay               interval DEFAULT NULL,
    retention           interval DEFAULT NULL,
    max_message_size    integer  DEFAULT NULL,
    dead_letter_queue   text     DEFAULT NULL,
    max_receive_count   integer  DEFAULT NULL,
    fifo                boolean  DEFAULT NULL,
    content_based_dedup boolean  DEFAULT NULL,
    notify              boolean  DEFAULT NULL,
    max_in_flight       integer  DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_alter_queue'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

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

/*
 * Delivery figures per push subscription (metrics.c), read without
 * scanning queue tables: what the push worker counted, what is waiting,
 * the age of the oldest message not yet delivered, and what the
 * dead-letter queue holds.  Rows as the subscriptions view shows them;
 * members of pg_monitor see every push subscription.
 */
CREATE FUNCTION pgmsg.push_stats(
    OUT subscription_id      integer,
    OUT topic                text,
    OUT protocol             text,
    OUT push_queue           text,
    OUT dead_letter_queue    text,
    OUT delivered            bigint,
    OUT retrying             integer,
    OUT dead_lettered        bigint,
    OUT messages_waiting     bigint,
    OUT dead_letter_messages bigint,
    OUT lag                  interval)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgmsg_push_stats'
LANGUAGE C STRICT VOLATILE
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
       ps.lag
  FROM pgmsg.subscription s
  JOIN pgmsg.topic_meta t USING (topic_id)
  JOIN pgmsg.queue_meta q USING (queue_id)
  LEFT JOIN pgmsg.push_subscription p USING (subscription_id)
  LEFT JOIN pgmsg.queue_meta d ON d.queue_id OPERATOR(pg_catalog.=) p.dead_letter_queue_id
  LEFT JOIN pgmsg.push_stats() ps
         ON ps.subscription_id OPERATOR(pg_catalog.=) s.subscription_id
 WHERE pg_catalog.pg_has_role(s.owner, 'USAGE')
    OR pg_catalog.pg_has_role(t.owner, 'USAGE')
    OR pg_catalog.pg_has_role(q.owner, 'USAGE')
    OR EXISTS (SELECT FROM pgmsg.topic_grants g
                WHERE g.topic_id OPERATOR(pg_catalog.=) t.topic_id
                  AND (g.grantee::oid OPERATOR(pg_catalog.=) 0::oid
                       OR pg_catalog.pg_has_role(g.grantee, 'USAGE')))
    OR EXISTS (SELECT FROM pgmsg.queue_grants g
                WHERE g.queue_id OPERATOR(pg_catalog.=) q.queue_id
                  AND (g.grantee::oid OPERATOR(pg_catalog.=) 0::oid
                       OR pg_catalog.pg_has_role(g.grantee, 'USAGE')));

/*
 * Roles named by pgmsg's objects (roles.c): each owner and grantee named
 * in a row has a shared dependency, so DROP ROLE refuses while any
 * database's queues, topics, subscriptions or grants name the role.  The
 * triggers fire for the rows a restore copies in too.
 */
CREATE FUNCTION pgmsg.track_role()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgmsg_track_role'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION pgmsg.track_role() FROM PUBLIC;

CREATE TRIGGER track_role AFTER INSERT OR UPDATE OF owner OR DELETE ON pgmsg.queue_meta
    FOR EACH ROW EXECUTE FUNCTION pgmsg.track_role('owner');
CREATE TRIGGER track_role AFTER INSERT OR UPDATE OF grantee OR DELETE ON pgmsg.queue_grants
    FOR EACH ROW EXECUTE FUNCTION pgmsg.track_role('grantee');
CREATE TRIGGER track_role AFTER INSERT OR UPDATE OF owner OR DELETE ON pgmsg.topic_meta
    FOR EACH ROW EXECUTE FUNCTION pgmsg.track_role('owner');
CREATE TRIGGER track_role AFTER INSERT OR UPDATE OF grantee OR DELETE ON pgmsg.topic_grants
    FOR EACH ROW EXECUTE FUNCTION pgmsg.track_role('grantee');
CREATE TRIGGER track_role AFTER INSERT OR UPDATE OF owner OR DELETE ON pgmsg.subscription
    FOR EACH ROW EXECUTE FUNCTION pgmsg.track_role('owner');

-- the rows that exist already
CREATE FUNCTION pgmsg.track_existing_roles()
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_track_existing_roles'
LANGUAGE C
SET search_path = pg_catalog, pg_temp;
SELECT pgmsg.track_existing_roles();
DROP FUNCTION pgmsg.track_existing_roles();

/*
 * A batching window on receive (receive.c): with a wait, a receive that has
 * some messages goes on taking more until it has max_messages or the
 * window since its first has passed.
 */
DROP FUNCTION pgmsg.receive(text, integer, interval, interval);
-- receive's planner support: leaves out trailing arguments that are
-- constants equal to their defaults, which receive then takes as absent
CREATE FUNCTION pgmsg.receive_support(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'pgmsg_receive_support'
LANGUAGE C STRICT;

CREATE FUNCTION pgmsg.receive(
    queue               text,
    max_messages        integer  DEFAULT 1,
    visibility_timeout  interval DEFAULT NULL,
    wait                interval DEFAULT '0',
    batch_window        interval DEFAULT '0')
RETURNS SETOF pgmsg.message
AS 'MODULE_PATHNAME', 'pgmsg_receive'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 10
SUPPORT pgmsg.receive_support;
