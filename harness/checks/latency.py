"""Latency checks: per-trade figures in, Verdict out (the figures come from harness.latency)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from harness.checks.verdict import EXAMPLES, Verdict

Key = tuple[str, str]  # (symbol, trade_id)

if TYPE_CHECKING:
    from harness.latency import LatencyFigures


def every_trade_within(fig: LatencyFigures, seconds: float, span: str = "end_to_end") -> Verdict:
    """Every expected trade measured, and none slower than `seconds`. Nothing measured fails."""
    over = sorted(((k, v) for k, v in fig.values.get(span, {}).items() if v > seconds), key=lambda kv: -kv[1])
    p = fig.spans.get(span)
    measured = p.count if p else 0
    figures_text = f"; {p}" if p else "; nothing measured"
    return Verdict(
        f"{span.replace('_', ' ')} latency of every trade at most {seconds:g} s{figures_text}",
        valid=measured > 0 and fig.unmeasured[span] == 0 and not over,
        counts={"trades": fig.trades, "measured": measured, "unmeasured": fig.unmeasured[span], "over": len(over)},
        mismatched=[f"{k}: {v:.3f} s" for k, v in over[:EXAMPLES]],
    )


def p99_within(fig: LatencyFigures, seconds: float, why: str = "", span: str = "end_to_end") -> Verdict:
    """`why`: where the target came from, when not from the sentence alone."""
    p = fig.spans.get(span)
    return Verdict(
        f"p99 {span.replace('_', ' ')} latency at most {seconds:g} s"
        + (f" ({why})" if why else "")
        + "; "
        + (str(p) if p else "nothing measured"),
        valid=p is not None and p.p99 <= seconds,
        counts={
            "trades": fig.trades,
            "measured": p.count if p else 0,
            "unmeasured": fig.unmeasured.get(span, fig.trades),
        },
    )


def live_in_time(
    delays: Mapping[Key, float],
    served_at: Mapping[Key, float],
    expected: Collection[Key],
    seconds: float,
    before: float,
    before_what: str,
) -> Verdict:
    """Every expected trade served, each within `seconds` of its trade time and before `before`
    (seconds since the epoch). Nothing served fails."""
    from harness.latency import summarize

    missing = [k for k in expected if k not in delays]
    over = sorted(((k, v) for k, v in delays.items() if v > seconds), key=lambda kv: -kv[1])
    late = sorted(k for k, at in served_at.items() if k in delays and at > before)
    p = summarize(sorted(delays.values())) if delays else None
    return Verdict(
        f"each of the {len(expected)} live trades served within {seconds:g} s and {before_what}; "
        + (str(p) if p else "nothing served"),
        valid=bool(expected) and not missing and not over and not late,
        counts={
            "trades": len(expected),
            "served": len(delays),
            "missing": len(missing),
            "over": len(over),
            "served after": len(late),
            "seconds to spare": int(before - max(served_at.values())) if served_at else 0,
        },
        mismatched=[f"{k}: {v:.3f} s" for k, v in over[:EXAMPLES]]
        + [f"{k}: not served while watched" for k in sorted(missing)[:EXAMPLES]]
        + [f"{k}: served {served_at[k] - before:.1f} s after" for k in late[:EXAMPLES]],
    )
