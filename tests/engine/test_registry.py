"""The built-in kind table and the modules agree, and a kind is imported only when asked for."""

from __future__ import annotations

import subprocess
import sys

from checks.kinds import BUILTIN_KINDS, import_all
from checks.registry import KINDS, get_kind, known_kinds


def test_the_table_names_exactly_the_kinds_the_modules_register() -> None:
    import_all()
    builtin = {name for name, kind in KINDS.items() if kind.run.__module__.startswith("checks.kinds.")}
    assert builtin == set(BUILTIN_KINDS), "update checks.kinds.BUILTIN_KINDS to match the @check_kind registrations"
    for name in BUILTIN_KINDS:
        assert KINDS[name].run.__module__ == f"checks.kinds.{BUILTIN_KINDS[name]}", name


def test_known_kinds_lists_builtins_and_unknown_names_stay_unknown() -> None:
    assert set(BUILTIN_KINDS) <= set(known_kinds())
    assert get_kind("no.such.kind") is None


def test_loading_a_checklist_imports_only_the_kinds_it_uses(tmp_path) -> None:
    checklist = tmp_path / "c.yml"
    checklist.write_text("name: t\nphases:\n  - id: p\n    checks:\n"
                         "      - {id: e, kind: env, params: {var: HOME}}\n")
    code = ("import sys\nfrom checks.loader import load_checklist\nload_checklist(sys.argv[1])\n"
            "print(' '.join(m for m in sys.modules if m.startswith('checks.kinds.')))")
    out = subprocess.run([sys.executable, "-c", code, str(checklist)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["checks.kinds.env"]
