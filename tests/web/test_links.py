"""Links to the web view are signed over what they point to and expire; the key lives outside the store."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from bot.web.links import DEFAULT_TTL, LinkConfigError, Linker, from_settings, load_key, parse_ttl
from tests.web.conftest import LINK_KEY, Clock


def parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["exp"][0], query["mac"][0]


def test_a_fresh_link_is_accepted_and_carries_only_its_page_and_expiry() -> None:
    linker = Linker("https://golive.example.com/", LINK_KEY, ttl=3600, clock=Clock(1000.0))
    url = linker.url("run", "4c6fb00410a04de4")
    _, exp, mac = parts(url)
    assert url.startswith("https://golive.example.com/view/run/4c6fb00410a04de4?")
    assert set(parse_qs(urlsplit(url).query)) == {"exp", "mac"}
    assert exp == "4600"
    assert linker.refusal("run", "4c6fb00410a04de4", exp, mac) is None


def test_an_altered_object_kind_expiry_or_signature_is_refused() -> None:
    linker = Linker("https://g.example", LINK_KEY, clock=Clock(1000.0))
    _, exp, mac = parts(linker.url("run", "aaaa"))
    assert linker.refusal("run", "bbbb", exp, mac) == "altered"  # another run
    assert linker.refusal("audit", "aaaa", exp, mac) == "altered"  # another page
    assert linker.refusal("run", "aaaa", str(int(exp) + 86400), mac) == "altered"  # a longer life
    assert linker.refusal("run", "aaaa", exp, mac[:-1] + ("A" if mac[-1] != "A" else "B")) == "altered"
    assert linker.refusal("run", "aaaa", exp, None) == "altered"
    assert linker.refusal("run", "aaaa", "soon", mac) == "altered"
    other_key = Linker("https://g.example", b"another-key-of-enough-length", clock=Clock(1000.0))
    assert other_key.refusal("run", "aaaa", exp, mac) == "altered"


def test_a_link_expires_after_its_ttl() -> None:
    clock = Clock(1000.0)
    linker = Linker("https://g.example", LINK_KEY, ttl=60, clock=clock)
    _, exp, mac = parts(linker.url("status", "webtest"))
    clock.now = 1060.0
    assert linker.refusal("status", "webtest", exp, mac) is None
    clock.now = 1061.0
    assert linker.refusal("status", "webtest", exp, mac) == "expired"


def test_ttl_defaults_to_seven_days_and_reads_units() -> None:
    assert parse_ttl(None) == DEFAULT_TTL == 7 * 86400
    assert parse_ttl("12h") == 43200
    assert parse_ttl("30m") == 1800
    assert parse_ttl("3600") == 3600
    for bad in ("soon", "0", "-1d", "100d"):
        with pytest.raises(LinkConfigError, match="GOLIVE_LINK_TTL"):
            parse_ttl(bad)


def test_without_a_key_setting_a_key_file_is_generated_0600_in_the_state_dir_and_reused(tmp_path: Path) -> None:
    first = load_key(key=None, key_file=None, state_dir=tmp_path / "state")
    path = tmp_path / "state" / "link.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_key(key=None, key_file=None, state_dir=tmp_path / "state") == first


def test_the_key_comes_from_the_environment_or_a_named_file(tmp_path: Path) -> None:
    assert load_key(key="k" * 20, key_file=None, state_dir=tmp_path) == b"k" * 20
    key_file = tmp_path / "key"
    key_file.write_text("f" * 40 + "\n")
    assert load_key(key=None, key_file=key_file, state_dir=tmp_path) == b"f" * 40
    with pytest.raises(LinkConfigError, match="GOLIVE_LINK_KEY is too short"):
        load_key(key="short", key_file=None, state_dir=tmp_path)
    with pytest.raises(LinkConfigError, match="cannot be read"):
        load_key(key=None, key_file=tmp_path / "absent", state_dir=tmp_path)
    assert not (tmp_path / "link.key").exists()


def test_links_are_off_without_a_public_url(tmp_path: Path) -> None:
    settings = SimpleNamespace(public_url=None, link_key=None, link_key_file=None, link_ttl=None, state_dir=tmp_path)
    assert from_settings(settings) is None
    settings.public_url, settings.link_key, settings.link_ttl = "https://g.example", SecretStr("s" * 32), "1d"
    linker = from_settings(settings)
    assert linker is not None and linker.ttl == 86400 and linker.key == b"s" * 32
    settings.public_url = "g.example"
    with pytest.raises(LinkConfigError, match="not an http"):
        from_settings(settings)
