"""A sandbox for running a target's script that is expected to do nothing (a destructive reset that must
refuse in production, a deploy script's dry run).

Why: a guard check runs the very script whose guard it tests. If the guard is missing, the script
goes ahead, so it must not be able to act. Inside the sandbox

- the tools scripts use to change state (docker, kubectl, psql, redis-cli, curl, ...) are shadowed on
  PATH by recorders that write down their arguments and do nothing;
- `sleep` returns at once (the wait is recorded), so a "waiting 5 s before DELETING ALL DATA" costs no time;
- every connection setting (URL hosts, `*_HOST`, libpq `host=`, DOCKER_HOST, KUBECONFIG, proxies) points
  at an unroutable `.invalid` host, so a direct connection from the script's own code fails too;
- HOME and TMPDIR are empty directories of the sandbox (no ~/.pgpass, ~/.kube/config, ~/.docker).

What it does not confine: files the script deletes or writes itself, and tools called by an absolute
path other than those above (their connections still go to `.invalid` hosts). README "What checks may
touch" states this threat model.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from checks.process import give_to_check

SENTINEL_HOST = "golive-sandbox.invalid"
INVALID_SUFFIX = ".invalid"

# State-changing tools a reset or deploy script calls; each is replaced by a recorder.
SHADOWED_TOOLS: tuple[str, ...] = (
    "docker", "docker-compose", "podman", "nerdctl", "kubectl", "oc", "helm", "kustomize", "terraform",
    "psql", "pg_restore", "pg_dump", "pg_dumpall", "dropdb", "createdb", "pg_ctl", "alembic",
    "redis-cli", "mysql", "mongosh", "mongo",
    "curl", "wget", "http", "nc", "ncat", "ssh", "scp", "rsync",
    "aws", "gcloud", "az", "systemctl", "service", "supervisorctl", "sudo", "doas", "su",
)

# Variables that would let code run before or instead of the shadowed tools, or point at other configs.
_DROPPED = {"BASH_ENV", "ENV", "LD_PRELOAD", "PROMPT_COMMAND", "CDPATH", "NO_PROXY", "no_proxy",
            "PGSERVICE", "PGHOSTADDR", "DOCKER_CONTEXT", "PYTHONSTARTUP"}
_HOST_NAME = re.compile(r"(^|_)(HOST|HOSTS|HOSTNAME|SERVER|SERVERS|ADDR|ADDRESS|ENDPOINT)$", re.IGNORECASE)
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<user>[^@/\s?#]*@)?(?P<hosts>[^/\s?#]*)"
)
_KV_HOST = re.compile(r"(?<![A-Za-z0-9_])(?P<key>host|hostaddr|server)=(?P<value>[^\s&;]+)", re.IGNORECASE)
_LOCAL_SCHEMES = {"file", "sqlite", "sqlite3"}
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

_RECORDER = """#!/bin/sh
# golive sandbox recorder: writes down the call and does nothing.
{{ printf '%s\\037' "${{0##*/}}" "$@"; printf '\\036'; }} >> {log}
[ -t 0 ] || cat > /dev/null 2>&1
exit 0
"""


def _invalid_host(host: str) -> str:
    """`prod-db:5432` -> `prod-db.invalid:5432`: still recognisable to a script's guard, never routable."""
    if not host:
        return SENTINEL_HOST
    if host.startswith("["):  # [ipv6]:port
        end = host.find("]")
        name, rest = host[1:end], host[end + 1:]
        return f"ipv6-{name.replace(':', '-')}{INVALID_SUFFIX}{rest}"
    name, sep, port = host.partition(":")
    if name.lower().endswith(INVALID_SUFFIX):
        return host
    return f"{name or SENTINEL_HOST.split('.')[0]}{INVALID_SUFFIX}{sep}{port}"


def _sanitize_url(match: re.Match[str]) -> str:
    scheme, user, hosts = match["scheme"], match["user"] or "", match["hosts"]
    if scheme.lower() in _LOCAL_SCHEMES:
        return match.group(0)
    if user:
        name, has_pw, _ = user[:-1].partition(":")
        user = f"{name}:golive-sandbox@" if has_pw else user
    new_hosts = ",".join(_invalid_host(h) for h in hosts.split(",")) if hosts else SENTINEL_HOST
    return f"{scheme}://{user}{new_hosts}"


def _sanitize_kv(match: re.Match[str]) -> str:
    key, value = match["key"], match["value"]
    if key.lower() == "hostaddr":  # numeric only: an unparsable value makes libpq fail at once
        return f"{key}={SENTINEL_HOST}"
    if value.startswith("/"):  # a Unix socket directory: point it at a directory that does not exist
        return f"{key}=/nonexistent/{SENTINEL_HOST}"
    return f"{key}={','.join(_invalid_host(h) for h in value.split(','))}"


