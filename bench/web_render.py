"""Web view render time and page weight: a run page of 40 checks (each with evidence) rendered on the
server, median of many renders after one warm-up (the template compile), plus the status and rollout
pages; the run page's bytes with its stylesheet; and whether `golive --help` or the chat renderers
import the view's heavy parts (Jinja2), which would add to CLI start-up and the slash-command ack.

Run: python -m bench.web_render [--renders N]   (prints the figures and the targets; exit 1 on a miss)
The time target is on CPU time (the machine is shared: wall time includes waiting for a core; the load
average is printed with the figures). Targets: run page of 40 checks <= 50 ms on the server; page + CSS
<= 150 KB; no Jinja2 import by `golive --help` or by the Slack/Teams renderers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS, TARGET_KB = 50.0, 150.0
REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=5 if os.environ.get("BENCH_QUICK") else 30)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from bot.store import open_store
    from bot.web import pages
    from bot.web.links import Linker
    from checks.loader import load_checklist
    from tests.web.support import HOSTILE, store_rollout, store_run

    checklist = load_checklist(REPO / "tests" / "web" / "fixtures" / "webview.yml")
    linker = Linker("https://golive.example.com", b"bench-link-key-0123456789abcdef")
    missed = False
    with tempfile.TemporaryDirectory(prefix="golive-bench-web-") as tmp:
        store = open_store(sqlite_path=Path(tmp) / "golive.db")
        try:
            run_id = store_run(store, checklist, checks=40, evidence={"output_tail": "\n".join(HOSTILE * 8)})
            store_rollout(store, checklist)
            css = (REPO / "bot" / "web" / "static" / "golive.css").read_bytes()
            for name, kind, object_id in (("run page, 40 checks", "run", run_id),
                                          ("status page", "status", checklist.name),
                                          ("rollout page (3 charts)", "rollout", checklist.name)):
                pages.render_page(kind, object_id, store, checklist, linker)  # warm-up: template compile
                walls, cpus, size = [], [], 0
                for _ in range(args.renders):
                    started, cpu = time.perf_counter(), time.process_time()
                    page = pages.render_page(kind, object_id, store, checklist, linker)
                    walls.append((time.perf_counter() - started) * 1000)
                    cpus.append((time.process_time() - cpu) * 1000)
                    size = len(page.html.encode())
                median, wall = statistics.median(cpus), statistics.median(walls)
                weight = (size + len(css)) / 1024
                line = (f"{name:<26} CPU median {median:6.1f} ms  wall median {wall:6.1f} ms  "
                        f"page+css {weight:6.1f} KB")
                if kind == "run":
                    ok = median <= TARGET_MS and weight <= TARGET_KB
                    missed |= not ok
                    line += f"   (targets <= {TARGET_MS:.0f} ms, <= {TARGET_KB:.0f} KB: {'ok' if ok else 'MISSED'})"
                print(line)
        finally:
            store.close()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    probe = ("import sys, bot.cli, bot.slack.render, bot.teams.cards, bot.teams.event_cards, bot.web.links; "
             "print(sorted(m for m in ('jinja2', 'bot.web.pages', 'bot.web.routes') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    heavy = loaded.stdout.strip()
    print(f"imported by the CLI and the chat renderers: {heavy}   (target [] : {'ok' if heavy == '[]' else 'MISSED'})")
    missed |= heavy != "[]"
    return 1 if missed and not os.environ.get("BENCH_QUICK") else 0  # a smoke run (--quick) judges no figure


if __name__ == "__main__":
    sys.exit(main())
