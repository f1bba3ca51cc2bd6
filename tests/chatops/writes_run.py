"""A real run of a writing check (hunter's smoke.scan: POST a scan of the synthetic lead, then DELETE it)
against the demo service, for the transports' tests: its verdict's `writes` is what a reviewer must see."""

from __future__ import annotations

import asyncio

from bot.demo import serve_target
from checks.loader import parse_checklist
from checks.runner import Runner, RunReport

SCAN = """name: t
target: {{base_url: '{base}'}}
phases:
  - id: day3
    checks:
      - id: smoke.scan
        kind: http
        params:
          url: /api/v1/scan
          method: POST
          headers: {{X-API-Key: demo-api-key}}
          json: {{domain: golive-smoke.example}}
          expect_status: [200, 202]
          cleanup: {{method: DELETE, url: /api/v1/leads/golive-smoke.example, headers: {{X-API-Key: demo-api-key}}}}
"""
WROTE = "smoke.scan: POST /api/v1/scan → 202"
CLEANED = "DELETE /api/v1/leads/golive-smoke.example → 204 (cleanup)"


def writing_run() -> RunReport:
    """The run's report; its verdict names the write and the cleanup (asserted here, so a test that renders
    it proves the rendering, not an empty list)."""
    with serve_target() as demo:
        checklist = parse_checklist(SCAN.format(base=demo.base_url), "t.yml")
        report = asyncio.run(Runner(checklist, env={}).run(checklist.all_checks()))
    (written,) = report.verdict.writes
    assert written.startswith(WROTE) and written.endswith(CLEANED), written
    return report
