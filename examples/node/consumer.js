// What both Node workers share: ship an order, keep the batch's visibility
// timeout ahead of slow work, delete processed messages in
// one call and hand unprocessed ones back at once.
'use strict';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Consumer {
  constructor(client, { queue, visibilitySeconds, name }) {
    this.client = client;
    this.queue = queue;
    this.visibilitySeconds = visibilitySeconds;
    this.name = name;
    this.stopping = false;
    this.extendedAt = 0;
  }

  async receive(max, waitSeconds) {
    const { rows } = await this.client.query(
      'SELECT receipt, body FROM pgmsg.receive($1, max_messages => $2,' +
      ' visibility_timeout => $3::interval, wait => $4::interval)',
      [this.queue, max, `${this.visibilitySeconds} seconds`, `${waitSeconds} seconds`]);
    return rows;
  }

  // Push the visibility timeout of every message of the batch a full period
  // ahead: the one being worked on, those waiting their turn and those
  // processed but not yet deleted.
  async extend(receipts) {
    await this.client.query('SELECT pgmsg.change_visibility($1, $2::text[], $3::interval)',
      [this.queue, receipts, `${this.visibilitySeconds} seconds`]);
    this.extendedAt = Date.now();
  }

  // Ship the order.  The work (work_ms) is done in slices; whenever half the
  // visibility timeout has gone by, the batch's leases are extended.
  async process(event, batch) {
    let remaining = event.work_ms || 0;
    while (remaining > 0) {
      const step = Math.min(remaining, 50);
      await sleep(step);
      remaining -= step;
      if (Date.now() - this.extendedAt > (this.visibilitySeconds * 1000) / 2) {
        await this.extend(batch);
      }
    }
    await this.client.query('BEGIN');
    try {
      await this.client.query(
        'INSERT INTO shipments (order_id) VALUES ($1) ON CONFLICT DO NOTHING', [event.order_id]);
      await this.client.query(
        'INSERT INTO processing_log (order_id, worker) VALUES ($1, $2)', [event.order_id, this.name]);
      await this.client.query('COMMIT');
    } catch (err) {
      await this.client.query('ROLLBACK');
      throw err;
    }
  }

  // Process a batch; once stopping, finish the message in hand and leave
  // the rest.  Processed messages are deleted in one call, the others are
  // made visible again at once (change_visibility to 0).
  async handle(messages) {
    this.extendedAt = Date.now();
    const batch = messages.map((m) => m.receipt);
    const done = [];
    const pending = [...batch];
    try {
      for (const m of messages) {
        if (this.stopping) break;
        await this.process(m.body, batch);
        done.push(m.receipt);
        pending.splice(pending.indexOf(m.receipt), 1);
      }
    } finally {
      if (done.length > 0) {
        await this.client.query('SELECT pgmsg.delete($1, $2::text[])', [this.queue, done]);
      }
      if (pending.length > 0) {
        await this.client.query("SELECT pgmsg.change_visibility($1, $2::text[], '0'::interval)",
          [this.queue, pending]);
      }
    }
  }
}

module.exports = { Consumer };
