# ruff: noqa: E501 - the templates below are realistic log lines, kept whole for reading
"""Write a deterministic, realistic payment application log of a given size.

    python benchmarks/generate_log.py --size 200MB -o /tmp/payments.log [--seed 1]

Mostly healthy traffic (gateway calls that succeed, cart and inventory noise, health
checks), about 3 % payment errors in the shapes gateways really answer with (Stripe,
PayPal, Adyen, Amazon Pay, Braintree, network time-outs) and an occasional Java stack
trace. The same seed and size always give the same bytes.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.orders = 0

    def token(self, n: int) -> str:
        return "".join(self.rng.choice(_ALNUM) for _ in range(n))

    def order(self) -> str:
        # Every order appears once, as in a real checkout log (no false duplicates).
        self.orders += 1
        return f"ORD-{self.orders:08d}"

    def hexid(self, n: int = 13) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"


def _healthy(ids: _Ids, rng: random.Random) -> str:
    order = ids.order()
    ms = rng.randint(80, 900)
    return rng.choice(
        [
            f"INFO [checkout.stripe] payment_intent.succeeded order_id={order} "
            f"payment_intent=pi_3{ids.token(23)} amount={rng.randint(500, 90000)} currency=eur "
            f"duration_ms={ms}",
            f"INFO [checkout.paypal] order {order} captured status=COMPLETED "
            f"paypal_order_id={ids.token(17).upper()} duration_ms={ms}",
            f'INFO [checkout.adyen] {{"resultCode":"Authorised","pspReference":"PSP{ids.token(13).upper()}",'
            f'"merchantReference":"{order}","amount":{{"currency":"EUR","value":{rng.randint(500, 90000)}}}}} '
            f"duration_ms={ms}",
            f"INFO [checkout.amazonpay] POST https://pay-api.amazon.eu/live/v2/checkoutSessions/"
            f"{ids.hexid(8)}-{ids.hexid(4)}-{ids.hexid(4)}-{ids.hexid(4)}-{ids.hexid(12)}/complete "
            f"status=200 order_id={order} duration_ms={ms}",
            f"INFO [cart.api] GET /api/cart/{ids.token(10)} 200 items={rng.randint(1, 9)} "
            f"duration_ms={rng.randint(2, 40)}",
            f"DEBUG [inventory] reserved sku=SKU-{rng.randint(10000, 99999)} qty={rng.randint(1, 4)} "
            f"warehouse=eu-{rng.randint(1, 3)}",
            f"INFO [http] GET /healthz 200 duration_ms={rng.randint(1, 5)}",
            f"INFO [session] user session refreshed session_id={ids.token(24)}",
        ]
    )


def _error(ids: _Ids, rng: random.Random) -> str:
    order = ids.order()
    return rng.choice(
        [
            f'ERROR [checkout.stripe] payment failed order_id={order} {{"error":{{"code":"card_declined",'
            f'"decline_code":"{rng.choice(["insufficient_funds", "do_not_honor", "expired_card", "generic_decline"])}",'
            f'"message":"Your card was declined.","request_log_url":"https://dashboard.stripe.com/logs/req_{ids.token(14)}",'
            f'"type":"card_error"}}}}',
            f'ERROR [checkout.paypal] capture failed order_id={order} 422 {{"name":"UNPROCESSABLE_ENTITY",'
            f'"details":[{{"issue":"INSTRUMENT_DECLINED","description":"The instrument presented was either '
            f"declined by the processor or bank, or it can't be used for this payment.\"}}],"
            f'"debug_id":"{ids.hexid()}"}}',
            f'WARN [checkout.adyen] {{"resultCode":"Refused","refusalReason":"Not enough balance",'
            f'"refusalReasonCode":"12","pspReference":"PSP{ids.token(13).upper()}","merchantReference":"{order}"}}',
            f"ERROR [checkout.amazonpay] POST https://pay-api.amazon.eu/live/v2/charges failed status=400 "
            f'order_id={order} body={{"reasonCode":"InvalidParameterValue","message":"The value provided for '
            f'chargeAmount is invalid."}}',
            f"ERROR [checkout.braintree] transaction declined order_id={order} status=processor_declined "
            f'processor_response_code=2001 processor_response_text="Insufficient Funds"',
            f"ERROR [checkout.stripe] request to api.stripe.com failed order_id={order}: "
            f"requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.stripe.com', port=443): "
            f"Read timed out. (read timeout=30)",
            f"ERROR [fulfilment] label printer queue stalled job={rng.randint(1000, 9999)}",
        ]
    )


def _stack_trace(ids: _Ids) -> str:
    return (
        f"ERROR [checkout.paypal] capture failed for order {ids.order()}\n"
        "com.paypal.http.exceptions.HttpException: UNPROCESSABLE_ENTITY\n"
        "\tat com.paypal.http.HttpClient.execute(HttpClient.java:109)\n"
        "\tat com.example.shop.paypal.CaptureService.capture(CaptureService.java:57)\n"
        "\t... 42 common frames omitted"
    )


def generate(size: int, seed: int, out: Path) -> int:
    rng = random.Random(seed)
    ids = _Ids(rng)
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    written = 0
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        while written < size:
            moment += timedelta(milliseconds=rng.randint(1, 400))
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}"
            roll = rng.random()
            body = (
                _stack_trace(ids)
                if roll < 0.002
                else _error(ids, rng)
                if roll < 0.03
                else _healthy(ids, rng)
            )
            line = f"{stamp} {body}\n"
            handle.write(line)
            written += len(line.encode("utf-8"))
    return written


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([KMG]?B?)", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(f"cannot read size {text!r} (e.g. 10MB, 1GB)")
    unit = {
        "": 1,
        "B": 1,
        "K": 1 << 10,
        "KB": 1 << 10,
        "M": 1 << 20,
        "MB": 1 << 20,
        "G": 1 << 30,
        "GB": 1 << 30,
    }[match.group(2)]
    return int(match.group(1)) * unit


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("10MB"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    written = generate(args.size, args.seed, args.output)
    print(f"wrote {written:,} bytes to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
