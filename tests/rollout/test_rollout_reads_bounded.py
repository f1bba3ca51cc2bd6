"""The rollout side reads the target too, and every read is bounded (issue 18, item 3): the watch's probes
and metrics document, the effective-flags probe (URL or command), a flag service, a flag file. Oversized
answers make that source unreadable with a reason naming the cap; a FIFO or a device as the flag file is
refused instead of blocking the bot or flooding it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench.hostile_target import HostileTarget, Recorder
from bot.rollout.metrics import Collector
from bot.rollout.models import ProbeSpec, WatchConfig
from bot.rollout.providers import ProviderError
from bot.rollout.providers.dotenv import DotenvProvider
from bot.rollout.providers.http import HttpProvider
from bot.serving.server import start_web_app
from checks.kinds.flags import EffectiveError, EffectiveProbe, read_effective
from tests.serving import IN_FLIGHT, hostile_target


@pytest.fixture
async def hostile() -> AsyncIterator[tuple[str, HostileTarget]]:
    async with hostile_target() as served:
        yield served


async def test_the_watch_reads_no_more_than_its_cap_of_probes_and_metrics(hostile: tuple[str, HostileTarget]) -> None:
    base_url, target = hostile
    config = WatchConfig(probes=[ProbeSpec(name="ready", url="/zeros")], metrics_url="/zeros",
                         metrics={"error_rate": "errors.rate"}, max_body_bytes=65536, timeout_seconds=10)
    collector = Collector(config, base_url)
    try:
        sample = await collector.collect()
    finally:
        await collector.close()
    assert sample.probes["ready"].error == "the answer exceeds the 64 KiB cap (watch.max_body_bytes)"
    assert "64 KiB cap (watch.max_body_bytes)" in sample.unread["error_rate"]
    await target.all_streams_done()
    assert len(target.streams) == 2 and all(s.sent < IN_FLIGHT for s in target.streams)


async def test_a_trickling_metrics_answer_ends_at_the_watch_timeout(hostile: tuple[str, HostileTarget]) -> None:
    base_url, _ = hostile
    config = WatchConfig(probes=[ProbeSpec(name="ready", url="/hang")], metrics_url=None, timeout_seconds=0.2)
    collector = Collector(config, base_url)
    try:
        sample = await collector.collect()
    finally:
        await collector.close()
    assert sample.probes["ready"].error == "timed out"


async def test_the_effective_probe_stops_at_its_cap(hostile: tuple[str, HostileTarget], tmp_path: Path) -> None:
    base_url, target = hostile
    with pytest.raises(EffectiveError) as caught:
        await read_effective(EffectiveProbe(url="/zeros", max_bytes=4096), ["F"], base_url=base_url,
                             workdir=tmp_path)
    assert "4 KiB cap (effective.max_bytes)" in str(caught.value)
    with pytest.raises(EffectiveError) as caught:
        await read_effective(EffectiveProbe(command="cat /dev/zero"), ["F"], base_url=base_url, workdir=tmp_path)
    assert "1 MiB cap (effective.max_bytes)" in str(caught.value) and "killed it" in str(caught.value)
    await target.all_streams_done()
    assert target.streams[0].sent < IN_FLIGHT


async def test_the_effective_probe_sends_the_target_headers_only_to_the_target(
        hostile: tuple[str, HostileTarget], tmp_path: Path) -> None:
    base_url, _ = hostile
    other = Recorder()
    runner, port = await start_web_app(other.app)
    try:
        with pytest.raises(EffectiveError):  # the recorder's {"status": "ok"} has no flag F: not the point here
            await read_effective(EffectiveProbe(url=f"http://127.0.0.1:{port}/flags", path="features"), ["F"],
                                 base_url=base_url, workdir=tmp_path, headers={"X-Api-Key": "k3y-0042"})
    finally:
        await runner.cleanup()
    [request] = other.seen
    assert "x-api-key" not in {h.lower() for h in request["headers"]}


async def test_a_flag_service_answer_is_capped(hostile: tuple[str, HostileTarget]) -> None:
    base_url, target = hostile
    provider = HttpProvider.from_config({"url": f"{base_url}/zeros", "max_body_bytes": 65536})
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.read(["F"])
    finally:
        await provider.close()
    assert "64 KiB cap (provider.max_body_bytes)" in str(caught.value)
    await target.all_streams_done()
    assert target.streams[0].sent < IN_FLIGHT


async def test_a_flag_file_that_is_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "flags.env"
    os.mkfifo(path)  # no writer: reading it the ordinary way blocks a thread forever
    with pytest.raises(ProviderError) as caught:
        await DotenvProvider(path).read(["F"])
    assert "is a FIFO, not a regular file" in str(caught.value)
    with pytest.raises(ProviderError):
        await DotenvProvider(path).write({"F": True})


async def test_a_flag_file_is_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "flags.env"
    path.write_text("# flags\nF=true\nexport G='off'\n")
    assert await DotenvProvider(path).read(["F", "G", "H"]) == {"F": "true", "G": "off", "H": None}
