"""Every `type: ignore` in the engine and the bot says why on the same line, so the next reader can tell
a library's loose typing from a bug mypy was told to overlook."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE = re.compile(r"#\s*type:\s*ignore(\[[^\]]*\])?(?P<rest>.*)$")


def unexplained(root: Path = ROOT) -> list[str]:
    found = []
    for folder in ("checks", "bot"):
        for path in sorted((root / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                match = IGNORE.search(line)
                if match and not re.match(r"\s*#\s*\S", match.group("rest")):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_every_type_ignore_gives_its_reason_on_the_same_line() -> None:
    missing = unexplained()
    assert not missing, "add `# why` after these:\n" + "\n".join(missing)


def test_the_scan_finds_a_bare_ignore(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "checks").mkdir()
    (tmp_path / "bot" / "x.py").write_text("a = f()  # type: ignore[arg-type]\nb = g()  # type: ignore[x]  # why\n")
    assert unexplained(tmp_path) == ["bot/x.py:1: a = f()  # type: ignore[arg-type]"]
