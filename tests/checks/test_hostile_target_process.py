"""A real `golive run` process against the hostile target (issue 18, item 3, "measured in a test"): a 1 GiB
body, 100 MB on stdout, and `cat /dev/zero` as the settings command each end in an error naming the cap,
the process's peak RSS (ru_maxrss of the child, from os.wait4) stays under 250 MB, and every stored row
under 100 KiB. Wall times are printed by `python -m bench.hostile_target`, not asserted here."""

from __future__ import annotations

import pytest

from bench.hostile_target import measure


@pytest.mark.parametrize("label", ["1 GiB body and 100 MB output in one run", "settings command reading /dev/zero"])
async def test_golive_run_against_a_hostile_target_stays_bounded(label: str) -> None:
    m = await measure(label)
    assert m.named_cap, m.output[-2000:]
    assert m.peak_mb < 250, f"peak RSS {m.peak_mb:.0f} MB"
    assert m.biggest_row_bytes < 100 * 1024
    if label.startswith("settings"):  # the run cannot start without the target's settings: nothing stored
        assert "cannot read the target's settings" in m.output and m.statuses == []
    else:
        assert m.statuses == ["error", "error"], m.output[-2000:]
