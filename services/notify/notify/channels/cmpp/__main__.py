"""Run the ISMG simulator: `python -m notify.channels.cmpp --port 7890 --account 901234:secret`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from notify.channels.cmpp.simulation import Faults
from notify.channels.cmpp.simulator import IsmgSimulator

log = logging.getLogger("notify.cmpp.simulator")


async def _serve(args: argparse.Namespace) -> None:
    accounts = dict(pair.split(":", 1) for pair in args.account)
    simulator = IsmgSimulator(
        accounts=accounts, host=args.host, port=args.port, faults=Faults(report_delay=args.report_delay)
    )
    async with simulator:
        log.info("CMPP 3.0 ISMG simulator on %s:%d for %s", args.host, simulator.port, ", ".join(accounts))
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="CMPP 3.0 ISMG simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7890)  # the port ISMGs customarily listen on for SPs
    parser.add_argument("--account", action="append", default=["901234:secret"], help="SOURCE_ADDR:SECRET")
    parser.add_argument("--report-delay", type=float, default=1.0)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
