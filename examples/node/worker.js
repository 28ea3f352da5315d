#!/usr/bin/env node
// The consumer: a fulfilment worker for order events.
//
//   DATABASE_URL=postgresql:///shop node worker.js
//
// It long-polls pgmsg.receive for up to BATCH messages, ships each order,
// deletes the processed messages in one call (the array form of
// pgmsg.delete) and extends a slow message's visibility timeout with
// pgmsg.change_visibility while it works on it.
//
// On SIGTERM (or SIGINT) it stops receiving, finishes the message in hand,
// deletes what it has processed and hands the rest back at once, then exits:
// no message is lost and none waits for its timeout.  EXIT_WHEN_IDLE=1 makes
// it exit after a receive that found nothing.
'use strict';

const { Client } = require('pg');
const { Consumer } = require('./consumer');

async function main() {
  const name = process.env.WORKER_NAME || `node-${process.pid}`;
  const batch = Number(process.env.BATCH || 10);
  const waitSeconds = Number(process.env.WAIT_SECONDS || 2);
  const exitWhenIdle = process.env.EXIT_WHEN_IDLE === '1';
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const consumer = new Consumer(client, {
    queue: process.env.QUEUE || 'order_events',
    visibilitySeconds: Number(process.env.VISIBILITY_SECONDS || 30),
    name,
  });
  const stop = () => { consumer.stopping = true; };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`${name} ready`);

  try {
    while (!consumer.stopping) {
      const messages = await consumer.receive(batch, waitSeconds);
      if (messages.length === 0) {
        if (exitWhenIdle) break;
        continue;
      }
      await consumer.handle(messages);
    }
  } finally {
    await client.end();
  }
  console.log(`${name} stopped`);
}

main().catch((err) => { console.error(err); process.exit(1); });
