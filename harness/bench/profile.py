"""Where the platform's services spend their CPU during a bench step, sampled with py-spy.

`bench --profile` records each Python service (exchange, ingest, consumer, api) with py-spy
while a ramp step runs, keeps the folded stacks (reports/profiles/<rate>/<service>.txt, which
speedscope and flamegraph tools read) and reports the functions that took the most samples,
by their own time and with what they call. Only where to look: per-1,000-trade CPU seconds
come from the processes' own counters (ramp.py), not from samples.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("exchange", "ingest", "consumer", "api")
SAMPLES_PER_S = 50  # enough for a 20 s step, and little enough not to steal a core from the services


class ProfilerMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Hot:
    function: str
    own: float
    """Share of the samples with this function on top of the stack."""
    total: float
    """Share of the samples with this function anywhere on the stack."""


def fold(lines: Iterable[str]) -> Counter[tuple[str, ...]]:
    """py-spy's raw output (`frame;frame;... count` per line, root first) as stack -> samples."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _name(frame: str) -> str:
    # "function (path/to/module.py:123)": the line number differs per call site, the function does not
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0]})" if where else name


# Frames a thread waits in, on top of its stack: py-spy in --nonblocking mode still samples them.
IDLE = ("EpollSelector.select (", "Condition.wait (", "Event.wait (", "_worker (concurrent/futures/thread.py")


def hottest(stacks: Mapping[tuple[str, ...], int], top: int = 12, idle: Iterable[str] = IDLE) -> list[Hot]:
    """The functions with the most samples of their own (py-spy leaves idle threads out already);
    stacks whose top frame holds one of `idle` are left out of the shares too."""
    waits = tuple(idle)
    busy = {s: n for s, n in stacks.items() if s and not any(w in s[-1] for w in waits)}
    samples = sum(busy.values())
    if not samples:
        return []
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for stack, n in busy.items():
        names = [_name(f) for f in stack]
        own[names[-1]] += n
        for name in set(names):
            total[name] += n
    return [Hot(f, own[f] / samples, total[f] / samples) for f, _ in own.most_common(top)]


class Recording:
    """py-spy recording one process for `seconds`, in the background."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        spy = shutil.which("py-spy") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "py-spy")
        if not Path(spy).exists():
            raise ProfilerMissing("py-spy is not installed: make setup installs it (the dev group)")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.out = out
        self._proc = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, round(seconds))),
                "--rate",
                str(SAMPLES_PER_S),
                "--format",
                "raw",
                "--nonblocking",  # never pause the service being measured
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, timeout: float = 60) -> str | None:
        """Wait for the recording; its error, if it failed."""
        try:
            _, err = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return "py-spy did not finish"
        if self._proc.returncode != 0 or not self.out.exists():
            return (err or "").strip().splitlines()[-1:][0] if err.strip() else f"py-spy exited {self._proc.returncode}"
        return None


def summary(path: Path, top: int = 12) -> list[dict[str, object]]:
    stacks = fold(path.read_text().splitlines())
    return [{"function": h.function, "own": round(h.own, 3), "total": round(h.total, 3)} for h in hottest(stacks, top)]


def start(pids: Mapping[str, int], seconds: float, folder: Path) -> dict[str, Recording]:
    """A recording of each service, `seconds` long, into folder/<service>.txt."""
    return {service: Recording(pid, seconds, folder / f"{service}.txt") for service, pid in pids.items()}


def finish(recordings: Mapping[str, Recording], top: int = 12) -> dict[str, object]:
    """Each service's hottest functions, or the reason it has none."""
    out: dict[str, object] = {}
    for service, recording in recordings.items():
        error = recording.finish()
        out[service] = (
            {"error": error} if error else {"file": str(recording.out), "hottest": summary(recording.out, top)}
        )
    return out


def lines(found: Mapping[str, object], top: int = 4) -> list[str]:
    """What `finish` found, a few lines per service, for the bench's progress output."""
    out = []
    for service, result in found.items():
        assert isinstance(result, dict)
        if "error" in result:
            out.append(f"profile {service}: not recorded: {result['error']}")
            continue
        hot = ", ".join(f"{h['function']} {float(h['own']):.0%}" for h in result["hottest"][:top])
        out.append(f"profile {service} ({result['file']}): {hot}")
    return out
