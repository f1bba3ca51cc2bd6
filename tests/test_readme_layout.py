"""The README's Layout section is the map of the code: every package under bot/ and checks/ is named
there, and every path it names exists, so a moved or added package cannot leave the map stale."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def layout_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Layout\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def packages() -> set[str]:
    return {str(p.parent.relative_to(ROOT)) for top in ("bot", "checks") for p in (ROOT / top).rglob("__init__.py")
            if "__pycache__" not in p.parts} - {"bot", "checks"}


def unnamed(section: str) -> list[str]:
    """Packages named neither by their path (`bot/x/`) nor, inside their parent's entry, as `x/`."""
    return sorted(p for p in packages() if f"`{p}/`" not in section and f"`{p}`" not in section
                  and f"`{Path(p).name}/`" not in section)


def test_every_package_under_bot_and_checks_is_named_in_the_layout() -> None:
    assert unnamed(layout_section()) == [], "packages the README's Layout section does not name"
    assert unnamed(layout_section().replace("`bot/policy/`", "policy")) == ["bot/policy"]  # the check bites


def test_every_path_the_layout_names_exists() -> None:
    paths = re.findall(r"`((?:bot|checks)/[\w/.]+)`", layout_section())
    assert paths, "the Layout section names no path"
    stale = sorted(p for p in paths if not (ROOT / p).exists())
    assert not stale, f"the README's Layout section names paths that do not exist: {stale}"
