"""Settings come from HUYING_* variables, read when asked, with the service's own prefix for its own fields."""

from __future__ import annotations

import pytest

from intake.settings import IntakeSettings
from sla_watch.settings import SlaWatchSettings

pytestmark = pytest.mark.unit


def test_infrastructure_is_shared_and_service_fields_use_the_service_prefix(monkeypatch) -> None:
    monkeypatch.setenv("HUYING_KAFKA_BOOTSTRAP", "kafka-1:9092")
    monkeypatch.setenv("HUYING_MONGODB_URI", "mongodb://user:pw@mongo-1/")
    monkeypatch.setenv("HUYING_INTAKE_HTTP_PORT", "9101")
    monkeypatch.setenv("HUYING_SLA_WATCH_HTTP_PORT", "9103")
    intake, sla = IntakeSettings(), SlaWatchSettings()
    assert (intake.kafka_bootstrap, sla.kafka_bootstrap) == ("kafka-1:9092", "kafka-1:9092")
    assert (intake.http_port, sla.http_port) == (9101, 9103)
    assert "pw" not in repr(intake) and intake.mongodb_uri.get_secret_value() == "mongodb://user:pw@mongo-1/"


def test_generic_variable_names_are_not_read(monkeypatch) -> None:
    for name, value in {
        "KAFKA_BOOTSTRAP": "evil:1",
        "MONGODB_URI": "mongodb://evil/",
        "TOPIC_PREFIX": "zz.",
        "HTTP_PORT": "1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = IntakeSettings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.mongodb_uri.get_secret_value() == "mongodb://127.0.0.1:27017/"
    assert (settings.topic_prefix, settings.http_port) == ("", 8101)


def test_code_and_tests_may_set_fields_by_name() -> None:
    settings = IntakeSettings(kafka_bootstrap="k:1", topic_prefix="t1.", mongodb_database="t1_intake")
    assert (settings.kafka_bootstrap, settings.group_id, settings.database_name) == (
        "k:1",
        "t1.huying-intake",
        "t1_intake",
    )
