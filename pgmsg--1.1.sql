/* pgmsg--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgmsg" to load this file. \quit

/*
 * Metadata.  Every table here belongs to the extension owner and is closed
 * to everybody else: the functions below check pgmsg's own privileges and
 * then act as the owner.  Writing these tables directly would bypass the
 * lease protocol kept in shared memory.
 *
 * Owners and grantees are regrole, not oid: pg_dump writes a regrole as the
 * role's name and a restore reads the name back, so ownership and grants
 * follow roles by name into another cluster, where the same OIDs may
 * belong to other roles.  Grants to PUBLIC are stored as 0, written "-".
 * A dead-letter queue is referenced without a foreign key, which pg_dump
 * would report as circular on this configuration table; drop_queue and
 * the dead-letter checks keep the reference valid under a table lock.
 */
CREATE SEQUENCE pgmsg.queue_id_seq AS integer;

CREATE TABLE pgmsg.queue_meta (
    queue_id            integer PRIMARY KEY DEFAULT nextval('pgmsg.queue_id_seq'),
    name                text NOT NULL UNIQUE,
    owner               regrole NOT NULL,
    visibility_timeout  interval NOT NULL,
    delay               interval NOT NULL,
    retention           interval NOT NULL,
    max_message_size    integer NOT NULL,
    dead_letter_queue_id integer,
    max_receive_count   integer,
    fifo                boolean NOT NULL,
    content_based_dedup boolean NOT NULL,
    notify              boolean NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    max_in_flight       integer NOT NULL
);

/*
 * FIFO deduplication: a dedup id seen on a queue in the last five minutes,
 * with the id of the message it was first sent with.
 */
CREATE TABLE pgmsg.dedup (
    queue_id    integer NOT NULL REFERENCES pgmsg.queue_meta ON DELETE CASCADE,
    dedup_id    text NOT NULL,
    msg_id      bigint,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (queue_id, dedup_id)
);
REVOKE ALL ON pgmsg.dedup FROM PUBLIC;
-- dumped, so a restored queue keeps rejecting a repeat for the rest of its window
SELECT pg_catalog.pg_extension_config_dump('pgmsg.dedup', '');

/*
 * Redrive tasks started with start_redrive and carried out by the
 * background worker in batches.
 */
CREATE TABLE pgmsg.redrive_task (
    task_id             bigserial PRIMARY KEY,
    dead_letter_queue   text NOT NULL,
    destination         text,
    max_messages        bigint,
    moved               bigint NOT NULL DEFAULT 0,
    state               text NOT NULL DEFAULT 'running'
                        CHECK (state IN ('running', 'completed', 'failed')),
    last_error          text,
    started_by          regrole NOT NULL,
    started_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    finished_at         timestamptz
);
REVOKE ALL ON pgmsg.redrive_task, pgmsg.redrive_task_task_id_seq FROM PUBLIC;

CREATE TABLE pgmsg.queue_grants (
    queue_id    integer NOT NULL REFERENCES pgmsg.queue_meta ON DELETE CASCADE,
    grantee     regrole NOT NULL,
    privilege   text NOT NULL,
    PRIMARY KEY (queue_id, grantee, privilege)
);

REVOKE ALL ON pgmsg.queue_meta, pgmsg.queue_grants, pgmsg.queue_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('pgmsg.queue_meta', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.queue_grants', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.queue_id_seq', '');
GRANT USAGE ON SCHEMA pgmsg TO PUBLIC;

CREATE TYPE pgmsg.message AS (
    message_id          bigint,
    receipt             text,
    body                jsonb,
    attributes          jsonb,
    receive_count       integer,
    sent_at             timestamptz,
    first_received_at   timestamptz,
    group_id            text
);

/* Queues */

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

