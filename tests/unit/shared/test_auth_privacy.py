"""Masking of personal data, the same in every service: phones, emails, contacts' names, at any depth."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huying.events import Contact, CustomerUpserted
from huying.privacy import mask_email, mask_name, mask_phone, masked

pytestmark = pytest.mark.unit


def test_phones_emails_and_names_are_masked_as_operators_print_them() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+86 20 8888 1234") == "862*****1234"
    assert mask_phone("12345") == "*****"
    assert mask_email("wangwei@example.com") == "w***@example.com"
    assert mask_email("not-an-email") == "***" and mask_email("a@b@example.com") == "a***@example.com"
    assert (mask_name("王伟"), mask_name("欧阳娜娜"), mask_name("Wang Wei"), mask_name("王")) == (
        "王*",
        "欧***",
        "W*******",
        "*",
    )


def test_contacts_are_masked_at_any_depth_and_in_history_path_keys() -> None:
    doc = {
        "contact": {"name": "王伟", "phone": "13800138000", "role": "IT运维"},
        "customer": {
            "name": "广州某某科技有限公司",  # the enterprise customer, not a person
            "contacts": [{"name": "李娜", "email": "lina@example.com"}],
            "account_manager": {"name": "张经理", "phone": "13900001111"},  # staff: the phone is masked all the same
        },
        "history": [
            {"after": {"contact/name": "王伟", "contact/email": "a@b.cn", "fault_report_requested_by": "王伟"}}
        ],
        "description": "专线中断",
    }
    assert masked(doc) == {
        "contact": {"name": "王*", "phone": "138****8000", "role": "IT运维"},
        "customer": {
            "name": "广州某某科技有限公司",
            "contacts": [{"name": "李*", "email": "l***@example.com"}],
            "account_manager": {"name": "张经理", "phone": "139****1111"},
        },
        "history": [
            {"after": {"contact/name": "王*", "contact/email": "a***@b.cn", "fault_report_requested_by": "王*"}}
        ],
        "description": "专线中断",
    }


@given(st.text(alphabet="0123456789 +-()", max_size=30))
def test_a_masked_phone_shows_at_most_its_first_three_and_last_four_digits(phone) -> None:
    digits = re.sub(r"\D", "", phone)
    shown = mask_phone(phone)
    assert len(shown) == len(digits) and sum(c.isdigit() for c in shown) <= 7
    if len(digits) >= 8:
        assert shown == digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


@given(st.text(min_size=1, max_size=20).filter(lambda n: len(n.strip()) > 1))
def test_a_masked_name_keeps_only_its_first_character(name) -> None:
    shown = mask_name(name)
    assert shown[0] == name.strip()[0] and set(shown[1:]) == {"*"} and len(shown) == len(name.strip())


@given(st.emails())
def test_a_masked_email_keeps_one_letter_and_the_domain(email) -> None:
    local, _, domain = email.rpartition("@")
    assert mask_email(email) == f"{local[0]}***@{domain}"


names = st.text(alphabet="王李张刘陈杨黄赵吴周伟娜芳敏静强磊军洋勇", min_size=2, max_size=4)
phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
contacts = st.builds(Contact, name=names, phone=phones, email=st.emails())
leaves = st.one_of(st.integers(), st.booleans(), st.none(), st.text(alphabet="abc专线", max_size=5))


def documents(contact: st.SearchStrategy) -> st.SearchStrategy:
    """Arbitrary JSON-like documents with contacts (as services dump them) somewhere inside."""
    dumped = contact.map(lambda c: c.model_dump(mode="json"))
    base = st.one_of(
        leaves,
        st.fixed_dictionaries({"contact": dumped}),
        st.fixed_dictionaries({"contacts": st.lists(dumped, max_size=2)}),
    )
    keys = st.sampled_from(["a", "b", "items"])

    def nested(inner: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3))

    return st.recursive(base, nested, max_leaves=8)


@given(documents(contacts))
def test_no_contacts_phone_email_or_name_survives_masking_anywhere(doc) -> None:
    shown = json.dumps(masked(doc), ensure_ascii=False)
    for contact in _contacts_in(doc):
        for personal in (contact["phone"], contact["email"], contact["name"]):
            assert f'"{personal}"' not in shown


@given(documents(contacts))
def test_masking_keeps_the_documents_shape_and_everything_else(doc) -> None:
    def shape(value):
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    assert shape(masked(doc)) == shape(doc)


def test_a_crm_customer_as_a_service_answers_it_shows_no_personal_data() -> None:
    wang = Contact(name="王伟", phone="13800138000", email="wangwei@example.com")
    customer = CustomerUpserted(customer_id="C-1", name="广州某某公司", tier="gold", city="广州", contacts=[wang])
    shown = json.dumps(masked(customer.model_dump(mode="json")), ensure_ascii=False)
    assert "13800138000" not in shown and "wangwei" not in shown and '"王伟"' not in shown and "广州某某公司" in shown


def _contacts_in(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "contact":
                yield inner
            elif key == "contacts":
                yield from inner
            else:
                yield from _contacts_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _contacts_in(inner)
