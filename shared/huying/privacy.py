"""Masking of customers' personal data, the same in every service's answers: phone numbers, email addresses and
the names of customer contacts, for every role that does not need them (who does is each service's rule)."""

from __future__ import annotations

import re
from typing import Any

CONTACT_KEYS = frozenset({"contact", "contacts"})  # objects (or lists of them) that describe a customer's person
# Fields that hold a customer's person's name outside a contact object (dispatch: who asked for a fault report).
NAME_KEYS = frozenset({"fault_report_requested_by"})


def mask_phone(phone: str) -> str:
    """13800138000 → 138****8000 (keeps the first 3 and last 4 digits, as telecom operators print them)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_email(email: str) -> str:
    """wangwei@example.com → w***@example.com."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local and domain else "***"


def mask_name(name: str) -> str:
    """王伟 → 王*, 欧阳娜娜 → 欧***, Wang Wei → W*******: the first character (a Chinese surname's) and one star for
    every other; a one-character name becomes a star."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def masked(value: Any) -> Any:
    """A copy of a document with every `phone` and `email` masked at any depth, and every `name` of a contact (an
    object under a `contact` or `contacts` key) or in NAME_KEYS. History snapshots use path keys: `contact/name`."""
    return _masked(value, in_contact=False)


def _masked(value: Any, *, in_contact: bool) -> Any:
    if isinstance(value, dict):
        return {key: _field(str(key), inner, in_contact) for key, inner in value.items()}
    if isinstance(value, list):
        return [_masked(v, in_contact=in_contact) for v in value]
    return value


def _field(key: str, value: Any, in_contact: bool) -> Any:
    path = key.split("/")
    leaf, parents = path[-1], path[:-1]
    if isinstance(value, str):
        if leaf == "phone":
            return mask_phone(value)
        if leaf == "email":
            return mask_email(value)
        if leaf in NAME_KEYS or (leaf == "name" and (in_contact or CONTACT_KEYS.intersection(parents))):
            return mask_name(value)
        return value
    return _masked(value, in_contact=leaf in CONTACT_KEYS)