def sanitize_value(name: str, value: str) -> str:
    """The value with every host it names made unroutable (URLs, `host=` pairs, `*_HOST` variables)."""
    new = _URL.sub(_sanitize_url, value) if "://" in value else value
    new = _KV_HOST.sub(_sanitize_kv, new)
    if new == value and value and _HOST_NAME.search(name) and "://" not in value:
        new = ",".join(_invalid_host(h.strip()) for h in value.split(","))
    return new


def sanitize_connections(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Every connection setting pointed at `.invalid` hosts; returns the env and the names changed."""
    out: dict[str, str] = {}
    changed: list[str] = []
    for name, value in env.items():
        new = sanitize_value(name, value)
        if new != value:
            changed.append(name)
        out[name] = new
    return out, changed


@dataclass
class Sandbox:
    """A temporary directory with recorder tools, a sleep that does not wait, an empty HOME."""

    root: Path
    tools: tuple[str, ...] = SHADOWED_TOOLS
    replaced: list[str] = field(default_factory=list)

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def calls_log(self) -> Path:
        return self.root / "calls.log"

    @property
    def sleeps_log(self) -> Path:
        return self.root / "sleeps.log"

    @classmethod
    def create(cls, extra_tools: tuple[str, ...] = ()) -> Sandbox:
        box = cls(root=Path(tempfile.mkdtemp(prefix="golive-sandbox-")),
                  tools=tuple(dict.fromkeys((*SHADOWED_TOOLS, *extra_tools))))
        for sub in ("bin", "home", "tmp"):
            (box.root / sub).mkdir()
        recorder = _RECORDER.format(log=shlex.quote(str(box.calls_log)))
        for tool in box.tools:
            path = box.bin / tool
            path.write_text(recorder)
            path.chmod(0o755)
        sleeper = box.bin / "sleep"
        sleeper.write_text(_RECORDER.format(log=shlex.quote(str(box.sleeps_log))))
        sleeper.chmod(0o755)
        give_to_check(box.root)  # a root golive without namespaces runs the script as another user
        (box.root / "kubeconfig").write_text(
            "apiVersion: v1\nkind: Config\nclusters: [{name: sandbox, cluster: "
            f"{{server: 'https://kubernetes.{SENTINEL_HOST}'}}}}]\ncontexts: [{{name: sandbox, context: "
            "{cluster: sandbox, user: sandbox}}]\ncurrent-context: sandbox\nusers: [{name: sandbox, user: {}}]\n")
        return box

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The script's whole environment: `env` (the target's settings as presented) made harmless.

        Nothing of the bot's own environment is inherited except PATH and the locale.
        """
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM")}
        merged = {**base, **env}
        merged = {k: v for k, v in merged.items() if k not in _DROPPED and not k.startswith("BASH_FUNC_")}
        merged, self.replaced = sanitize_connections(merged)
        merged["PATH"] = f"{self.bin}{os.pathsep}{merged.get('PATH') or os.defpath}"
        merged.update(
            HOME=str(self.root / "home"), TMPDIR=str(self.root / "tmp"),
            PGHOST=merged.get("PGHOST") or SENTINEL_HOST,
            PGSERVICEFILE=str(self.root / "no-pg_service.conf"), PGSYSCONFDIR=str(self.root / "no-pg"),
            PGPASSFILE=str(self.root / "no-pgpass"), PGCONNECT_TIMEOUT="2",
            DOCKER_HOST=f"tcp://docker.{SENTINEL_HOST}:2375", DOCKER_CONFIG=str(self.root / "no-docker"),
            KUBECONFIG=str(self.root / "kubeconfig"),
            **{name: f"http://proxy.{SENTINEL_HOST}:3128" for name in _PROXY_VARS},
        )
        return merged

    def shadows(self, program: str) -> bool:
        return Path(program).name in self.tools or Path(program).name == "sleep"

    @staticmethod
    def _read(log: Path) -> list[list[str]]:
        try:
            raw = log.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return []
        return [record.split("\x1f")[:-1] for record in raw.split("\x1e") if record]

    def calls(self) -> list[list[str]]:
        """Every intercepted call, in order, as argv (tool name first)."""
        return self._read(self.calls_log)

    def slept_seconds(self) -> float:
        """The time the script asked to sleep (and did not)."""
        total = 0.0
        for argv in self._read(self.sleeps_log):
            for arg in argv[1:]:
                m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", arg)
                if m:
                    total += float(m[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m[2]]
        return total

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def describe_call(argv: list[str]) -> str:
    return shlex.join(argv)
