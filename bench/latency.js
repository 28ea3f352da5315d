// Wakeup latency: from a publisher's COMMIT to a waiting consumer getting
// the message, with N consumers waiting.
//
// usage: node latency.js <connection string> <mode> <consumers> <messages>
//   mode pgmsg: consumers long-poll pgmsg.receive(..., wait => '2 seconds'),
//               and delete what they got once its time is taken;
//   mode notify: the floor of any wakeup through PostgreSQL: consumers
//               LISTEN, the publisher INSERTs a row (so that its commit
//               flushes WAL as a send's does) and NOTIFYs (the sequence
//               number as payload) in its transaction, and a woken consumer runs one
//               trivial query (SELECT 1) before it counts as having the
//               message; every listener is woken, the first one to finish
//               counts;
//   mode raw:   the same by hand: consumers LISTEN, the publisher INSERTs and
//               NOTIFYs in one transaction, a woken consumer takes the row
//               with SELECT ... FOR UPDATE SKIP LOCKED and deletes it;
//   mode pgq:   one PgQ consumer polls pgq.next_batch every 10 ms; a batch
//               exists once the ticker (pgqd) has ticked after the commit.
//               Messages are spaced by a random pause of up to one ticker
//               period, so that they do not all land at the same phase.
// Prints one JSON line: {"mode", "consumers", "messages", "p50_ms", "p99_ms", "max_ms"}.
//
// Both ends run in this process, so one clock measures them: the time is
// taken when the publisher sends COMMIT and when the consumer's result
// arrives (the first result for a message, if several consumers get it):
// a consumer is woken during the commit, and its result often arrives
// before the publisher hears that COMMIT is done.  The publisher commits
// with synchronous_commit = off, so that a slow disk's flush is not part
// of the figure.
'use strict';
const { Client } = require('pg');

const [conninfo, mode = 'pgmsg', consumersArg, messagesArg] = process.argv.slice(2);
const nconsumers = parseInt(consumersArg || '1', 10);
const nmessages = parseInt(messagesArg || '200', 10);
const name = 'bench_latency';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Each mode: setup(admin), publish(client, seq), consume(client) -> [seq, ...]
// (resolves when it got something or its wait ended), optionally
// settle(client) (the work after the time is taken, an acknowledgement),
// teardown(admin).
const modes = {
  pgmsg: {
    async setup(admin) {
      await admin.query('SELECT pgmsg.drop_queue($1, if_exists => true)', [name]);
      await admin.query('SELECT pgmsg.create_queue($1)', [name]);
    },
    async publish(c, seq) {
      await c.query('SELECT pgmsg.send($1, $2)', [name, { seq }]);
    },
    async consume(c) {
      const res = await c.query(
        `SELECT body, receipt FROM pgmsg.receive($1, 1, wait => '2 seconds')`, [name]);
      c.receipts = res.rows.map((r) => r.receipt);
      return res.rows.map((r) => r.body.seq);
    },
    async settle(c) {
      for (const r of c.receipts) await c.query('SELECT pgmsg.delete($1, $2)', [name, r]);
      c.receipts = [];
    },
    async teardown(admin) {
      await admin.query('SELECT pgmsg.drop_queue($1)', [name]);
    },
  },
  raw: {
    async setup(admin) {
      await admin.query(`DROP TABLE IF EXISTS bench.${name}`);
      await admin.query(`CREATE TABLE bench.${name} (msg_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                           visible_at timestamptz NOT NULL DEFAULT now(), body jsonb NOT NULL)`);
      await admin.query(`CREATE INDEX ON bench.${name} (visible_at, msg_id)`);
    },
    async listen(c) {
      c.wakeups = 0;
      c.on('notification', () => { c.wakeups++; if (c.wake) c.wake(); });
      await c.query(`LISTEN ${name}`);
    },
    async publish(c, seq) {
      await c.query(`INSERT INTO bench.${name} (body) VALUES ($1)`, [{ seq }]);
      await c.query(`NOTIFY ${name}`);
    },
    async consume(c) {
      for (;;) {
        const seen = c.wakeups;
        const res = await c.query(
          `DELETE FROM bench.${name} WHERE msg_id =
             (SELECT msg_id FROM bench.${name} WHERE visible_at <= now()
               ORDER BY visible_at, msg_id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING body`);
        if (res.rows.length) return res.rows.map((r) => r.body.seq);
        // nothing: wait for a notification that came after this attempt
        if (c.wakeups === seen) {
          await new Promise((resolve) => {
            const t = setTimeout(resolve, 2000);
            c.wake = () => { clearTimeout(t); c.wake = null; resolve(); };
          });
          c.wake = null;
        }
        if (c.stopping) return [];
      }
    },
    async teardown(admin) {
      await admin.query(`DROP TABLE bench.${name}`);
    },
  },
  notify: {
    async setup(admin) {
      await admin.query(`DROP TABLE IF EXISTS bench.${name}_notify`);
      await admin.query(`CREATE TABLE bench.${name}_notify (body jsonb NOT NULL)`);
    },
    async listen(c) {
      c.pending = [];
      c.on('notification', (n) => { c.pending.push(parseInt(n.payload, 10)); if (c.wake) c.wake(); });
      await c.query(`LISTEN ${name}`);
    },
    async publish(c, seq) {
      await c.query(`INSERT INTO bench.${name}_notify (body) VALUES ($1)`, [{ seq }]);
      await c.query(`SELECT pg_notify($1, $2)`, [name, String(seq)]);
    },
    async consume(c) {
      if (!c.pending.length && !c.stopping) {
        await new Promise((resolve) => {
          const t = setTimeout(resolve, 2000);
          c.wake = () => { clearTimeout(t); c.wake = null; resolve(); };
        });
        c.wake = null;
      }
      if (!c.pending.length) return [];
      const got = c.pending.splice(0);
      await c.query('SELECT 1');
      return got;
    },
    async teardown(admin) {
      await admin.query(`DROP TABLE bench.${name}_notify`);
    },
  },
  pgq: {
    async setup(admin) {
      await admin.query(`SELECT pgq.drop_queue($1, true) FROM pgq.queue WHERE queue_name = $1`, [name]);
      await admin.query('SELECT pgq.create_queue($1)', [name]);
      // tick at every ticker round that finds an event (the default waits
      // for 500 events or 3 seconds)
      await admin.query(`SELECT pgq.set_queue_config($1, 'ticker_max_lag', '0')`, [name]);
      await admin.query(`SELECT pgq.register_consumer($1, 'bench')`, [name]);
    },
    async publish(c, seq) {
      await c.query(`SELECT pgq.insert_event($1, 'bench', $2)`, [name, JSON.stringify({ seq })]);
    },
    async consume(c) {
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline && !c.stopping) {
        const b = await c.query(`SELECT pgq.next_batch($1, 'bench') AS id`, [name]);
        const id = b.rows[0].id;
        if (id !== null) {
          const ev = await c.query('SELECT ev_data FROM pgq.get_batch_events($1)', [id]);
          await c.query('SELECT pgq.finish_batch($1)', [id]);
          if (ev.rows.length) return ev.rows.map((r) => JSON.parse(r.ev_data).seq);
        } else {
          await sleep(10);
        }
      }
      return [];
    },
    // pgqd ticks once a second: spread the sends over that period
    pause: () => Math.random() * 1000,
    async teardown(admin) {
      await admin.query(`SELECT pgq.unregister_consumer($1, 'bench')`, [name]);
      await admin.query('SELECT pgq.drop_queue($1)', [name]);
    },
  },
};

