-- What the examples in examples/python and examples/node need: run it once
-- per database, e.g.  psql "$DATABASE_URL" -f examples/schema.sql
CREATE EXTENSION IF NOT EXISTS pgmsg;

-- the order service's own table
CREATE TABLE IF NOT EXISTS orders (
    id          bigserial PRIMARY KEY,
    customer    text NOT NULL,
    total_cents integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- what the fulfilment workers do with each order event: one shipment per
-- order (processing is idempotent, as at-least-once delivery requires)
CREATE TABLE IF NOT EXISTS shipments (
    order_id   bigint PRIMARY KEY REFERENCES orders,
    shipped_at timestamptz NOT NULL DEFAULT now()
);

-- every time a worker processed an event, so that a duplicate would show
CREATE TABLE IF NOT EXISTS processing_log (
    order_id     bigint NOT NULL,
    worker       text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- order events for the polling workers; a notifying queue for the
-- LISTEN-driven one
SELECT pgmsg.create_queue('order_events', visibility_timeout => '30 seconds')
 WHERE NOT EXISTS (SELECT FROM pgmsg.queues WHERE name = 'order_events');
SELECT pgmsg.create_queue('order_notifications', notify => true)
 WHERE NOT EXISTS (SELECT FROM pgmsg.queues WHERE name = 'order_notifications');
