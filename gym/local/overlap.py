"""Reading lesson 03's overlap measurement: explain it only when the machine let it be measured.

Two local runs of the tiny task, each worker with one torch thread: *in turn* (one worker
generates, then trains) and *split* (a rollout worker and a trainer on their own cores,
overlapping). On a quiet machine with a core per worker, split is at least about as fast as in
turn and at most (R + T) / max(R, T) ≤ 2 times faster. A shared, busy machine breaks that:
measured under load (2 cores, six jobs), "in turn, 2 cores" ran 25 times slower than "in turn,
1 core" (torch's threads waiting on each other's cores), and the lesson explained a 24.5× as if
it were real. So the figures are checked first, against bounds that no quiet run crosses:

- the speed-up (in turn ÷ split) within [MIN_SPEEDUP, workers + SPEEDUP_SLACK]: overlap cannot
  make two workers more than `workers` times faster, and a split run more than twice slower than
  taking turns means the workers were starved, not that overlap costs that much; and not above
  the ideal (R + T) / max(R, T) by more than IDEAL_SLACK, which overlap alone cannot exceed;
- the in-turn run's own seconds per rollout steady: a coefficient of variation (stdev ÷ mean)
  above MAX_BASELINE_CV means something else took the cores during the measurement;
- a core per worker: with fewer, the split workers take turns on one core.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

MIN_SPEEDUP = 0.5
"""Below: the split run was more than twice slower than taking turns (the issue's bound)."""
SPEEDUP_SLACK = 0.5
"""Above workers + this: faster than one worker per core allows."""
MAX_BASELINE_CV = 0.3
"""Quiet 2-core runs of the tiny task vary by a few percent per rollout after warm-up (BENCHMARKS.md);
30% means the machine was busy."""
IDEAL_SLACK = 0.1
"""Overlap cannot beat (R + T) / max(R, T) when each phase takes as long in both runs; beyond this
margin, the two runs were measured under different conditions (the load changed in between)."""
NOTICEABLE = 1.05
"""A speed-up above this is overlap paying off; between MIN_SPEEDUP and it, overlap bought nothing."""


@dataclass(frozen=True)
class OverlapReading:
    plausible: bool
    speedup: float
    """Seconds per rollout in turn ÷ split."""
    ideal: float
    """(R + T) / max(R, T): the most overlap can give."""
    message: str
    """Markdown: a warning when not plausible, else the explanation the numbers support."""


def read_overlap(in_turn_steps: list[float], split_steps: list[float], R: float, T: float, *, cores: int,
                 workers: int = 2) -> OverlapReading:
    """The verdict on one measurement: seconds per rollout of each run (after warm-up), and the
    in-turn run's median rollout (R) and training (T) seconds."""
    turn, split = statistics.median(in_turn_steps), statistics.median(split_steps)
    speedup, ideal = turn / split, (R + T) / max(R, T)
    cv = statistics.stdev(in_turn_steps) / statistics.mean(in_turn_steps) if len(in_turn_steps) > 1 else 0.0
    problems = []
    if cores < workers:
        problems.append(f"{cores} core{'s' if cores != 1 else ''} for {workers} workers: they took turns on it")
    if not MIN_SPEEDUP <= speedup <= workers + SPEEDUP_SLACK:
        problems.append(f"a speed-up of {speedup:.2f}× is outside what {workers} workers can give "
                        f"([{MIN_SPEEDUP}, {workers + SPEEDUP_SLACK}]×)")
    elif speedup > ideal * (1 + IDEAL_SLACK):
        problems.append(f"a speed-up of {speedup:.2f}× beats the ideal {ideal:.2f}× by more than "
                        f"{IDEAL_SLACK:.0%}: the phases did not take the same time in the two runs")
    if cv > MAX_BASELINE_CV:
        problems.append(f"the in-turn run's seconds per rollout varied by {cv:.0%} (stdev ÷ mean; a quiet "
                        f"machine: a few %)")
    if problems:
        return OverlapReading(False, speedup, ideal,
                              "⚠ **Warning: this machine was too busy to measure overlap** (" + "; ".join(problems)
                              + "). These figures say nothing about overlap: run this cell again when the "
                              "machine is quiet. The model's estimate below does not depend on this machine.")
    share = (speedup - 1) / (ideal - 1) if ideal > 1 else 0.0
    if speedup >= NOTICEABLE and share >= 0.95:
        text = (f"Overlap paid in full: split ran **{speedup:.2f}×** as fast as taking turns, the most overlap "
                f"can give ({ideal:.2f}×) within measurement noise: the shorter phase, {min(R, T):.2f} s, was "
                "hidden entirely, and the weight push after every rollout cost next to nothing.")
    elif speedup >= NOTICEABLE:
        text = (f"Overlap paid: split ran **{speedup:.2f}×** as fast as taking turns, {share:.0%} of the most "
                f"overlap could give ({ideal:.2f}×: the shorter phase, {min(R, T):.2f} s, hidden entirely). "
                "What it did not recover went to the weight push after every rollout and to the two "
                "workers' hand-offs.")
    else:
        text = (f"Overlap bought nothing here: split ran at **{speedup:.2f}×** the speed of taking turns, "
                f"against an ideal of {ideal:.2f}×. The shorter phase ({min(R, T):.2f} s) is small next to "
                "the longer one, so there was little to hide, and the weight push after every rollout "
                "cost about as much as overlapping saved.")
    return OverlapReading(True, speedup, ideal, text)
