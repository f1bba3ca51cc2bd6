"""The Dockerfile, read as text (no Docker engine here): slim base, non-root user, `golive serve` as the
entry point, and EXPOSE / HEALTHCHECK on the port the bot's settings listen on by default."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def last(name: str) -> str:
    found = [args for word, args in instructions() if word == name]
    assert found, f"no {name} in the Dockerfile"
    return found[-1]


def exec_form(args: str) -> list[str]:
    return json.loads(args) if args.startswith("[") else shlex.split(args)


@pytest.fixture
def defaults(isolated_env: None) -> Settings:
    return Settings()  # type: ignore[call-arg]


def test_slim_python_311_base() -> None:
    bases = [args for word, args in instructions() if word == "FROM"]
    assert bases[-1].split()[0] == "python:3.11-slim-trixie"  # Debian 13: its archive has postgresql-client-17


def test_runs_as_a_non_root_user() -> None:
    user = last("USER").split(":")[0]
    assert user not in ("root", "0", "")


def test_entry_point_is_golive_serve() -> None:
    command = exec_form(last("ENTRYPOINT")) + exec_form(last("CMD"))
    assert command[:2] == ["golive", "serve"]


def test_dependencies_come_from_the_lock_file_then_the_project_metadata() -> None:
    runs = [args for word, args in instructions() if word == "RUN"]
    lock = next(i for i, r in enumerate(runs) if re.search(r"pip install (--\S+ )*-r requirements\.lock", r))
    package = next(i for i, r in enumerate(runs) if re.search(r"pip install --no-deps \"?\.(\$\{EXTRAS[^}]*\})?\"?", r))
    assert lock < package, "pinned dependencies first, then the package without resolving again"
    copies = " ".join(args for word, args in instructions() if word == "COPY")
    assert "pyproject.toml" in copies and "requirements.lock" in copies
    assert (ROOT / "requirements.lock").is_file()
    runs = " ".join(runs)
    assert "postgresql-client" in runs  # pg_dump / pg_restore / psql for the backup checks


def test_expose_and_healthcheck_use_the_default_http_port(defaults: Settings) -> None:
    port = defaults.http_port
    assert last("EXPOSE").split()[0].split("/")[0] == str(port)
    env = " ".join(args for word, args in instructions() if word == "ENV")
    declared = re.search(r"GOLIVE_HTTP_PORT=(\d+)", env)
    assert declared is None or declared.group(1) == str(port)
    health = last("HEALTHCHECK")
    url = re.search(r"http://[^\s\"']+", health)
    assert url, health
    # ${GOLIVE_HTTP_PORT:-3000} resolves to the ENV value or its default
    resolved = re.sub(r"\$\{GOLIVE_HTTP_PORT(:-(\d+))?\}", lambda m: declared.group(1) if declared else m.group(2),
                      url.group(0))
    assert resolved.endswith(f":{port}/healthz/live"), resolved


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".git", "golive-state"):
        assert entry in ignored


def test_the_image_pg_dump_is_at_least_as_new_as_the_newest_supported_server() -> None:
    """pg_dump refuses a server of a newer major version; Debian's `postgresql-client` is 15 on bookworm, so the
    image is built on trixie, whose main archive has postgresql-client-17 (17.12-0+deb13u1 when this was
    written). Read as text: the Docker engine is not available here, so the build itself is unverified."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    supported = re.search(r"supported servers: PostgreSQL (\d+) to (\d+)", readme)
    assert supported, "the README must say which server majors are supported"
    arg = next(args for word, args in instructions() if word == "ARG" and args.startswith("PG_CLIENT_MAJOR="))
    assert int(arg.split("=", 1)[1]) >= int(supported[2])
    run = " ".join(args for word, args in instructions() if word == "RUN")
    assert '"postgresql-client-${PG_CLIENT_MAJOR}"' in run
    base = next(args for word, args in instructions() if word == "FROM")
    assert base.endswith("-trixie"), base  # bookworm's archive has no postgresql-client-17
    assert re.search(r"install[^&]*\spostgresql-client\s", run) is None  # not Debian's own, older client
