"""The cost bound of a launch: refuse before anything starts, stop while running.

One function, `cost_bound`, asks gym's run estimate (`gym.estimate.estimate_run`) for the upper
end of a whole run's price; everything else here (the refusal, the cheaper options, the panel's
number, the pipeline's budget) uses that function, so a better estimate improves them all
without changes here.

Decisions, written down:
- Without `max_usd`, a launch is bounded by `DEFAULT_MAX_USD` ($50): a run whose upper bound is
  higher is refused, and a run under it is stopped by the pipeline if it ever reaches $50.
  Nothing launches without a bound.
- The bound covers the whole run (every rollout), also when relaunching a stopped run that
  resumes part way: conservative, and it never under-prices.
- While running, the pipeline counts the training cluster's full price from the moment an
  attempt is requested (container start-up included) plus its own CPU container.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_USD = 50.0
"""The budget of a launch that names none, in US dollars."""


REFUSED = "not launched, nothing was created: "
"""How every refusal starts."""


class LaunchError(RuntimeError):
    """A launch refused before anything was created, with every reason and what to do."""


def cost_bound(config) -> float:
    """The estimate's upper bound for the whole run of `config` (a SlimeConfig), in US dollars.

    The one place the launcher reads gym's estimate. Raises ConfigError for an invalid config.
    """
    from gym.estimate import estimate_run

    resolved, _ = config._validated()
    return float(estimate_run(resolved).usd[1])


@dataclass(frozen=True)
class Budget:
    """What a launch may spend: the bound it was checked against and the estimate's top."""

    max_usd: float
    """The user's max_usd, or DEFAULT_MAX_USD when none was given."""
    bound_usd: float
    """The estimate's upper bound for the whole run (from cost_bound)."""
    explicit: bool
    """True when the user gave max_usd."""

    def __str__(self) -> str:
        source = "your max_usd" if self.explicit else "the default bound (no max_usd given)"
        return f"estimated at most ${self.bound_usd:,.2f}; stops at ${self.max_usd:,.2f} ({source})"


def launch_bound(config, stages: tuple[int, ...] | None = None) -> float:
    """The upper bound of a launch in US dollars: the whole run, or with stages (num_rollout per
    attempt, as the smoke run has) the sum of each stage's rollouts, each with its own start-up."""
    if not stages or len(stages) == 1:
        return cost_bound(config)
    counts = [n - prev for prev, n in zip((0, *stages[:-1]), stages)]
    return sum(cost_bound(config.replace(num_rollout=n)) for n in counts)


def check_max_usd(max_usd) -> None:
    """LaunchError unless max_usd is None or a finite number of US dollars > 0: inf is no bound, NaN
    passes no comparison (so it would pass every check), and a string or a bool is a caller's mistake
    (`launch(max_usd="100")`). Instant and offline: the first check of every launch."""
    import math
    import numbers

    if max_usd is None:
        return
    if isinstance(max_usd, bool) or not isinstance(max_usd, numbers.Real):
        raise LaunchError(f"{REFUSED}max_usd={max_usd!r} has type {type(max_usd).__name__}: it must be a number "
                          f"of US dollars, e.g. max_usd={_example(max_usd)}")
    if not (math.isfinite(max_usd) and max_usd > 0):
        raise LaunchError(f"{REFUSED}max_usd={max_usd!r} must be a positive, finite number of US dollars (the most "
                          f"the run may cost; without it the bound is ${DEFAULT_MAX_USD:,.0f})")


def _example(value) -> str:
    """A number like the one the caller meant ("100" -> 100), else 100."""
    import math

    try:
        number = float(value) if isinstance(value, str) else math.nan
    except ValueError:
        number = math.nan
    return f"{number:g}" if math.isfinite(number) and number > 0 else "100"


def check_budget(config, max_usd: float | None = None, stages: tuple[int, ...] | None = None) -> Budget:
    """The launch's budget, or LaunchError (before anything is created) when the estimate's
    upper bound exceeds `max_usd` (or $50 without one), naming the cheaper options."""
    check_max_usd(max_usd)
    limit = float(max_usd) if max_usd is not None else DEFAULT_MAX_USD
    bound = launch_bound(config, stages)
    budget = Budget(max_usd=limit, bound_usd=bound, explicit=max_usd is not None)
    if bound <= limit:
        return budget
    raise LaunchError(refusal(config, budget))


def refusal(config, budget: Budget) -> str:
    """Why a launch costs too much, and what fits the budget instead."""
    resolved = config.resolve()
    rollouts = resolved.config.num_rollout
    lines = [f"{REFUSED}{resolved.name} is estimated at up to "
             f"${budget.bound_usd:,.2f} for {rollouts} rollouts, over "
             + (f"max_usd=${budget.max_usd:,.2f}" if budget.explicit
                else f"the ${DEFAULT_MAX_USD:,.0f} allowed without max_usd")]
    fit = rollouts_within(config, budget.max_usd)
    if fit:
        lines.append(f"  - fewer rollouts: num_rollout={fit} fits (CLI: --rollouts {fit})")
    lines.append(f"  - pay for the whole run: max_usd={_round_up(budget.bound_usd)} (CLI: --max-usd "
                 f"{_round_up(budget.bound_usd)}); a stopped run resumes from its last checkpoint")
    lines.append(f"  - the smoke run first: gym.smoke_config() / `python -m gym smoke` (1 node, 2 rollouts, "
                 f"up to ${_smoke_bound():,.2f})")
    return "\n".join(lines)


def rollouts_within(config, max_usd: float) -> int | None:
    """The most rollouts whose estimated upper bound stays within max_usd (None if not even one)."""
    resolved = config.resolve()
    base = resolved.config.replace(name=resolved.name)
    total = resolved.config.num_rollout

    def fits(n: int) -> bool:
        return cost_bound(base.replace(num_rollout=n)) <= max_usd

    if total is None or total <= 1 or not fits(1):
        return None
    low, high = 1, total  # fits(low) holds; the whole run (high) does not
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def _smoke_bound() -> float:
    from gym.launch.smoke import SMOKE_STAGES, smoke_config

    return launch_bound(smoke_config(), SMOKE_STAGES)


def _round_up(usd: float) -> int:
    import math

    return int(math.ceil(usd / 10.0) * 10)
