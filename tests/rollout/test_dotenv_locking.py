"""The dotenv flag file under concurrent writers: a cross-process lock around the read-modify-write
(no flip lost), stale temp copies removed at start, temp files 0600 in the same directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from bot.rollout.providers import ProviderError
from bot.rollout.providers.dotenv import DotenvProvider

WRITER = """
import asyncio, sys
from bot.rollout.providers.dotenv import DotenvProvider
path, key, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
provider = DotenvProvider(path)
async def main():
    for i in range(rounds):
        await provider.write({key: f"v{i}"})
asyncio.run(main())
"""


def test_writers_in_separate_processes_lose_no_change(tmp_path: Path) -> None:
    path = tmp_path / "flags.env"
    path.write_text("# shared by every replica\nDATABASE_URL=postgresql://app:pw@db/x\n")
    keys, rounds = [f"FLAG_{i}" for i in range(4)], 40
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), key, str(rounds)], env=env)
             for key in keys]
    assert [p.wait(timeout=120) for p in procs] == [0] * len(keys)
    text = path.read_text()
    for key in keys:  # every process's last flip is there: nobody rewrote from a stale copy
        assert f"{key}=v{rounds - 1}\n" in text, text
    assert text.startswith("# shared by every replica\nDATABASE_URL=postgresql://app:pw@db/x\n")
    assert not list(tmp_path.glob("*.tmp"))


def test_stale_temp_copies_are_removed_when_the_provider_starts(tmp_path: Path) -> None:
    path = tmp_path / "flags.env"
    path.write_text("A=1\n")
    stale = [tmp_path / ".flags.env.k3jd9.tmp", tmp_path / ".flags.env.zz.tmp"]
    for copy in stale:
        copy.write_text("DATABASE_URL=postgresql://app:secret@db/x\n")
    other = tmp_path / ".other.env.abc.tmp"
    other.write_text("not ours")
    provider = DotenvProvider(path)
    assert sorted(provider.removed_stale) == sorted(stale)
    assert not any(copy.exists() for copy in stale) and other.exists()


def test_temp_files_are_private_and_beside_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "flags.env"
    path.write_text("A=1\n")
    os.chmod(path, 0o640)
    seen: list[tuple[Path, int]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((Path(src), stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    created: list[int] = []
    real_fdopen = os.fdopen

    def spy_fdopen(fd: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        created.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    monkeypatch.setattr(os, "fdopen", spy_fdopen)
    import asyncio

    asyncio.run(DotenvProvider(path).write({"A": False}))
    assert created == [0o600]  # created private, before any secret is written into it
    [(tmp, mode)] = seen
    assert tmp.parent == tmp_path and mode == 0o640  # the file keeps its own permissions
    assert path.read_text() == "A=false\n"


async def test_a_writer_waits_for_the_lock_and_says_so_when_it_times_out(tmp_path: Path) -> None:
    path = tmp_path / "flags.env"
    path.write_text("A=1\n")
    provider = DotenvProvider(path, lock_timeout=0.3)
    with FileLock(tmp_path / ".flags.env.lock"):  # another process mid-write
        started = time.monotonic()
        with pytest.raises(ProviderError, match=r"being rewritten by another process.*nothing changed"):
            await provider.write({"A": False})
        assert time.monotonic() - started >= 0.3
    assert path.read_text() == "A=1\n"
    await provider.write({"A": False})
    assert path.read_text() == "A=false\n"
