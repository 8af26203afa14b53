"""docker-compose.yml against the official Compose schema, and its service graph (no Docker engine here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from rag.config import Settings

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO.parent / "shared" / "schemas" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.mark.skipif(not SCHEMA.is_file(), reason="shared compose schema not present")
def test_valid_against_compose_spec(compose: dict) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    validator.validate(compose)
    with pytest.raises(jsonschema.ValidationError):  # the schema does catch a misspelt key
        validator.validate({"services": {"api": {"imagee": "x"}}})


def test_service_graph(compose: dict) -> None:
    services = compose["services"]
    assert {"qdrant", "ollama", "api", "worker"} <= set(services)
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health, which has no check"
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            assert source.startswith(".") or source in compose["volumes"], f"{name}: undeclared volume {source}"
    assert services["api"]["ports"] == ["${RAGLINE_PORT:-8000}:8000"]
    assert services["api"]["command"][:2] == ["rag", "serve"] and "8000" in services["api"]["command"]
    assert services["worker"]["command"][:2] == ["ingest", "--watch"]
    assert services["qdrant"]["image"].split(":")[1] != "latest"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text()))
    for name, field in Settings.model_fields.items():
        # A field read under other names too (GEMINI_API_KEY, OLLAMA_HOST) is documented under any of them.
        names = set(getattr(field.validation_alias, "choices", [])) or {f"RAGLINE_{name.upper()}"}
        assert names & documented, f"missing from .env.example: {sorted(names)}"
    compose_vars = set(re.findall(r"\b(RAGLINE_[A-Z0-9_]+)", (REPO / "docker-compose.yml").read_text()))
    assert compose_vars <= documented, f"compose uses undocumented {sorted(compose_vars - documented)}"
