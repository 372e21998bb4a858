"""The compose file cannot run here (no Docker engine), so check it against the code instead."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest
import yaml

from huying.docs import SERVICES
from huying.settings import ServiceSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())


def env_names(settings_cls: type[ServiceSettings]) -> set[str]:
    """Every environment variable a settings class reads."""
    prefix = settings_cls.model_config.get("env_prefix", "")
    names = set()
    for name, field in settings_cls.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def huying_services() -> dict[str, dict]:
    return {name: spec for name, spec in COMPOSE["services"].items() if "build" in spec and name != "topics"}


def test_compose_runs_exactly_the_five_services_plus_infrastructure() -> None:
    assert set(huying_services()) == set(SERVICES)
    assert {"kafka", "mongo", "mailcatcher", "topics"} <= set(COMPOSE["services"])


def test_topics_are_declared_by_an_init_step_before_any_service_and_never_auto_created() -> None:
    topics = COMPOSE["services"]["topics"]
    assert topics["command"][:4] == ["python", "-m", "huying.topics", "apply"]
    assert COMPOSE["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    for name, spec in huying_services().items():
        assert spec["depends_on"]["topics"] == {"condition": "service_completed_successfully"}, name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_builds_its_own_package_and_reads_only_known_variables(name: str) -> None:
    spec = huying_services()[name]
    assert spec["build"]["args"]["SERVICE"] == name
    assert spec["build"]["context"] == "../.."  # the repository root, seen from deploy/compose/
    assert (ROOT / spec["build"]["dockerfile"]).exists()
    settings_cls = importlib.import_module(f"{SERVICES[name]}.app").SPEC.settings
    known = env_names(settings_cls)
    named = {k for k in spec["environment"] if k.startswith("HUYING_")}
    assert named - known == set(), f"{name} names variables its settings do not read"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_each_service_publishes_the_port_it_listens_on(name: str) -> None:
    spec = huying_services()[name]
    settings_cls = importlib.import_module(f"{SERVICES[name]}.app").SPEC.settings
    port_var = f"{settings_cls.model_config['env_prefix']}HTTP_PORT"
    port = int(spec["environment"].get(port_var, settings_cls().http_port))
    assert f"{port}:{port}" in spec["ports"]
    assert spec["environment"][f"{settings_cls.model_config['env_prefix']}HTTP_HOST"] == "0.0.0.0"


def test_every_service_gets_kafka_and_the_database_from_compose() -> None:
    for name, spec in huying_services().items():
        assert spec["environment"]["HUYING_KAFKA_BOOTSTRAP"] == "kafka:9092", name
        assert spec["environment"]["HUYING_MONGODB_URI"].startswith("mongodb://mongo:27017/"), name
        assert set(spec["depends_on"]) == {"kafka", "mongo", "topics"}, name


def test_secrets_come_only_from_the_environment_and_compose_refuses_without_them() -> None:
    for name, spec in huying_services().items():
        environment = spec["environment"]
        assert environment["HUYING_ENV"] == "production", name
        assert environment["HUYING_TOKEN_SECRET"].startswith("${HUYING_TOKEN_SECRET:?"), name
    assert huying_services()["intake"]["environment"]["HUYING_INTAKE_API_KEYS"].startswith("${HUYING_INTAKE_API_KEYS:?")
    reporting = huying_services()["reporting"]
    assert reporting["environment"]["HUYING_REPORTING_USERS_FILE"] == "/run/secrets/dashboard_users"
    assert "dashboard_users" in reporting["secrets"]
    assert COMPOSE["secrets"]["dashboard_users"]["file"].startswith("${HUYING_DASHBOARD_USERS_FILE:?")
    text = (ROOT / "deploy/compose/compose.yaml").read_text()
    assert ":-" not in text  # no variable has a default to fall back on


def test_dockerfile_installs_the_service_it_is_given() -> None:
    dockerfile = (ROOT / "deploy/compose/Dockerfile").read_text()
    assert "--package huying-${SERVICE}" in dockerfile
    for name in SERVICES:
        assert (ROOT / "services" / name / "pyproject.toml").read_text().count(f'huying-{name} = "') == 1


def _runtime_closure(lock: dict, root: str) -> set[str]:
    """Every package a package needs at run time (its dependencies, transitively; no dependency groups)."""
    packages = {p["name"]: p for p in lock["package"]}
    seen, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        package = packages[name]
        todo += [d["name"] for d in package.get("dependencies", [])]
        for extra in package.get("optional-dependencies", {}).values():  # counted too: an extra could pull it in
            todo += [d["name"] for d in extra]
    return seen


@pytest.mark.parametrize("name", SERVICES)
def test_no_service_image_can_contain_the_local_database(name: str) -> None:
    # SecantusDB is GPL-2.0-only and beta: a development dependency run as its own process, never in an image.
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    closure = _runtime_closure(lock, f"huying-{name}")
    assert "secantusdb" not in closure and {f"huying-{name}", "huying-shared", "pymongo"} <= closure
    assert "--no-default-groups" in (ROOT / "deploy/compose/Dockerfile").read_text()
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert root["dependency-groups"]["localdb"] == ["secantusdb==" + _pinned(root)]


def _pinned(root: dict) -> str:
    (pin,) = [d for d in root["dependency-groups"]["localdb"] if d.startswith("secantusdb==")]
    return pin.split("==", 1)[1]
