#!/usr/bin/env node
// The producer: an order service that records an order and publishes its
// event in one transaction, so the event exists if and only if the order does.
//
//   DATABASE_URL=postgresql:///shop node order_service.js 100
//
// places 100 orders.  Options (environment): QUEUE (default order_events),
// WORK_MS (how long a worker should spend on each order; default 0) and
// SLOW_EVERY (every Nth order asks for SLOW_MS of work instead).
'use strict';

const { Client } = require('pg');

async function placeOrder(client, customer, totalCents, queue = 'order_events', workMs = 0) {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(
      'INSERT INTO orders (customer, total_cents) VALUES ($1, $2) RETURNING id',
      [customer, totalCents]);
    const orderId = Number(rows[0].id);
    const event = { order_id: orderId, customer, total_cents: totalCents, work_ms: workMs };
    await client.query('SELECT pgmsg.send($1, $2::jsonb, attributes => $3::jsonb)',
      [queue, JSON.stringify(event), JSON.stringify({ kind: 'order_placed' })]);
    await client.query('COMMIT');
    return orderId;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function main() {
  const count = Number(process.argv[2] || 10);
  const queue = process.env.QUEUE || 'order_events';
  const workMs = Number(process.env.WORK_MS || 0);
  const slowEvery = Number(process.env.SLOW_EVERY || 0);
  const slowMs = Number(process.env.SLOW_MS || 0);
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    for (let i = 1; i <= count; i++) {
      const ms = slowEvery && i % slowEvery === 0 ? slowMs : workMs;
      await placeOrder(client, `customer-${i}`, 100 * i, queue, ms);
    }
  } finally {
    await client.end();
  }
  console.log(`placed ${count} orders`);
}

module.exports = { placeOrder };

if (require.main === module) {
  main().catch((err) => { console.error(err); process.exit(1); });
}