CREATE FUNCTION pgmsg.drop_queue(queue text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_drop_queue'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.purge_queue(queue text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_purge_queue'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

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

/*
 * The message path.  These are not given a SET search_path clause, which
 * would cost a GUC save and restore on every call; instead every statement
 * they run internally is schema-qualified, operators included, and planned
 * once per backend.
 */
CREATE FUNCTION pgmsg.send(
    queue       text,
    body        jsonb,
    attributes  jsonb    DEFAULT NULL,
    delay       interval DEFAULT NULL,
    group_id    text     DEFAULT NULL,
    dedup_id    text     DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_send'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgmsg.send_batch(
    queue       text,
    bodies      jsonb[],
    attributes  jsonb[]  DEFAULT NULL,
    delay       interval DEFAULT NULL,
    group_ids   text[]   DEFAULT NULL,
    dedup_ids   text[]   DEFAULT NULL)
RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'pgmsg_send_batch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 100;

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

CREATE FUNCTION pgmsg.delete(queue text, receipt text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_delete'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgmsg.delete(queue text, receipts text[])
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_delete_batch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgmsg.redrive(dead_letter_queue text, destination text DEFAULT NULL,
    max_messages bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_redrive'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgmsg.start_redrive(dead_letter_queue text, destination text DEFAULT NULL,
    max_messages bigint DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_start_redrive'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.change_visibility(queue text, receipt text,
    visibility_timeout interval)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_change_visibility'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgmsg.change_visibility(queue text, receipts text[],
    visibility_timeout interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_change_visibility_batch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

/* Privileges */

CREATE FUNCTION pgmsg.grant(object text, role name, privileges text[])
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_grant'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.revoke(object text, role name, privileges text[])
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_revoke'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

/* Monitoring */

CREATE FUNCTION pgmsg.queue_stats(
    OUT queue_id            integer,
    OUT messages            bigint,
    OUT messages_in_flight  bigint,
    OUT messages_delayed    bigint,
    OUT oldest_sent_at      timestamptz,
    OUT sent_total          bigint,
    OUT received_total      bigint,
    OUT deleted_total       bigint,
    OUT dead_lettered_total bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgmsg_queue_stats'
LANGUAGE C STRICT VOLATILE
SET search_path = pg_catalog, pg_temp;

/*
 * The views are readable by everybody but show a role only the queues,
 * topics, subscriptions and redrive tasks it owns (through membership) or
 * holds some privilege on, directly or through PUBLIC; superusers see all.
 */
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

/* Background worker */

CREATE FUNCTION pgmsg.start_worker()
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_start_worker'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION pgmsg.start_worker() FROM PUBLIC;

-- start this database's worker once CREATE EXTENSION commits
SELECT pgmsg.start_worker();

/* SNS subscription filter policies (filter.c) */

CREATE FUNCTION pgmsg.filter_matches(filter_policy jsonb, attributes jsonb, body jsonb DEFAULT NULL,
    filter_policy_scope text DEFAULT 'MessageAttributes')
RETURNS boolean AS 'MODULE_PATHNAME', 'pgmsg_filter_matches' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

/*
 * Topics (topic.c).  A topic fans each published message out to its
 * subscribed queues, inside the publisher's transaction.  Queue and topic
 * names share one namespace, so pgmsg.grant can name either.
 */
CREATE SEQUENCE pgmsg.topic_id_seq AS integer;

CREATE TABLE pgmsg.topic_meta (
    topic_id            integer PRIMARY KEY DEFAULT nextval('pgmsg.topic_id_seq'),
    name                text NOT NULL UNIQUE,
    owner               regrole NOT NULL,
    fifo                boolean NOT NULL,
    content_based_dedup boolean NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE pgmsg.subscription (
    subscription_id      serial PRIMARY KEY,
    topic_id             integer NOT NULL REFERENCES pgmsg.topic_meta ON DELETE CASCADE,
    queue_id             integer NOT NULL REFERENCES pgmsg.queue_meta ON DELETE CASCADE,
    filter_policy        jsonb,
    filter_policy_scope  text NOT NULL
                         CHECK (filter_policy_scope IN ('MessageAttributes', 'MessageBody')),
    raw_message_delivery boolean NOT NULL,
    owner                regrole NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (topic_id, queue_id)
);
CREATE INDEX ON pgmsg.subscription (queue_id);

CREATE TABLE pgmsg.topic_grants (
    topic_id    integer NOT NULL REFERENCES pgmsg.topic_meta ON DELETE CASCADE,
    grantee     regrole NOT NULL,
    privilege   text NOT NULL,
    PRIMARY KEY (topic_id, grantee, privilege)
);

REVOKE ALL ON pgmsg.topic_meta, pgmsg.subscription, pgmsg.topic_grants,
    pgmsg.topic_id_seq, pgmsg.subscription_subscription_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('pgmsg.topic_meta', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.subscription', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.topic_grants', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.topic_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pgmsg.subscription_subscription_id_seq', '');

CREATE FUNCTION pgmsg.create_topic(topic text, fifo boolean DEFAULT false,
    content_based_dedup boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_create_topic'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.drop_topic(topic text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_drop_topic'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.subscribe(topic text, queue text,
    filter_policy        jsonb   DEFAULT NULL,
    filter_policy_scope  text    DEFAULT 'MessageAttributes',
    raw_message_delivery boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'pgmsg_subscribe'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgmsg.unsubscribe(topic text, queue text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgmsg_unsubscribe'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
SET search_path = pg_catalog, pg_temp;

-- on the message path, like send: no SET clause, see above
CREATE FUNCTION pgmsg.publish(topic text, body jsonb, attributes jsonb DEFAULT NULL,
    group_id text DEFAULT NULL, dedup_id text DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgmsg_publish'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

CREATE FUNCTION pgmsg.publish_batch(topic text, bodies jsonb[], attributes jsonb[] DEFAULT NULL,
    group_ids text[] DEFAULT NULL, dedup_ids text[] DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgmsg_publish_batch'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;

-- CREATE TRIGGER ... AFTER INSERT OR UPDATE OR DELETE ON t
--     FOR EACH ROW EXECUTE FUNCTION pgmsg.publish_trigger('topic')
CREATE FUNCTION pgmsg.publish_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'pgmsg_publish_trigger'
LANGUAGE C;

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

CREATE VIEW pgmsg.subscriptions AS
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

GRANT SELECT ON pgmsg.subscriptions TO PUBLIC;

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
