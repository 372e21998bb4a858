"""`make docs` writes an AsyncAPI document per service, with every consumed message's schema."""

from __future__ import annotations

import pytest
import yaml

from huying.docs import SERVICES, write_all

pytestmark = pytest.mark.unit


def test_each_service_gets_an_asyncapi_document_naming_its_topics_and_messages(tmp_path) -> None:
    paths = write_all(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{name}.asyncapi.yaml" for name in SERVICES)
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["asyncapi"].startswith("3.")
        addresses = {channel["address"] for channel in document["channels"].values()}
        assert "huying.crm.v1" in addresses, path.name
        schemas = document["components"]["schemas"]
        assert {"CustomerUpserted", "ServiceLineUpserted"} <= set(schemas), path.name
        assert schemas["CustomerUpserted"]["properties"]["tier"]
