"""`python -m notify.channels.gateway_sim`: run the HTTP SMS gateway simulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from notify.channels.gateway_sim.server import GatewaySimulator
from notify.channels.gateway_sim.simulation import GatewayFaults


def _pairs(values: list[str], parts: int) -> list[list[str]]:
    out = []
    for value in values:
        fields = value.split(":", parts - 1)
        if len(fields) != parts:
            raise SystemExit(f"expected {parts} fields separated by ':' in {value!r}")
        out.append(fields)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m notify.channels.gateway_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8990)
    parser.add_argument("--mas", action="append", default=[], help="a 云MAS account ecName:apId:secretKey")
    parser.add_argument("--key", action="append", default=[], help="a template-platform key accessKeyId:secret")
    parser.add_argument(
        "--template", action="append", default=[], help="a template code and its parameters CODE:p1,p2 (any if none)"
    )
    parser.add_argument("--callback-url", help="where delivery reports of template sends are POSTed")
    parser.add_argument("--callback-secret", default="")
    parser.add_argument("--report-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    templates = {
        code: tuple(p for p in params.split(",") if p) for code, _, params in (t.partition(":") for t in args.template)
    } or None
    simulator = GatewaySimulator(
        host=args.host,
        port=args.port,
        mas_accounts={(ec, ap): secret for ec, ap, secret in _pairs(args.mas, 3)},
        access_keys=dict(_pairs(args.key, 2)),
        templates=templates,
        callback_url=args.callback_url,
        callback_secret=args.callback_secret,
        faults=GatewayFaults(report_delay=args.report_delay),
        embedded=False,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(simulator.serve_forever())


if __name__ == "__main__":
    main()
