"""docs/dispatch.md cannot rot: every example request names a real action and carries a valid body."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dispatch.api import PATHS

pytestmark = pytest.mark.unit

DOC = Path(__file__).resolve().parents[3] / "docs" / "dispatch.md"
BLOCKS = re.findall(r"```http\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
BY_PATH = {path: model for model, (path, _) in PATHS.items()}


def test_the_doc_shows_a_dozen_requests() -> None:
    assert len(BLOCKS) >= 12


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.split("\n", 1)[0])
def test_each_example_request_is_valid(block: str) -> None:
    head, _, body = block.partition("\n\n")
    method, url = head.splitlines()[0].split()
    assert method == "POST" and "Authorization: Bearer" in head
    action = url.split("/", 4)[4]
    model = BY_PATH[action]
    model.model_validate(json.loads(body) if body.strip() else {})
