#!/usr/bin/env python3
"""The consumer: a fulfilment worker for order events.

    DATABASE_URL=postgresql:///shop python3 worker.py

It long-polls pgmsg.receive for up to BATCH messages, ships each order,
deletes the processed messages in one call (the array form of
pgmsg.delete), and while a slow message is worked on keeps the visibility
timeout of the whole batch ahead of the work with pgmsg.change_visibility,
so no other worker receives any of them while this one still holds them.

On SIGTERM (or SIGINT) it stops receiving, finishes the message in hand,
deletes what it has processed and hands the rest back at once
(change_visibility to 0), then exits: no message is lost and none waits
for its timeout.  EXIT_WHEN_IDLE=1 makes it exit after a receive that
found nothing, which is handy for draining a queue.
"""
import os
import signal
import sys
import time

import psycopg

QUEUE = os.environ.get("QUEUE", "order_events")
BATCH = int(os.environ.get("BATCH", "10"))
VISIBILITY = float(os.environ.get("VISIBILITY_SECONDS", "30"))
WAIT = float(os.environ.get("WAIT_SECONDS", "2"))
NAME = os.environ.get("WORKER_NAME", f"python-{os.getpid()}")

stopping = False


def request_stop(signum, frame):
    global stopping
    stopping = True


def seconds(s):
    return f"{s} seconds"


class Worker:
    def __init__(self, conn):
        self.conn = conn
        self.extended_at = 0.0

    def receive(self):
        return self.conn.execute(
            "SELECT receipt, body FROM pgmsg.receive(%s, max_messages => %s,"
            " visibility_timeout => %s::interval, wait => %s::interval)",
            (QUEUE, BATCH, seconds(VISIBILITY), seconds(WAIT)),
        ).fetchall()

    def extend(self, receipts):
        """Push the visibility timeout of every message of the batch a full
        period ahead: the one being worked on, those waiting their turn and
        those processed but not yet deleted."""
        self.conn.execute(
            "SELECT pgmsg.change_visibility(%s, %s::text[], %s::interval)",
            (QUEUE, receipts, seconds(VISIBILITY)),
        )
        self.extended_at = time.monotonic()

    def process(self, event, batch):
        """Ship the order.  The work (work_ms) is done in slices; whenever half
        the visibility timeout has gone by, the batch's leases are extended."""
        remaining = event.get("work_ms", 0) / 1000.0
        while remaining > 0:
            step = min(remaining, 0.05)
            time.sleep(step)
            remaining -= step
            if time.monotonic() - self.extended_at > VISIBILITY / 2:
                self.extend(batch)
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO shipments (order_id) VALUES (%s) ON CONFLICT DO NOTHING",
                (event["order_id"],),
            )
            self.conn.execute(
                "INSERT INTO processing_log (order_id, worker) VALUES (%s, %s)",
                (event["order_id"], NAME),
            )

    def delete(self, receipts):
        if receipts:
            self.conn.execute("SELECT pgmsg.delete(%s, %s::text[])", (QUEUE, receipts))

    def release(self, receipts):
        if receipts:
            self.conn.execute(
                "SELECT pgmsg.change_visibility(%s, %s::text[], '0'::interval)",
                (QUEUE, receipts),
            )

    def run(self):
        idle_exit = os.environ.get("EXIT_WHEN_IDLE") == "1"
        while not stopping:
            messages = self.receive()
            if not messages:
                if idle_exit:
                    break
                continue
            self.extended_at = time.monotonic()
            batch = [receipt for receipt, _ in messages]
            done = []
            pending = list(batch)
            try:
                for receipt, body in messages:
                    if stopping:
                        break
                    self.process(body, batch)
                    done.append(receipt)
                    pending.remove(receipt)
            finally:
                # processed: delete; not started: back to the queue at once
                self.delete(done)
                self.release(pending)
        print(f"{NAME} stopped", flush=True)


def main():
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with psycopg.connect(os.environ.get("DATABASE_URL", ""), autocommit=True) as conn:
        print(f"{NAME} ready", flush=True)
        Worker(conn).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
