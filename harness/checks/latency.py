"""Latency checks: per-trade figures in, Verdict out (the figures come from harness.latency)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.checks.verdict import EXAMPLES, Verdict

if TYPE_CHECKING:
    from harness.latency import LatencyFigures


def every_trade_within(fig: LatencyFigures, seconds: float, span: str = "end_to_end") -> Verdict:
    """Every expected trade measured, and none slower than `seconds`. Nothing measured fails."""
    over = sorted(((k, v) for k, v in fig.values.get(span, {}).items() if v > seconds), key=lambda kv: -kv[1])
    p = fig.spans.get(span)
    measured = p.count if p else 0
    figures_text = f"; {p}" if p else "; nothing measured"
    return Verdict(f"{span.replace('_', ' ')} latency of every trade at most {seconds:g} s{figures_text}",
                   valid=measured > 0 and fig.unmeasured[span] == 0 and not over,
                   counts={"trades": fig.trades, "measured": measured, "unmeasured": fig.unmeasured[span],
                           "over": len(over)},
                   mismatched=[f"{k}: {v:.3f} s" for k, v in over[:EXAMPLES]])


def p99_within(fig: LatencyFigures, seconds: float, span: str = "end_to_end") -> Verdict:
    p = fig.spans.get(span)
    return Verdict(f"p99 {span.replace('_', ' ')} latency at most {seconds:g} s; "
                   + (str(p) if p else "nothing measured"),
                   valid=p is not None and p.p99 <= seconds,
                   counts={"trades": fig.trades, "measured": p.count if p else 0,
                           "unmeasured": fig.unmeasured.get(span, fig.trades)})
