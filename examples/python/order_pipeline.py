"""An order pipeline in Python on duroxide: fan-out/fan-in, a retried
activity, a human approval raced against a durable timeout, custom status
and an async activity.

    python examples/python/order_pipeline.py --store sqlite:orders.db

Stop it half-way (Ctrl-C) and run it again: the orchestration continues
where it left off, because every decision is in the store's history.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import threading
import time

from duroxide import ActivityFailed, Client, Runtime, RuntimeOptions, SqliteProvider


def build(rt: Runtime) -> None:
    @rt.register_activity("ReserveItem")
    def reserve_item(ctx, item):
        return {"item": item, "reserved": True}

    @rt.register_activity("ChargeCard")
    def charge_card(ctx, order):
        if ctx.attempt == 1 and random.random() < 0.5:
            raise ConnectionError("payment service unavailable")  # the retry policy handles it
        return f"charge-{order['id']}-{sum(order['prices'])}"

    @rt.register_activity("SendEmail")
    async def send_email(ctx, text):
        await asyncio.sleep(0.01)  # an async activity: runs on an asyncio loop
        ctx.trace_info(f"email: {text}")
        return "sent"

    @rt.register_orchestration("ProcessOrder")
    def process_order(ctx, order):
        ctx.set_custom_status("reserving")
        reservations = yield ctx.all([ctx.schedule_activity("ReserveItem", item) for item in order["items"]])

        ctx.set_custom_status("charging")
        try:
            receipt = yield ctx.schedule_activity_with_retry(
                "ChargeCard", order, {"max_attempts": 3, "backoff": "exponential", "backoff_ms": 50}
            )
        except ActivityFailed as e:
            return {"status": "payment_failed", "error": e.message}

        ctx.set_custom_status("awaiting approval")
        decision = yield ctx.race(ctx.wait_for_event("Approval"), ctx.schedule_timer(order["approval_timeout_ms"]))
        approved = decision.index == 0 and decision.value == "yes"

        yield ctx.schedule_activity("SendEmail", f"order {order['id']}: {'approved' if approved else 'not approved'}")
        ctx.set_custom_status("done")
        return {"status": "approved" if approved else "rejected", "receipt": receipt, "items": len(reservations)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default="sqlite:orders.db", help='a sqlite DSN ("sqlite::memory:" for a throwaway store)')
    ap.add_argument("--id", default=f"order-{int(time.time())}")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    provider = SqliteProvider.open(args.store)
    client = Client(provider)
    with Runtime(provider, RuntimeOptions(worker_concurrency=8)) as rt:
        build(rt)
        rt.start()
        order = {"id": args.id, "items": ["book", "lamp", "tea"], "prices": [12, 30, 4], "approval_timeout_ms": 5000}
        client.start_orchestration(args.id, "ProcessOrder", order)
        # Somebody approves the order a little later.
        threading.Timer(0.5, lambda: client.raise_event(args.id, "Approval", "yes")).start()
        result = client.wait_for_orchestration(args.id, 60_000)
        print(f"instance {args.id} {result.status}: {result.output or result.error}")
        print(f"custom status: {result.custom_status}; history: {len(client.read_history(args.id))} events")
    client.close()
    provider.close()


if __name__ == "__main__":
    main()
