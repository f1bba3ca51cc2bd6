"""What a person types into `golive manifest` (the public URL, the app name, the Teams package version),
checked before any manifest is printed: Slack and Teams reject a bad one only at upload time, far
from the command that produced it, so a bad value is exit 2 here with the fix spelled out.

The limits are the platforms' own: Slack's `display_information.name` takes 35 characters, Teams'
`name.short` 30 and `developer.name` 32, so one name that fits every place is at most 30 characters.
Teams wants the package version as plain MAJOR.MINOR.PATCH and a higher one for every upload.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_NAME = 30
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_REPO = Path(__file__).resolve().parents[1]


class ManifestInputError(ValueError):
    """A value a manifest cannot carry; the message says what to pass instead."""


def public_url(url: str) -> str:
    """`https://host[:port][/path]`, without a trailing slash."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if not parts.scheme:
        raise ManifestInputError(f"--url needs its scheme: did you mean https://{url.lstrip('/')} ?")
    if parts.scheme != "https":
        raise ManifestInputError(f"--url must be an https:// URL (Slack and Teams call it over TLS), got {url!r}")
    if not parts.hostname or " " in url:
        raise ManifestInputError(f"--url has no host name: {url!r}; pass e.g. https://golive.example.com")
    if parts.query or parts.fragment:
        raise ManifestInputError(f"--url must be a base URL without ?query or #fragment, got {url!r}")
    return url.rstrip("/")


def app_name(name: str) -> str:
    """The app and bot display name, the same in Slack and Teams."""
    name = (name or "").strip()
    if not name:
        raise ManifestInputError("--name must not be empty")
    if len(name) > MAX_NAME:
        raise ManifestInputError(f"--name is {len(name)} characters; Slack and Teams take at most {MAX_NAME} "
                                 f"(e.g. {name[:MAX_NAME].rstrip()!r})")
    if any(ord(ch) < 32 for ch in name):
        raise ManifestInputError("--name must be printable text without control characters")
    return name


def package_version(explicit: str | None, base: str, build: str | None) -> str:
    """`--version X.Y.Z` as given; otherwise the golive version, with a build number folded into the
    patch (`0.1.0` build 7 -> `0.1.7`, `0.1.2` build 7 -> `0.1.2007`) so every CI build uploads higher."""
    if explicit:
        if not _SEMVER.match(explicit):
            raise ManifestInputError(f"--version must be MAJOR.MINOR.PATCH (Teams rejects anything else), "
                                     f"got {explicit!r}")
        return explicit
    match = _SEMVER.match(base) or _SEMVER.match(".".join(re.findall(r"\d+", base)[:3]) or "0.1.0")
    major, minor, patch = (int(g) for g in match.groups()) if match else (0, 1, 0)
    if build:
        if not build.isdigit() or int(build) > 999:
            raise ManifestInputError(f"--build must be a whole number from 0 to 999, got {build!r}")
        patch = patch * 1000 + int(build)
    return f"{major}.{minor}.{patch}"


def schemas_dir() -> Path | None:
    """Where the official schema files are, if this machine has them: $GOLIVE_SCHEMAS_DIR, else the
    `shared/schemas` folder beside a source checkout. They are not shipped with golive."""
    configured = os.environ.get("GOLIVE_SCHEMAS_DIR")
    for candidate in ([Path(configured)] if configured else []) + [_REPO.parent / "shared" / "schemas"]:
        if candidate.is_dir():
            return candidate
    return None


def schema_errors(document: dict[str, Any], relative: str) -> list[str]:
    """Violations of the schema at `relative` under schemas_dir(); empty when it or jsonschema is absent
    (the rules above still hold then)."""
    folder = schemas_dir()
    if folder is None or not (folder / relative).is_file():
        return []
    try:
        import jsonschema
    except ImportError:
        return []
    schema = json.loads((folder / relative).read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
            for error in validator.iter_errors(document)]
