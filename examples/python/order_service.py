#!/usr/bin/env python3
"""The producer: an order service that records an order and publishes its
event in one transaction, so the event exists if and only if the order does.

    DATABASE_URL=postgresql:///shop python3 order_service.py 100

places 100 orders.  Options (environment): QUEUE (default order_events),
WORK_MS (how long a worker should spend on each order; default 0) and
SLOW_EVERY (every Nth order asks for SLOW_MS of work instead).
"""
import json
import os
import sys

import psycopg


def place_order(conn, customer, total_cents, queue="order_events", work_ms=0):
    """Insert an order and send its event in one transaction; return its id."""
    with conn.transaction():
        order_id = conn.execute(
            "INSERT INTO orders (customer, total_cents) VALUES (%s, %s) RETURNING id",
            (customer, total_cents),
        ).fetchone()[0]
        event = {"order_id": order_id, "customer": customer,
                 "total_cents": total_cents, "work_ms": work_ms}
        conn.execute(
            "SELECT pgmsg.send(%s, %s::jsonb, attributes => %s::jsonb)",
            (queue, json.dumps(event), json.dumps({"kind": "order_placed"})),
        )
    return order_id


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    queue = os.environ.get("QUEUE", "order_events")
    work_ms = int(os.environ.get("WORK_MS", "0"))
    slow_every = int(os.environ.get("SLOW_EVERY", "0"))
    slow_ms = int(os.environ.get("SLOW_MS", "0"))
    with psycopg.connect(os.environ.get("DATABASE_URL", "")) as conn:
        for i in range(1, count + 1):
            ms = slow_ms if slow_every and i % slow_every == 0 else work_ms
            place_order(conn, f"customer-{i}", 100 * i, queue=queue, work_ms=ms)
    print(f"placed {count} orders", flush=True)


if __name__ == "__main__":
    main()
