"""A whole run's time and cost, before launching it: `estimate_run(resolved, plan)`.

A thin view of the performance model (gym.perf): `RunEstimate` keeps the (low, high) shape the
launcher's cost bound and the lessons use (`estimate_run(...).usd[1]` is the bound), and carries
the model's point estimates and assumptions. See gym.perf for the physics, the named
efficiency constants and their calibration (scripts/calibrate_perf.py, BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunEstimate:
    """Low and high estimates for one rollout and the whole run (seconds, hours, US dollars)."""

    step_seconds: tuple[float, float]
    hours: tuple[float, float]
    usd: tuple[float, float]
    assumptions: str = __doc__
    point_step_seconds: float | None = None
    point_hours: float | None = None
    point_usd: float | None = None

    def __str__(self) -> str:
        (h0, h1), (u0, u1), (s0, s1) = self.hours, self.usd, self.step_seconds
        point = "" if self.point_step_seconds is None else f"~{self.point_step_seconds:.0f} s "
        return (f"{point}({s0:.0f}–{s1:.0f}) s per rollout; whole run ~{h0:.1f}–{h1:.1f} h, ~${u0:,.0f}–${u1:,.0f} "
                "(gym.perf estimate: see its assumptions)")


def estimate_run(resolved, plan=None) -> RunEstimate:
    """Estimate a resolved config's run with gym.perf: the plan's estimate when a plan is given (it
    carries the plan's workload), else the default workload's."""
    from gym.perf import estimate_resolved

    e = plan.perf if plan is not None and getattr(plan, "perf", None) is not None else estimate_resolved(resolved)
    return RunEstimate(step_seconds=e.step_seconds_range, hours=e.run_hours_range, usd=e.run_usd_range,
                       assumptions=e.assumptions, point_step_seconds=e.step_seconds, point_hours=e.run_hours,
                       point_usd=e.run_usd)
