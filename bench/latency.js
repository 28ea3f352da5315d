// Wakeup latency: from a publisher's COMMIT to a long-polling receive
// returning the message, with N consumers waiting on the queue.
//
// usage: node latency.js <connection string> <consumers> <messages>
// Prints one JSON line: {"consumers", "messages", "p50_ms", "p99_ms", "max_ms"}.
//
// Both ends run in this process, so one clock measures them: the time is
// taken when COMMIT returns to the publisher (the commit is durable and
// visible then) and when the receive's result arrives.  A receive can
// arrive first; such a latency is counted as 0.
'use strict';
const { Client } = require('pg');

const [conninfo, consumersArg, messagesArg] = process.argv.slice(2);
const nconsumers = parseInt(consumersArg || '1', 10);
const nmessages = parseInt(messagesArg || '200', 10);
const queue = 'bench_latency';

async function main() {
  const admin = new Client({ connectionString: conninfo });
  await admin.connect();
  await admin.query('SELECT pgmsg.drop_queue($1, if_exists => true)', [queue]);
  await admin.query('SELECT pgmsg.create_queue($1)', [queue]);

  const sentAt = new Map();
  const latencies = [];
  let received = 0;
  let stopping = false;
  let allDone;
  const done = new Promise((resolve) => { allDone = resolve; });

  const consumers = [];
  for (let i = 0; i < nconsumers; i++) {
    const c = new Client({ connectionString: conninfo });
    await c.connect();
    consumers.push(c);
  }
  const loops = consumers.map(async (c) => {
    while (!stopping) {
      const res = await c.query(
        `SELECT body, receipt FROM pgmsg.receive($1, 1, wait => '2 seconds')`, [queue]);
      const now = process.hrtime.bigint();
      for (const row of res.rows) {
        await c.query('SELECT pgmsg.delete($1, $2)', [queue, row.receipt]);
        latencies.push({ seq: row.body.seq, at: now });
        received++;
        if (received >= nmessages) { stopping = true; allDone(); }
      }
    }
  });

  const publisher = new Client({ connectionString: conninfo });
  await publisher.connect();
  // let every consumer reach its wait before the first message
  await new Promise((r) => setTimeout(r, 300));
  for (let seq = 0; seq < nmessages; seq++) {
    await publisher.query('BEGIN');
    await publisher.query('SELECT pgmsg.send($1, $2)', [queue, { seq }]);
    await publisher.query('COMMIT');
    sentAt.set(seq, process.hrtime.bigint());
    // wait until this message was received, so consumers are waiting again
    while (received <= seq && !stopping)
      await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 2));
  }
  await done;
  await Promise.all(loops);

  const ms = latencies.map((l) => Math.max(0, Number(l.at - sentAt.get(l.seq)) / 1e6));
  latencies.length = 0;
  latencies.push(...ms.sort((a, b) => a - b));
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  console.log(JSON.stringify({
    consumers: nconsumers, messages: latencies.length,
    p50_ms: +pct(0.5).toFixed(3), p99_ms: +pct(0.99).toFixed(3),
    max_ms: +latencies[latencies.length - 1].toFixed(3),
  }));

  for (const c of consumers) await c.end();
  await publisher.end();
  await admin.query('SELECT pgmsg.drop_queue($1)', [queue]);
  await admin.end();
}

main().catch((e) => { console.error(e); process.exit(1); });
