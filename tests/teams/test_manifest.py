"""The Teams app package: `golive manifest --teams` writes the zip (or prints manifest.json) with the bot id
from TEAMS_APP_ID; the copy in teams/ stays in sync; the icons are the sizes and colours Teams demands."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from bot.chatops.commands import declared
from bot.cli import main as cli
from bot.teams.icons import color_icon, outline_icon
from bot.teams.manifest import PLACEHOLDER_APP_ID, build_manifest, render_manifest

REPO = Path(__file__).resolve().parents[2]
APP_ID = "3f1b2c4d-5e6f-4a1b-8c2d-9e0f1a2b3c4d"


def read_png(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """(width, height, RGBA rows) of an 8-bit RGBA PNG without filters, as icons.py writes them."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.setdefault(kind, b"")
        chunks[kind] += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color_type) == (8, 6)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + width * 4
    rows = []
    for y in range(height):
        line = raw[y * stride:(y + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + x * 4:5 + x * 4]) for x in range(width)])
    return width, height, rows


def test_icons_are_192_colour_and_32_white_on_transparent() -> None:
    width, height, rows = read_png(color_icon())
    assert (width, height) == (192, 192) and all(px[3] == 255 for row in rows for px in row)
    width, height, rows = read_png(outline_icon())
    assert (width, height) == (32, 32)
    assert all(px[:3] == (255, 255, 255) or px[3] == 0 for row in rows for px in row)
    assert any(px[3] == 255 for row in rows for px in row) and rows[0][0][3] == 0


def test_the_package_in_the_repository_is_in_sync() -> None:
    assert (REPO / "teams" / "manifest.json").read_text() == render_manifest(build_manifest()), \
        "regenerate: python -c 'from bot.teams.manifest import *; print(render_manifest(build_manifest()), end=\"\")'"
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        assert read_png((REPO / "teams" / name).read_bytes()) == read_png(data), \
            f"regenerate teams/{name}: python -m bot.teams.icons teams"


def test_the_manifest_names_the_bot_and_every_command() -> None:
    manifest = build_manifest(APP_ID, "https://golive.acme.io/")
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["manifestVersion"] == "1.17" and manifest["validDomains"] == ["golive.acme.io"]
    assert manifest["developer"]["privacyUrl"] == "https://golive.acme.io/privacy"
    [commands] = manifest["bots"][0]["commandLists"]
    assert [c["title"] for c in commands["commands"]] == [verb.name for verb in declared() if verb.menu]
    assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128 for c in commands["commands"])
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80


def test_golive_manifest_teams_writes_the_zip(isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    out = tmp_path / "app.zip"
    assert cli(["manifest", "--teams", "--out", str(out)]) == 0
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert read_png(package.read("outline.png"))[:2] == (32, 32)
    assert manifest["bots"][0]["botId"] == APP_ID and manifest["id"] != PLACEHOLDER_APP_ID


def test_golive_manifest_teams_json_and_its_errors(isolated_env: None, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["manifest", "--teams", "--json"]) == 2
    assert "TEAMS_APP_ID" in capsys.readouterr().err
    assert cli(["manifest", "--teams", "--json", "--app-id", "not-a-guid"]) == 2
    assert "a GUID" in capsys.readouterr().err
    assert cli(["manifest", "--teams", "--json", "--app-id", APP_ID, "--url", "http://plain.example.com"]) == 2
    assert "https://" in capsys.readouterr().err
    assert cli(["manifest", "--teams", "--json", "--app-id", APP_ID]) == 0
    assert json.loads(capsys.readouterr().out)["bots"][0]["botId"] == APP_ID


def test_golive_manifest_teams_takes_a_version_or_folds_a_build_number(
        isolated_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.teams.manifest import app_version

    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    assert cli(["manifest", "--teams", "--json", "--version", "2.4.1"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "2.4.1"
    major, minor, patch = (int(p) for p in app_version().split(".")[:3])
    assert cli(["manifest", "--teams", "--json", "--build", "17"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == f"{major}.{minor}.{patch * 1000 + 17}"
    monkeypatch.setenv("GOLIVE_BUILD_NUMBER", "18")
    assert cli(["manifest", "--teams", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == f"{major}.{minor}.{patch * 1000 + 18}"
    assert cli(["manifest", "--teams", "--json", "--version", "1.2"]) == 2
    assert "MAJOR.MINOR.PATCH" in capsys.readouterr().err


def test_golive_manifest_teams_refuses_a_long_name_and_a_url_without_scheme(
        isolated_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    assert cli(["manifest", "--teams", "--json", "--name", "n" * 33]) == 2
    assert "at most 30" in capsys.readouterr().err
    assert cli(["manifest", "--teams", "--json", "--url", "bot.example.com"]) == 2
    assert "https://bot.example.com" in capsys.readouterr().err
    assert cli(["manifest", "--teams", "--json", "--name", "n" * 30]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["name"]["short"] == "n" * 30 and len(manifest["developer"]["name"]) <= 32
