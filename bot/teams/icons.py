"""The Teams app icons, drawn in code (zlib + struct, no imaging library): a white check in a ring.

color.png is 192x192 on the accent colour; outline.png is 32x32, white on transparent, as Teams requires.
`python -m bot.teams.icons teams/` rewrites the copies kept next to the manifest template.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

ACCENT = (0x1D, 0x35, 0x57)  # the Slack app's background colour too
WHITE = (0xFF, 0xFF, 0xFF)
Pixel = tuple[int, int, int, int]


def png(width: int, height: int, pixels: list[list[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG (filter 0 on every row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _coverage(x: float, y: float, stroke: float) -> bool:
    """Is the unit-square point (x, y) on the glyph: a ring and a check mark inside it?"""
    ring = abs(math.hypot(x - 0.5, y - 0.5) - 0.40) <= stroke / 2
    check = min(_segment_distance(x, y, 0.30, 0.52, 0.44, 0.66), _segment_distance(x, y, 0.44, 0.66, 0.71, 0.36))
    return ring or check <= stroke / 2


def glyph(size: int, stroke: float, samples: int = 4) -> list[list[float]]:
    """The glyph's coverage per pixel (0..1), supersampled so small sizes stay smooth."""
    step = 1.0 / (size * samples)
    grid = []
    for row in range(size):
        line = []
        for col in range(size):
            hits = sum(_coverage((col * samples + i + 0.5) * step, (row * samples + j + 0.5) * step, stroke)
                       for i in range(samples) for j in range(samples))
            line.append(hits / (samples * samples))
        grid.append(line)
    return grid


def color_icon(size: int = 192) -> bytes:
    def blend(a: float) -> Pixel:
        r, g, b = (round(c0 + (c1 - c0) * a) for c0, c1 in zip(ACCENT, WHITE, strict=True))
        return (r, g, b, 255)

    return png(size, size, [[blend(a) for a in row] for row in glyph(size, stroke=0.085, samples=2)])


def outline_icon(size: int = 32) -> bytes:
    return png(size, size, [[(*WHITE, round(255 * a)) for a in row] for row in glyph(size, stroke=0.11)])


def write_icons(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_icons(Path(sys.argv[1] if len(sys.argv) > 1 else "teams")):
        print(written_path)