async function main() {
  const m = modes[mode];
  if (!m) throw new Error(`unknown mode ${mode}`);
  const admin = new Client({ connectionString: conninfo });
  await admin.connect();
  await m.setup(admin);

  const sentAt = new Map();
  const gotAt = new Map();      // seq -> when its first result arrived
  let received = 0;
  let stopping = false;
  let onReceived = null;        // resolves the publisher's wait for a message

  const consumers = [];
  for (let i = 0; i < nconsumers; i++) {
    const c = new Client({ connectionString: conninfo });
    await c.connect();
    if (m.listen) await m.listen(c);
    consumers.push(c);
  }
  const loops = consumers.map(async (c) => {
    while (!stopping) {
      const got = await m.consume(c);
      const now = process.hrtime.bigint();
      if (m.settle) await m.settle(c);
      for (const seq of got) {
        if (gotAt.has(seq)) continue;
        gotAt.set(seq, now);
        received++;
        if (onReceived) onReceived();
      }
      if (received >= nmessages) {
        stopping = true;
        if (onReceived) onReceived();
        for (const o of consumers) { o.stopping = true; if (o.wake) o.wake(); }
      }
    }
  });

  const publisher = new Client({ connectionString: conninfo });
  await publisher.connect();
  // the commit does not wait for its WAL flush: the figure is the wakeup's,
  // not the disk's (a flush takes milliseconds on a busy disk)
  await publisher.query('SET synchronous_commit = off');
  // let every consumer reach its wait before the first message
  await sleep(300);
  for (let seq = 0; seq < nmessages && !stopping; seq++) {
    await publisher.query('BEGIN');
    await m.publish(publisher, seq);
    sentAt.set(seq, process.hrtime.bigint());
    await publisher.query('COMMIT');
    // Wait until this message was received, so consumers are waiting again.
    // The wait does not poll: a loop of setImmediate would keep this process
    // busy on a core that the woken backend and the publisher's backend need.
    while (received <= seq && !stopping) await new Promise((r) => { onReceived = r; });
    onReceived = null;
    await sleep(m.pause ? m.pause() : 2);
  }
  await Promise.all(loops);

  const ms = [...gotAt]
    .filter(([seq]) => sentAt.has(seq))
    .map(([seq, at]) => Math.max(0, Number(at - sentAt.get(seq)) / 1e6))
    .sort((a, b) => a - b);
  const pct = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  console.log(JSON.stringify({
    mode, consumers: nconsumers, messages: ms.length,
    p50_ms: +pct(0.5).toFixed(3), p99_ms: +pct(0.99).toFixed(3),
    max_ms: +ms[ms.length - 1].toFixed(3),
  }));

  for (const c of consumers) await c.end();
  await publisher.end();
  await m.teardown(admin);
  await admin.end();
}

main().catch((e) => { console.error(e); process.exit(1); });
