"""The rollout's watched metrics as inline SVG, drawn on the server from the stored samples (the same
`bot.rollout.charts.Series` chat draws as sparklines): a line per metric, its alert threshold as a dashed line,
breaching samples marked, and an accessible <title> saying what the chart shows. No script, no style
attribute (the page's CSP allows neither): colours are presentation attributes and CSS classes."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from bot.rollout.charts import Series, _number

WIDTH, HEIGHT, PAD = 640, 150, 28


def chart_title(series: Series) -> str:
    """What a screen reader (and a test) reads: metric, latest value, threshold, breaches."""
    known = [v for v in series.values if v is not None]
    unit = f" {series.unit}" if series.unit else ""
    parts = [f"{series.label}{f' ({series.unit})' if series.unit else ''} over the last {len(series.values)} samples"]
    if known:
        parts.append(f"latest {_number(known[-1])}{unit}")
    if series.threshold is not None:
        side = "above" if series.up_is_bad else "below"
        parts.append(f"alert {side} {_number(series.threshold)}{unit}")
    breaches = sum(series.breaches())
    if breaches:
        parts.append(f"{breaches} of {len(series.values)} samples {series.breach_word or 'in breach'}")
    else:
        parts.append("no sample in breach")
    return ", ".join(parts)


def series_svg(series: Series, index: int) -> Markup:
    values: Sequence[float | None] = series.values
    known = [v for v in values if v is not None]
    low = min([0.0, *known])
    high = max([*known, series.threshold] if series.threshold is not None else [*known, 1.0])
    high = high * 1.1 if high > 0 else 1.0
    span = (high - low) or 1.0
    count = max(len(values), 2)

    def x(i: int) -> float:
        return PAD + i * (WIDTH - 2 * PAD) / (count - 1)

    def y(v: float) -> float:
        return HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)

    title_id = f"chart-{index}-title"
    out = [f'<svg class="chart" role="img" aria-labelledby="{title_id}" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{title_id}">{escape(chart_title(series))}</title>',
           f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}" class="plot"/>']
    if series.threshold is not None:
        ty = y(series.threshold)
        out.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{ty:.1f}" y2="{ty:.1f}" class="threshold"/>')
        out.append(f'<text x="{WIDTH - PAD}" y="{ty - 4:.1f}" text-anchor="end" class="label">alert '
                   f'{escape(_number(series.threshold))}</text>')
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, v in enumerate(values):
        if v is None:  # a sample that could not be read breaks the line
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(v):.1f}")
    if segment:
        segments.append(segment)
    for points in segments:
        out.append(f'<polyline points="{" ".join(points)}" class="line"/>')
    for i, (v, bad) in enumerate(zip(values, series.breaches(), strict=False)):
        if v is not None and bad:
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" class="breach"/>')
    out.append(f'<text x="{PAD}" y="{PAD - 8}" class="label">{escape(series.label)}'
               f'{escape(f" ({series.unit})" if series.unit else "")}</text>')
    if known:
        out.append(f'<text x="{PAD}" y="{HEIGHT - 8}" class="label">max {escape(_number(max(known)))} · latest '
                   f'{escape(_number(known[-1]))}</text>')
    out.append("</svg>")
    return Markup("".join(out))
