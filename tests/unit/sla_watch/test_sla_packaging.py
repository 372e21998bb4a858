"""The policy and calendar files ship inside the sla_watch package, so an installed image finds them."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def test_the_built_wheel_carries_the_policy_files(tmp_path) -> None:
    uv = ROOT / ".local" / "tools" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("uv is installed by `make install`")
    subprocess.run(
        [str(uv), "build", "--wheel", "--package", "huying-sla-watch", "-o", str(tmp_path), "-q"], cwd=ROOT, check=True
    )
    [wheel] = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"sla_watch/policy/sla-policy.yaml", "sla_watch/policy/calendar-overrides.yaml"} <= names
