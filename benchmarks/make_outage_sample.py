"""Write the outage scenario of sample_logs/: a checkout service and its Stripe webhooks
through a 12-minute Stripe outage.

    python benchmarks/make_outage_sample.py            # rewrites sample_logs/outage-gateway.*
    python benchmarks/make_outage_sample.py --out /tmp/x --seed 7

The story (times UTC, 2026-03-02), deterministic for a given seed:
- 14:00-14:17 healthy: about three orders a minute, each a PaymentIntent create and a
  confirm (300-400 ms), a few card declines; a webhook for every payment.
- 14:17-14:25 Stripe latency creeps up (confirm calls reach 1.5-2 s).
- 14:25-14:37 outage: 90% of confirms and half the creates fail, half of them timeouts
  (APIConnectionError after 30 s), half 503s (APIError). Customers retry a few minutes
  later; orders that cannot be started or paid after three tries are cancelled.
- A timed-out confirm left the payment's fate unknown: some went through at Stripe (their
  webhooks arrive late, at 14:38-14:45), some were retried and paid, some were never
  settled (orders in limbo), and two customers were given a new PaymentIntent while the
  first had gone through (charged twice, visible with the webhooks).
- 14:37 recovery; the log ends at 15:12.

The truth the tests check: OUTAGE_START and OUTAGE_END below.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY = datetime(2026, 3, 2, tzinfo=UTC)
START = DAY.replace(hour=14)
CREEP_START = DAY.replace(hour=14, minute=17)
OUTAGE_START = DAY.replace(hour=14, minute=25)
OUTAGE_END = DAY.replace(hour=14, minute=37)
LAST_ORDER = DAY.replace(hour=15, minute=10)
ORDERS_PER_MINUTE = 3.0
# Share of calls failing during the outage: confirms (payment processing) more than creates.
CONFIRM_FAILURE_SHARE = 0.9
CREATE_FAILURE_SHARE = 0.5
DECLINE_SHARE = 0.04
TIMEOUT_S = 30.0
DUPLICATE_ORDERS = 2
APP_LOG = "outage-gateway.log"
WEBHOOK_LOG = "outage-gateway.webhooks.jsonl"
AMOUNTS = (1999, 2499, 4999, 8900, 12900)


@dataclass(order=True)
class Line:
    time: datetime
    text: str = field(compare=False)


class Scenario:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.app: list[Line] = []
        self.webhooks: list[Line] = []
        self.duplicates_left = DUPLICATE_ORDERS

    # --- identifiers and timings ---------------------------------------------------------

    def _token(self, length: int) -> str:
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=length))

    def payment_intent(self) -> str:
        return "pi_3" + self._token(23)

    def request_id(self) -> str:
        return "req_" + self._token(14)

    def latency_ms(self, when: datetime, base: float) -> float:
        """Call latency; it creeps up in the minutes before the outage."""
        value = self.rng.lognormvariate(0, 0.18) * base
        if CREEP_START <= when < OUTAGE_START:
            progress = (when - CREEP_START) / (OUTAGE_START - CREEP_START)
            value *= 1.8 + 3.2 * progress
        return round(value)

    @staticmethod
    def in_outage(when: datetime) -> bool:
        return OUTAGE_START <= when < OUTAGE_END

    def fails(self, when: datetime, share: float) -> bool:
        return self.in_outage(when) and self.rng.random() < share

    # --- log lines -------------------------------------------------------------------------

    def log(self, when: datetime, level: str, logger: str, message: str) -> None:
        stamp = when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}"
        self.app.append(Line(when, f"{stamp} {level} [{logger}] {message}"))

    def webhook(self, when: datetime, kind: str, order: str, intent: str) -> None:
        record = {
            "ts": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "level": "info",
            "svc": "stripe-webhooks",
            "msg": "webhook handled",
            "type": kind,
            "event_id": "evt_3" + self._token(23),
            "payment_intent": intent,
            "order_id": order,
            "livemode": True,
        }
        self.webhooks.append(Line(when, json.dumps(record, separators=(",", ":"))))

    def call(
        self, when: datetime, order: str, intent: str, path: str, extra: str = ""
    ) -> tuple[datetime, str]:
        """One Stripe call at `when`: its outcome (ok, timeout, 503) and the time it ended."""
        url = f"POST https://api.stripe.com/v1/payment_intents{path}"
        ids = f"order_id={order} payment_intent={intent}"
        if self.fails(when, CONFIRM_FAILURE_SHARE if path else CREATE_FAILURE_SHARE):
            # A create that failed has no PaymentIntent ID to log.
            ids = ids if path else f"order_id={order}"
            if self.rng.random() < 0.5:
                ended = when + timedelta(seconds=TIMEOUT_S + self.rng.uniform(0, 0.05))
                self.log(
                    ended,
                    "ERROR",
                    "checkout.stripe",
                    f"{url} duration_ms={round(TIMEOUT_S * 1000 + self.rng.uniform(1, 50))} "
                    f"{ids} - stripe._error.APIConnectionError: Request to Stripe timed out "
                    "(read timeout=30)",
                )
                return ended, "timeout"
            request = self.request_id()
            ended = when + timedelta(milliseconds=self.rng.uniform(80, 200))
            self.log(
                ended,
                "ERROR",
                "checkout.stripe",
                f"{url} http_status=503 duration_ms={self.rng.randint(80, 200)} {ids} "
                f"request_id={request} - stripe._error.APIError: Request {request}: An unknown "
                "error occurred",
            )
            return ended, "503"
        duration = self.latency_ms(when, 340 if path else 260)
        ended = when + timedelta(milliseconds=duration)
        self.log(
            ended,
            "INFO",
            "checkout.stripe",
            f"{url} http_status=200 duration_ms={duration} {ids} request_id={self.request_id()}"
            f"{extra}",
        )
        return ended, "ok"

    # --- one order ---------------------------------------------------------------------------

    def order(self, number: int, when: datetime) -> None:
        order = f"ORD-{71000 + number}"
        amount = self.rng.choice(AMOUNTS)
        intent = self.payment_intent()
        for _attempt in range(3):
            ended, outcome = self.call(
                when,
                order,
                intent,
                "",
                f" status=requires_confirmation amount={amount} currency=eur",
            )
            if outcome == "ok":
                break
            when = ended + timedelta(seconds=self.rng.uniform(60, 240))
        else:
            self.cancel(ended + timedelta(seconds=5), order, intent)
            return
        self.confirm(order, intent, ended + timedelta(seconds=self.rng.uniform(8, 45)))

    def confirm(self, order: str, intent: str, when: datetime) -> None:
        for _attempt in range(3):
            if not self.in_outage(when) and self.rng.random() < DECLINE_SHARE:
                self.decline(order, intent, when)
                return
            ended, outcome = self.call(
                when, order, intent, f"/{intent}/confirm", " status=succeeded"
            )
            if outcome == "ok":
                self.webhook(
                    ended + self.delivery_delay(ended), "payment_intent.succeeded", order, intent
                )
                return
            if outcome == "timeout":
                self.after_timeout(order, intent, when, ended)
                return
            when = ended + timedelta(seconds=self.rng.uniform(60, 240))
        self.cancel(ended + timedelta(seconds=5), order, intent)

    def after_timeout(self, order: str, intent: str, sent: datetime, ended: datetime) -> None:
        """Nobody knows whether a timed-out confirm went through."""
        fate = self.rng.random()
        went_through = fate < 0.35
        if went_through:
            self.webhook(self.late_delivery(), "payment_intent.succeeded", order, intent)
        if went_through and self.duplicates_left:
            # The checkout gave the customer a fresh PaymentIntent: a second charge.
            self.duplicates_left -= 1
            retry = max(ended, OUTAGE_END) + timedelta(seconds=self.rng.uniform(30, 120))
            second = self.payment_intent()
            done, _ = self.call(retry, order, second, "", " status=requires_confirmation")
            paid, _ = self.call(
                done + timedelta(seconds=6),
                order,
                second,
                f"/{second}/confirm",
                " status=succeeded",
            )
            self.webhook(paid + timedelta(seconds=2), "payment_intent.succeeded", order, second)
        elif not went_through and fate < 0.65:
            retry = max(ended, OUTAGE_END) + timedelta(seconds=self.rng.uniform(20, 180))
            self.confirm(order, intent, retry)
        # else: the customer left and Stripe never processed it: the order stays in limbo.

    def decline(self, order: str, intent: str, when: datetime) -> None:
        duration = self.latency_ms(when, 420)
        ended = when + timedelta(milliseconds=duration)
        request = self.request_id()
        self.log(
            ended,
            "WARNING",
            "checkout.stripe",
            f"POST https://api.stripe.com/v1/payment_intents/{intent}/confirm http_status=402 "
            f"duration_ms={duration} order_id={order} payment_intent={intent} "
            f"request_id={request} - Stripe API error: "
            '{"error":{"code":"card_declined","decline_code":"insufficient_funds",'
            '"message":"Your card has insufficient funds.","type":"card_error"}}',
        )
        self.webhook(
            ended + self.delivery_delay(ended), "payment_intent.payment_failed", order, intent
        )

    def cancel(self, when: datetime, order: str, intent: str) -> None:
        self.log(
            when,
            "INFO",
            "checkout.orders",
            f"order cancelled, no payment after 3 attempts order_id={order} "
            f"payment_intent={intent}",
        )

    def delivery_delay(self, sent: datetime) -> timedelta:
        if sent < OUTAGE_START - timedelta(minutes=5) or sent >= OUTAGE_END:
            return timedelta(seconds=self.rng.uniform(0.5, 3))
        return self.late_delivery() - sent

    def late_delivery(self) -> datetime:
        """Webhooks of the outage arrive in a backlog once Stripe recovers."""
        return OUTAGE_END + timedelta(seconds=self.rng.uniform(60, 480))

    # --- the whole scenario -------------------------------------------------------------

    def run(self) -> None:
        when, number = START, 0
        while True:
            when += timedelta(seconds=self.rng.expovariate(ORDERS_PER_MINUTE / 60))
            if when >= LAST_ORDER:
                break
            number += 1
            self.order(number, when.replace(microsecond=when.microsecond // 1000 * 1000))


def write(directory: Path, seed: int) -> None:
    scenario = Scenario(seed)
    scenario.run()
    for name, lines in ((APP_LOG, scenario.app), (WEBHOOK_LOG, scenario.webhooks)):
        text = "".join(line.text + "\n" for line in sorted(lines))
        (directory / name).write_text(text, encoding="utf-8")
        print(f"{directory / name}: {len(lines)} lines")
    print(f"outage {OUTAGE_START:%H:%M} to {OUTAGE_END:%H:%M} UTC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "sample_logs")
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()
    write(arguments.out, arguments.seed)


if __name__ == "__main__":
    main()
