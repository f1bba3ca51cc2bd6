"""Checklists and services files for the registry tests: small, offline (an `env` check with a default
value passes without a target), written into the test's own directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_checklist(folder: Path, name: str, *, file: str | None = None, check_var: str = "SVC_REGION") -> Path:
    """A one-phase checklist named `name`; its critical (waivable) check passes once run (the variable has a
    default)."""
    data = {
        "name": name, "target": {"base_url": "http://127.0.0.1:9"},
        "phases": [{"id": "verify", "checks": [
            {"id": "env.region", "kind": "env", "criticality": "critical", "waivable": True,
             "params": {"var": check_var, "default": "eu"}},
        ]}],
    }
    path = folder / (file or f"{name}.yml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_services(folder: Path, services: dict[str, Any], **top: Any) -> Path:
    """A services file beside checklists `<name>.yml` written for every service that names one."""
    path = folder / "services.yml"
    path.write_text(yaml.safe_dump({**top, "services": services}, sort_keys=False))
    return path


def two_services(folder: Path, **top: Any) -> Path:
    """hunter (Slack channel C0HUNTER1, its own tech lead) and billing (GOLIVE_ROLES applies)."""
    write_checklist(folder / "checklists", "hunter")
    write_checklist(folder, "billing")
    return write_services(folder, {
        "hunter": {"checklist": "checklists/hunter.yml",
                   "channels": {"slack": ["C0HUNTER1"], "teams": ["19:abc@thread.tacv2"]},
                   "roles": {"tech_lead": ["U0TECH"], "devops_lead": ["S0DEVOPS"]}},
        "billing": {"checklist": "billing.yml", "channels": {"slack": ["C0BILLING"]}},
    }, **top)
