"""PNG plots for the report: latency over time per span, the end-to-end histogram, freshness ages,
and the p99 of each span across runs.

Drawn on matplotlib Figure objects with the Agg canvas, never through pyplot: no global state,
no display, and safe while the API poller's threads run.
"""

from __future__ import annotations

import io
from collections.abc import Hashable, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.latency import SPANS, LatencyFigures, Percentiles
from harness.latency_trend import PLAN_RATES, RecordedRun
from harness.probes.api import AgeSample


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def latency_over_time(fig: LatencyFigures, traded: Mapping[Hashable, float], title: str) -> bytes:
    """One panel per span: each trade's latency against when it was traded (seconds from the
    first trade), so a stall or a slow commit shows as a band or a spike at its moment."""
    start = min(traded.values(), default=0.0)
    figure = Figure(figsize=(10, 2.2 * len(SPANS)), layout="constrained")
    axes = figure.subplots(len(SPANS), 1, sharex=True)
    for ax, span in zip(axes, SPANS, strict=True):
        points = [(traded[k] - start, v) for k, v in fig.values.get(span, {}).items() if k in traded]
        ax.scatter([x for x, _ in points], [y for _, y in points], s=4)
        p = fig.spans.get(span)
        label = f"{span.replace('_', ' ')}" + (f"  p50 {p.p50:.3f}  p99 {p.p99:.3f}  max {p.max:.3f}" if p else "")
        ax.set_title(label, fontsize=9, loc="left")
        ax.set_ylabel("seconds")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("trade time, seconds from the first trade")
    figure.suptitle(title)
    return _png(figure)


def histogram(values: Sequence[float], p: Percentiles | None, title: str) -> bytes:
    """The distribution of end-to-end latency with its p50, p95 and p99 marked."""
    figure = Figure(figsize=(8, 4), layout="constrained")
    ax = figure.subplots()
    ax.hist(list(values), bins=50)
    if p is not None:
        for name, x, style in (("p50", p.p50, "-"), ("p95", p.p95, "--"), ("p99", p.p99, ":")):
            ax.axvline(x, color="black", linestyle=style, label=f"{name} {x:.3f} s")
        ax.legend()
    ax.set_xlabel("end-to-end latency, seconds")
    ax.set_ylabel("trades")
    ax.set_title(title)
    return _png(figure)


def ages_over_time(samples: Sequence[AgeSample], budget: float, title: str) -> bytes:
    """Per symbol, the age of the newest served trade at each sample, against the budget."""
    start = min((s.at for s in samples), default=0.0)
    figure = Figure(figsize=(10, 4), layout="constrained")
    ax = figure.subplots()
    for symbol in sorted({s.symbol for s in samples}):
        mine = [s for s in samples if s.symbol == symbol]
        ax.plot([s.at - start for s in mine], [s.age for s in mine], label=symbol, linewidth=1)
    ax.axhline(budget, color="red", linestyle="--", label=f"budget {budget:g} s")
    ax.set_xlabel("seconds from the first sample")
    ax.set_ylabel("age of the newest served trade, seconds")
    ax.set_title(title)
    ax.legend()
    return _png(figure)


def latency_trend(runs: Sequence[RecordedRun], rates: Sequence[str] = PLAN_RATES) -> bytes:
    """One panel per rate: each span's p99 over the runs, oldest first, labelled by date and commit."""
    figure = Figure(figsize=(5 * len(rates), 4), layout="constrained")
    axes = figure.subplots(1, len(rates), sharey=True, squeeze=False)[0]
    xs = list(range(len(runs)))
    labels = [f"{r.at[5:16].replace('T', ' ')}\n{r.commit or '?'}" for r in runs]
    for ax, rate in zip(axes, rates, strict=True):
        for span in SPANS:
            ax.plot(xs, [r.p99(rate, span) for r in runs], marker="o", label=span.replace("_", " "))
        ax.set_title(f"{rate} trades per second", fontsize=10)
        ax.set_xticks(xs, labels, fontsize=7, rotation=45, ha="right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("p99 latency, seconds")
    axes[-1].legend(fontsize=8)
    figure.suptitle(f"p99 latency per stage over the last {len(runs)} run{'s' if len(runs) != 1 else ''}")
    return _png(figure)
