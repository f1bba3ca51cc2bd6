"""The tests and the benchmarks read nothing outside the repository, so `pip install -e '.[test]' &&
pytest -q` passes on a clone with nothing beside it. A static check over every file under tests/ and
bench/: paths built from `__file__` that climb above the repository root (`parents[N]`, `.parent`,
`/ ".."`), relative `../` paths, and absolute paths into a developer's machine (/work, /home, ...).
It once would have caught the two schema readers that climbed to a folder beside the checkout (`parents[3]`,
`REPO.parent`); the last test below keeps them verbatim."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("tests", "bench")

# Absolute paths that only exist on someone's machine; system locations (/proc, /usr/lib/postgresql,
# /bin/sh, /dev/null) are the platform, not a neighbour of the repository.
PRIVATE_ROOTS = ["/" + name for name in ("work", "home", "root", "Users", "mnt", "srv", "opt", "shared", "data",
                                         "workspace")]  # spelt without the slash, so this file passes its own scan
PRIVATE = re.compile(r"(?<![\w.:/])(" + "|".join(re.escape(p) for p in PRIVATE_ROOTS) + r")(/|\b)")
CLIMB = re.compile(r"(?<![\w.])\.\.(/|\\|$)")  # "../x", "..", "a/../b"


@dataclass(frozen=True)
class Escape:
    file: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.why}"


class _PathDepth(ast.NodeVisitor):
    """Follows how deep below the repository root each path expression built from `__file__` is.

    The depth of `Path(__file__)` is the number of parts of the file's repository-relative path
    (tests/teams/support.py: 3); `.parent`, `.parents[N]`, `os.path.dirname` and `/ ".."` go up,
    `/ "a/b"` goes down. A depth below 0 is a path outside the repository."""

    def __init__(self, rel: PurePosixPath) -> None:
        self.rel = rel
        self.names: dict[str, int] = {}
        self.escapes: list[Escape] = []

    def depth(self, node: ast.AST) -> int | None:
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return len(self.rel.parts)
            return self.names.get(node.id)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("Path", "PurePath", "PurePosixPath", "abspath", "realpath", "normpath") and node.args:
                return self.depth(node.args[0])
            if name == "dirname" and node.args:
                inner = self.depth(node.args[0])
                return None if inner is None else inner - 1
            if name in ("resolve", "absolute") and isinstance(func, ast.Attribute):
                return self.depth(func.value)
            if name == "join" and isinstance(func, ast.Attribute) and node.args:  # os.path.join(base, "..", ...)
                return self._down(self.depth(node.args[0]), node.args[1:])
            return None
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            inner = self.depth(node.value)
            return None if inner is None else inner - 1
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "parents":
            inner = self.depth(node.value.value)
            index = node.slice
            if inner is not None and isinstance(index, ast.Constant) and isinstance(index.value, int):
                return inner - 1 - index.value
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return self._down(self.depth(node.left), [node.right])
        return None

    @staticmethod
    def _down(base: int | None, parts: list[ast.expr]) -> int | None:
        if base is None:
            return None
        for part in parts:
            if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                return base  # a computed part: assume it stays where it is
            for piece in PurePosixPath(part.value).parts:
                base += -1 if piece == os.pardir else 0 if piece == os.curdir else 1
        return base

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.BinOp, ast.Call)):
            depth = self.depth(node)
            if depth is not None and depth < 0:
                self.escapes.append(Escape(str(self.rel), getattr(node, "lineno", 0),
                                           f"a path {-depth} level(s) above the repository root: {ast.unparse(node)}"))
                return  # one report per expression, not one per sub-expression
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            depth = self.depth(node.value)
            if depth is not None:
                self.names[node.targets[0].id] = depth
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            depth = self.depth(node.value)
            if depth is not None:
                self.names[node.target.id] = depth
        super().generic_visit(node)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def _is_docstring_prose(text: str) -> bool:
    return "\n" in text or " " in text.strip()


def python_escapes(rel: PurePosixPath, source: str) -> list[Escape]:
    tree = ast.parse(source)
    visitor = _PathDepth(rel)
    visitor.visit(tree)
    escapes = list(visitor.escapes)
    for line, text in _strings(tree):
        if _is_docstring_prose(text):
            continue  # prose (docstrings, messages) may mention paths; only path-like literals count
        if CLIMB.search(text):
            escapes.append(Escape(str(rel), line, f"a relative path that climbs out: {text!r}"))
        elif PRIVATE.search(text):
            escapes.append(Escape(str(rel), line, f"an absolute path into a private machine: {text!r}"))
    return escapes


def text_escapes(rel: PurePosixPath, text: str) -> list[Escape]:
    escapes = []
    for number, line in enumerate(text.splitlines(), 1):
        if CLIMB.search(line) or PRIVATE.search(line):
            escapes.append(Escape(str(rel), number, f"a path outside the repository: {line.strip()[:120]!r}"))
    return escapes


def repository_escapes(root: Path = ROOT) -> list[Escape]:
    escapes: list[Escape] = []
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".db", ".pyc", ".json"):
                continue  # binary fixtures and the verbatim upstream schemas (data, never read as paths)
            if "node_modules" in path.parts:
                continue  # npm's install of tests/unleash (git-ignored): third-party code, not the suite's
            rel = PurePosixPath(path.relative_to(root).as_posix())
            text = path.read_text(encoding="utf-8")
            escapes += python_escapes(rel, text) if path.suffix == ".py" else text_escapes(rel, text)
    return escapes


def test_no_test_or_benchmark_reads_a_path_outside_the_repository() -> None:
    escapes = repository_escapes()
    assert not escapes, "tests/bench must need nothing beside the repository (put data under tests/):\n" + \
        "\n".join(map(str, escapes))


def test_the_scan_covers_every_test_and_benchmark_source() -> None:
    sources = [p for folder in SCANNED for p in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 100 and ROOT / "tests" / "teams" / "support.py" in sources


def _named(sources: dict[str, str]) -> dict[str, str]:
    """The sample sources name the neighbouring folder through a placeholder, so that this file itself holds
    no path out of the repository for a plain text search to trip over."""
    return {rel: text.replace("SHARED", "sha" + "red") for rel, text in sources.items()}


# The forms the suite once used, and others like them: each must be caught.
CAUGHT = _named({
    "tests/teams/support.py":
        'SCHEMA_PATH = Path(__file__).resolve().parents[3] / "SHARED" / "schemas" / "adaptive-cards" / "a.json"',
    "tests/slack/test_slack_manifest.py":
        'REPO = Path(__file__).resolve().parents[2]\nSCHEMA = REPO.parent / "SHARED" / "schemas" / "m.json"',
    "tests/a.py": 'BASE = Path(__file__).parent.parent.parent / "x"',
    "tests/b.py": 'import os\nBASE = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))',
    "bench/c.py": 'ROOT = Path(__file__).resolve().parent.parent\nSIDE = ROOT / ".." / "SHARED"',
    "tests/d.py": 'SCHEMA = Path("../SHARED/schemas/x.json")',
    "tests/e.py": 'SCHEMA = Path("/work/SHARED/schemas/x.json")',
    "tests/f.py": 'data = open("/home/dev/golive-data.json").read()',
})
ALLOWED = _named({
    "tests/teams/support.py": 'SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "x.json"',
    "tests/g.py": 'ROOT = Path(__file__).resolve().parents[1]\nLOCK = ROOT / "requirements.lock"',
    "bench/h.py": 'ROOT = Path(__file__).resolve().parent.parent\nsys.path.insert(0, str(ROOT))',
    "tests/i.py": 'PG = Path("/usr/lib/postgresql/15/bin")\nSTATUS = Path("/proc/self/status")',
    "tests/j.py": '"""Reads nothing from ../SHARED or /work/SHARED: prose is not a path."""',
})


def test_the_scan_catches_each_way_out_of_the_repository() -> None:
    for rel, source in CAUGHT.items():
        assert python_escapes(PurePosixPath(rel), source), f"not caught in {rel}: {source}"


def test_the_scan_lets_paths_inside_the_repository_and_system_paths_be() -> None:
    for rel, source in ALLOWED.items():
        assert python_escapes(PurePosixPath(rel), source) == [], f"wrongly flagged in {rel}: {source}"


def test_the_scan_would_have_caught_the_old_schema_readers() -> None:
    old = _named({  # verbatim lines from before the schemas moved into tests/schemas/
        "tests/teams/support.py": 'SCHEMA_PATH = Path(__file__).resolve().parents[3] / "SHARED" / "schemas" / '
                                  '"adaptive-cards" / "adaptive-card-1.5.0.json"',
        "tests/slack/test_slack_manifest.py": 'REPO = Path(__file__).resolve().parents[2]\n'
                                              'SCHEMA = REPO.parent / "SHARED" / "schemas" / "slack-manifest" / '
                                              '"manifest.schema.1.0.0.json"',
    })
    for rel, source in old.items():
        [escape] = python_escapes(PurePosixPath(rel), source)
        assert "1 level(s) above the repository root" in escape.why, escape


def test_ci_runs_the_readme_test_command_once_in_a_copy_with_nothing_beside_it() -> None:
    readme = (ROOT / "README.md").read_text()
    [command] = [line for line in readme.splitlines() if line.startswith("pip install -e '.[test]'")]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    runs = [number for number, line in enumerate(ci) if line.strip() == command]
    assert len(runs) == 1, f".ci/run must run {command!r} exactly once"
    cds = [line.strip() for line in ci[:runs[0]] if line.strip().startswith("cd ")]
    assert 'ISOLATED="$(mktemp -d)/golive"' in ci and cds[-1] == 'cd "$ISOLATED"', \
        "the README's test command must run in the isolated copy, not in the checkout"
