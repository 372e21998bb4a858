"""`make docs`: write each service's AsyncAPI document (what it consumes, with every message schema)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from huying.service import asyncapi

SERVICES = {
    "intake": "intake",
    "dispatch": "dispatch",
    "sla-watch": "sla_watch",
    "notify": "notify",
    "reporting": "reporting",
}


def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, package in SERVICES.items():
        app = importlib.import_module(f"{package}.app")
        path = out / f"{name}.asyncapi.yaml"
        path.write_text(asyncapi(app.SPEC, app.SPEC.settings()).to_specification().to_yaml(), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/asyncapi")):
        print(f"wrote {path}")
