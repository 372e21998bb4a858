"""`python -m dispatch.token --sub op-gz-01 --role agent --team gz-access-ops`: mint an operator token.

For local use and tests: signs with HUYING_DISPATCH_TOKEN_SECRET (the development default if unset) and
prints the token. A deployment mints tokens in its identity provider with the same claims and secret.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from dispatch.auth import mint
from dispatch.domain.access import Role
from dispatch.settings import DispatchSettings
from huying.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dispatch.token", description="Mint an operator token.")
    parser.add_argument("--sub", required=True, help="operator id, e.g. op-gz-01")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--team", action="append", default=[], help="team id (repeat for several)")
    parser.add_argument("--name", default="", help="display name")
    parser.add_argument("--ttl-hours", type=float, default=12.0, help="validity (default 12 h, one duty shift)")
    args = parser.parse_args(argv)
    settings = load_settings(DispatchSettings)
    now = datetime.now(UTC)
    token = mint(
        settings,
        sub=args.sub,
        role=args.role,
        teams=args.team,
        name=args.name,
        now=now,
        ttl=timedelta(hours=args.ttl_hours),
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
