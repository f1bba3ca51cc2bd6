"""Who the CLI acts as: the OS account running it, mapped to chat user ids by a file the operator controls.

In chat, Slack or Teams vouches for the user id. A terminal has no such witness, so `--by` alone would
let anyone type any id. The CLI therefore takes its identity from the operators file
(`GOLIVE_OPERATORS_FILE`, default /etc/golive/operators.yml):

    operators:
      alice: U01ABC            # OS user -> chat user id (a list when one person has several)
      bob: [U02DEF, 29:1bob]
    ci:
      runners: [gitlab-runner]   # OS accounts CI jobs run as
      job_env: CI_JOB_NAME       # the variable naming the job (default GOLIVE_CI_JOB)
      jobs:
        deploy-prod: U0CIBOT     # ci:<job> -> chat user id

The OS user is the effective uid's account name (never $USER or $LOGNAME, which anyone can set). A CI
job identity is honoured only when the process runs as one of the `runners` accounts, because the job
variable is just an environment variable. The file is refused when others may write it or when it
is owned by neither root nor the current user: whoever can edit it can become anyone.

`--by` picks one of the ids the mapping grants (default: the first); an id it does not grant is refused.
"""

from __future__ import annotations

import os
import pwd
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.store.auditkey import AuditKeyError, check_private

DEFAULT_FILE = Path("/etc/golive/operators.yml")
DEFAULT_JOB_ENV = "GOLIVE_CI_JOB"


class IdentityError(ValueError):
    """The operators file is missing or unsafe (exit 2): the operator must fix the configuration."""


class NotGranted(ValueError):
    """The OS user is not mapped, or `--by` names an id the mapping does not grant (exit 1, audited)."""


@dataclass(frozen=True)
class CliIdentity:
    os_user: str
    host: str
    chat_ids: tuple[str, ...] = ()
    ci_job: str | None = None
    source: str = ""

    @property
    def who(self) -> str:
        """The OS-side identity as the audit log names it: `alice@host` or `ci:<job> (runner@host)`."""
        base = f"{self.os_user}@{self.host}"
        return f"ci:{self.ci_job} ({base})" if self.ci_job else base

    def detail(self) -> dict[str, Any]:
        return {"os_user": self.os_user, "host": self.host, "ci_job": self.ci_job, "operators_file": self.source}


@dataclass
class Operators:
    users: dict[str, list[str]] = field(default_factory=dict)
    runners: list[str] = field(default_factory=list)
    job_env: str = DEFAULT_JOB_ENV
    jobs: dict[str, list[str]] = field(default_factory=dict)


def os_user() -> str:
    """The effective uid's account name; environment variables are not trusted for this."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid:{os.geteuid()}"


def host() -> str:
    return socket.gethostname() or "unknown-host"


def _ids(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    ids = [str(i).strip() for i in items if str(i).strip()]
    if not ids or not all(isinstance(i, str | int) for i in items):
        raise IdentityError(f"{where} must map to a chat user id or a list of them")
    return ids


def load_operators(path: Path) -> Operators:
    if not path.is_file():
        raise IdentityError(f"no operators file at {path}: create it (mode 0644, owned by root) mapping OS users "
                            "to chat user ids (README \"Rollout\", CLI identity), or set GOLIVE_OPERATORS_FILE")
    try:
        check_private(path, "the operators file")
    except AuditKeyError as exc:
        raise IdentityError(str(exc)) from None
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise IdentityError(f"the operators file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise IdentityError(f"the operators file {path} must be a mapping with `operators:` (and optionally `ci:`)")
    users = data.get("operators") or {}
    ci = data.get("ci") or {}
    if not isinstance(users, dict) or not isinstance(ci, dict):
        raise IdentityError(f"the operators file {path}: `operators` and `ci` must be mappings")
    jobs = ci.get("jobs") or {}
    if not isinstance(jobs, dict):
        raise IdentityError(f"the operators file {path}: `ci.jobs` must map job names to chat user ids")
    return Operators(users={str(k): _ids(v, f"operators.{k}") for k, v in users.items()},
                     runners=[str(r) for r in (ci.get("runners") or [])],
                     job_env=str(ci.get("job_env") or DEFAULT_JOB_ENV),
                     jobs={str(k): _ids(v, f"ci.jobs.{k}") for k, v in jobs.items()})


def resolve(path: Path, *, require_mapping: bool = True) -> CliIdentity:
    """The identity of this process. Raises NotGranted when the OS user (or CI job) is not mapped and
    `require_mapping` (break-glass passes False: it acts as the OS user alone, and says so)."""
    user, where = os_user(), host()
    try:
        operators = load_operators(path)
    except IdentityError:
        if require_mapping:
            raise
        return CliIdentity(user, where, (), None, str(path))
    if user in operators.runners:
        job = os.environ.get(operators.job_env, "").strip()
        if job and job in operators.jobs:
            return CliIdentity(user, where, tuple(operators.jobs[job]), job, str(path))
        if require_mapping:
            raise NotGranted(f"OS user {user} runs CI jobs, but job {job or '(unset ' + operators.job_env + ')'} "
                             f"is not mapped under ci.jobs in {path}")
        return CliIdentity(user, where, (), job or None, str(path))
    ids = operators.users.get(user)
    if not ids:
        if require_mapping:
            raise NotGranted(f"OS user {user} is not mapped to a chat user id in {path}: ask the operator to add "
                             f"`{user}: <your chat user id>` under operators (or use --break-glass \"reason\" if chat "
                             "is down)")
        return CliIdentity(user, where, (), None, str(path))
    return CliIdentity(user, where, tuple(ids), None, str(path))


def acting_as(identity: CliIdentity, by: str | None) -> str:
    """The chat user id this CLI call acts as: `--by` when the mapping grants it, else the first mapped id."""
    if by is None or by == "":
        return identity.chat_ids[0]
    if by not in identity.chat_ids:
        raise NotGranted(f"--by {by} is not granted to {identity.who} by {identity.source} "
                         f"(it maps to {', '.join(identity.chat_ids)})")
    return by
