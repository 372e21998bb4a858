"""Reading the rules file and the templates: the only I/O of notify's planning, kept out of `domain/`.

`load_catalog()` is what the service starts with: the rules, validated, and every template they name compiled in
every locale — a rule naming a missing template, or a template that does not parse, stops the start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from notify.domain.rules import RuleBook
from notify.domain.templates import TemplateSet

POLICY_DIR = Path(__file__).resolve().parent
DEFAULT_RULES = POLICY_DIR / "notify-rules.yaml"
TEMPLATE_DIR = POLICY_DIR.parent / "templates"
SUFFIX = ".j2"


def load_rules(path: Path | str = DEFAULT_RULES) -> RuleBook:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return RuleBook.model_validate(data)


def template_sources(directory: Path | str = TEMPLATE_DIR) -> dict[tuple[str, str], str]:
    """`<id>.<locale>.j2` files → {(id, locale): text}."""
    sources = {}
    for file in sorted(Path(directory).glob(f"*{SUFFIX}")):
        template, _, locale = file.name.removesuffix(SUFFIX).rpartition(".")
        if not template:
            raise ValueError(f"{file}: name it <template>.<locale>{SUFFIX}")
        sources[(template, locale)] = file.read_text(encoding="utf-8")
    return sources


def load_templates(directory: Path | str = TEMPLATE_DIR, *, timezone: str = "Asia/Shanghai") -> TemplateSet:
    return TemplateSet(template_sources(directory), timezone=timezone)


@dataclass(frozen=True)
class Catalog:
    rules: RuleBook
    templates: TemplateSet


def load_catalog(rules: Path | str = DEFAULT_RULES, templates: Path | str = TEMPLATE_DIR) -> Catalog:
    book = load_rules(rules)
    compiled = load_templates(templates, timezone=book.defaults.timezone)
    if missing := compiled.missing(book.template_ids(), book.defaults.locales):
        raise ValueError(f"{rules}: templates missing in {templates}: {', '.join(missing)}")
    return Catalog(book, compiled)
