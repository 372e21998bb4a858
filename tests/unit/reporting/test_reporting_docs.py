"""docs/reporting.md says what the code does: its KPI table names every formula, its example answer parses and
uses the names the API returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reporting.domain import kpis

pytestmark = pytest.mark.unit
DOC = (Path(__file__).resolve().parents[3] / "docs" / "reporting.md").read_text(encoding="utf-8")


def test_the_kpi_table_names_every_formula_and_each_formula_cites_domain_md() -> None:
    table = DOC[DOC.index("| KPI | numerator") : DOC.index("### How the database")]
    named = set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))
    assert named == set(kpis.RATES) | set(kpis.COUNTS)
    for formula in [*kpis.RATES.values(), *kpis.COUNTS.values(), kpis.breaches]:
        assert "DOMAIN.md" in (formula.__doc__ or ""), formula.__name__


def test_the_example_answer_uses_the_figures_names() -> None:
    block = re.search(r"```json\n(.*?)```", DOC, flags=re.DOTALL)
    assert block is not None
    example = json.loads(block.group(1))
    shown = set(example["groups"][0]["kpis"]) - {"..."}
    assert shown <= set(kpis.figures({}))
    assert set(example) == {"from", "to", "period", "group_by", "filters", "groups", "all"}
