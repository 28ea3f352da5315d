#!/usr/bin/env node
// A LISTEN-driven consumer for a queue created with notify => true:
//
//   DATABASE_URL=postgresql:///shop node listen_worker.js
//
// Instead of polling, it waits for the NOTIFY pgmsg_<queue> that pgmsg sends
// when a transaction that sent to the queue commits, then receives until the
// queue is empty.  It drains once at start (messages sent before it
// listened) and again every RECHECK_SECONDS, so a message whose visibility
// timeout ran out (which sends no notification) is not left behind.  SIGTERM
// stops it as it stops worker.js: the message in hand is finished, the rest
// is handed back.
'use strict';

const { Client } = require('pg');
const { Consumer } = require('./consumer');

async function main() {
  const queue = process.env.QUEUE || 'order_notifications';
  const name = process.env.WORKER_NAME || `node-listen-${process.pid}`;
  const batch = Number(process.env.BATCH || 10);
  const recheckMs = Number(process.env.RECHECK_SECONDS || 30) * 1000;
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const consumer = new Consumer(client, {
    queue,
    visibilitySeconds: Number(process.env.VISIBILITY_SECONDS || 30),
    name,
  });

  // One drain at a time; a notification during a drain asks for another.
  let draining = null;
  let again = false;
  async function drainLoop() {
    do {
      again = false;
      for (;;) {
        if (consumer.stopping) return;
        const messages = await consumer.receive(batch, 0);
        if (messages.length === 0) break;
        await consumer.handle(messages);
      }
    } while (again);
  }
  function drain() {
    if (draining) {
      again = true;
      return draining;
    }
    draining = drainLoop().finally(() => { draining = null; });
    return draining;
  }

  let finish;
  const finished = new Promise((resolve, reject) => { finish = { resolve, reject }; });
  const fail = (err) => finish.reject(err);

  client.on('notification', (msg) => {
    if (msg.channel === `pgmsg_${queue}`) drain().catch(fail);
  });
  client.on('error', fail);
  const channel = client.escapeIdentifier(`pgmsg_${queue}`);
  await client.query(`LISTEN ${channel}`);
  const timer = setInterval(() => drain().catch(fail), recheckMs);
  const stop = () => {
    consumer.stopping = true;
    clearInterval(timer);
    Promise.resolve(draining).then(finish.resolve, fail);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  console.log(`${name} ready`);
  drain().catch(fail);

  try {
    await finished;
    await client.query(`UNLISTEN ${channel}`);
  } finally {
    clearInterval(timer);
    await client.end();
  }
  console.log(`${name} stopped`);
}

main().catch((err) => { console.error(err); process.exit(1); });
