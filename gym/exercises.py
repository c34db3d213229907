"""The lessons' exercises, checked: `check("03.1", answer)` says whether an answer is right, and why not.

Each lesson ends with two or three exercises. The learner writes an answer into a cell (a config,
a number, a function); the next cell calls `check(key, answer)`, which prints a verdict and returns
True or False. `None` (the starting value) means "not answered yet", which is not an error: a
lesson runs top to bottom with every exercise unanswered. The right answers are worked out here
from gym itself (plans, validation, rewards), never typed in, so they follow gym when it changes;
each lesson's solutions sit in a folded "Solution" block under the exercise, and the test suite
runs them through these same checks.
"""

from __future__ import annotations

import math
from typing import Any, Callable

NOT_ANSWERED = "not answered yet: replace None with your answer and run the cell again"


def _valid(config) -> list[str]:
    """The error messages of a config (empty when it validates)."""
    return [str(p) for p in config.problems() if p.severity == "error"]


def _config(answer) -> str | None:
    """Why `answer` is not a SlimeConfig (None when it is)."""
    from gym.slime import SlimeConfig

    return None if isinstance(answer, SlimeConfig) else f"expected a SlimeConfig, got {type(answer).__name__}"


def _invalid(answer) -> str | None:
    """Why `answer` is not a valid SlimeConfig (None when it is one)."""
    if why := _config(answer):
        return why
    errors = _valid(answer)
    return "the config does not validate: " + "; ".join(errors) if errors else None


def changed_fields(before, after) -> set[str]:
    """Names of the SlimeConfig fields that differ (models and datasets compared by their repr)."""
    import dataclasses

    return {f.name for f in dataclasses.fields(before) if repr(getattr(before, f.name)) != repr(getattr(after, f.name))}


# ---- 01 · Quickstart ------------------------------------------------------------------------------

def _01_1(answer, **_) -> str | None:
    """The quickstart's run with 8 optimizer steps of 16 samples per rollout (more prompts per rollout)."""
    from gym.datasets import GSM8K
    from gym.models import Qwen3_4B
    from gym.slime import SlimeConfig

    if why := _config(answer):
        return why
    base = SlimeConfig(model=Qwen3_4B(), dataset=GSM8K())
    changed = changed_fields(base, answer) - {"rollout_batch_size", "n_samples_per_prompt", "global_batch_size"}
    if changed:
        return f"changed {sorted(changed)}: change only the batch sizes of SlimeConfig(model=Qwen3_4B(), dataset=GSM8K())"
    if errors := _valid(answer):
        return "the config does not validate: " + "; ".join(errors)
    plan = answer.plan()
    if (plan.steps_per_rollout, plan.global_batch_size) != (8, 16):
        return (f"{plan.samples_per_rollout} samples per rollout / global_batch_size {plan.global_batch_size} = "
                f"{plan.steps_per_rollout} steps, not 8 steps of 16")
    return None


EXERCISE_01_2_RESPONSES = ("\\boxed{1000}", "\\boxed{1,000}", "The answer is 1000.",
                           "\\boxed{1000}, no wait: \\boxed{100}", "\\boxed{10^3}")
"""The responses of exercise 01.2, scored against the label "1000"."""


def _01_2(answer, **_) -> str | None:
    """The indices of the responses slime's math reward scores 1 for label 1000."""
    from gym.local.rewards import math_reward

    right = {i for i, r in enumerate(EXERCISE_01_2_RESPONSES) if math_reward(r, "1000") == 1}
    if not isinstance(answer, (set, list, tuple)):
        return "expected a set of indices, e.g. {0, 3}"
    if set(answer) != right:
        wrong = sorted(set(answer) ^ right)
        return (f"not quite: look again at response(s) {wrong}. The reward reads the *last* \\boxed{{…}} "
                "and compares numbers as numbers")
    return None


# ---- 02 · Scaling nodes ---------------------------------------------------------------------------

PRODUCTION_SAMPLES = 3000 * 64 * 8
"""The seed's production run: 3000 rollouts × 64 prompts × 8 samples."""


def _02_1(answer, **_) -> str | None:
    """The 2-node preset doing the production run's work: the same samples in total."""
    if why := _invalid(answer):
        return why
    plan = answer.plan()
    if plan.num_nodes != 2:
        return f"num_nodes={plan.num_nodes}: the exercise asks for 2 nodes"
    total = plan.num_rollout * plan.samples_per_rollout
    if total != PRODUCTION_SAMPLES:
        return (f"{plan.num_rollout} rollouts × {plan.samples_per_rollout} samples = {total:,} samples, not "
                f"{PRODUCTION_SAMPLES:,}")
    return None


def smallest_valid_global_batch(config, above: int) -> int:
    """The smallest global_batch_size > `above` with which `config` validates."""
    for gbs in range(above + 1, 100 * above):
        if not _valid(config.replace(global_batch_size=gbs)):
            return gbs
    raise ValueError(f"no valid global_batch_size above {above}")


def _02_2(answer, **_) -> str | None:
    """The smallest valid global batch above 100 for 4 colocated nodes, 64 prompts × 8 samples."""
    from gym.models import Qwen3_4B
    from gym.slime import SlimeConfig

    base = SlimeConfig(model=Qwen3_4B(), num_nodes=4, rollout_batch_size=64, n_samples_per_prompt=8)
    right = smallest_valid_global_batch(base, 100)
    if not isinstance(answer, int):
        return "expected a whole number"
    if answer != right:
        hint = "it must divide over micro_batch_size × DP and divide the samples of a rollout"
        return f"global_batch_size={answer} is {'not valid' if _valid(base.replace(global_batch_size=answer)) else 'valid, but not the smallest'}: {hint}"
    return None


def _02_3(answer, *, table=None, **_) -> str | None:
    """The node count whose run of the same work costs least, read from gym.compare's table."""
    if table is None:
        return "pass table=... (the gym.compare result)"
    rows = list(table.rows)
    cheapest = min(rows, key=lambda r: r.usd)
    if answer != cheapest.nodes:
        return f"read the $ column again: {answer} nodes is not the cheapest for the same work"
    return None


# ---- 03 · Colocation ------------------------------------------------------------------------------

def _03_1(answer, **_) -> str | None:
    """The 3 + 1 split (4 nodes, colocate=False) made valid with 8 optimizer steps per rollout."""
    if why := _invalid(answer):
        return why
    plan = answer.plan()
    if (plan.num_nodes, plan.colocate) != (4, False):
        return f"keep the 3 + 1 split: num_nodes=4, colocate=False (got {plan.num_nodes}, {plan.colocate})"
    if plan.steps_per_rollout != 8:
        return f"{plan.samples_per_rollout} samples / {plan.global_batch_size} per step = {plan.steps_per_rollout} steps, not 8"
    return None


def _03_2(answer, **_) -> str | None:
    """Split placement with slime's synchronous schedule."""
    if why := _invalid(answer):
        return why
    plan = answer.plan()
    if plan.colocate:
        return "rollout must have its own GPUs (colocate=False)"
    if plan.train_script != "train.py":
        return f"the schedule is {plan.train_script}: which field picks the entry point?"
    return None


def _03_3(answer, **_) -> str | None:
    """Best overlap speed-up for R = 30 s of rollout and T = 10 s of training."""
    right = (30 + 10) / max(30, 10)
    if not isinstance(answer, (int, float)):
        return "expected a number"
    if not math.isclose(answer, right, rel_tol=0.01):
        return f"{answer:g}×: overlap hides at most the shorter phase, (R + T) / max(R, T)"
    return None


# ---- 04 · Throughput knobs ------------------------------------------------------------------------

def token_cap_warned(config) -> bool:
    return any(p.rule == "sample_fits_token_cap" for p in config.problems())


def exercise_04_1_base():
    """2 nodes, responses up to 16384 tokens, context parallelism 2."""
    from gym.models import Qwen3_4B
    from gym.slime import SlimeConfig

    return SlimeConfig(model=Qwen3_4B(), num_nodes=2, rollout_max_response_len=16384, context_parallel_size=2)


def _04_1(answer, **_) -> str | None:
    """The smallest max_tokens_per_gpu (a multiple of 1024) without the token-cap warning."""
    base = exercise_04_1_base()
    if not isinstance(answer, int) or answer % 1024:
        return "expected a whole multiple of 1024"
    if token_cap_warned(base.replace(max_tokens_per_gpu=answer)):
        return f"max_tokens_per_gpu={answer} still warns: with CP=2, what does one GPU hold of the longest sample?"
    if answer > 1024 and not token_cap_warned(base.replace(max_tokens_per_gpu=answer - 1024)):
        return f"{answer} clears the warning, but a smaller budget does too (less activation memory)"
    return None


def exercise_04_2_base():
    """2 nodes, split: 8 training GPUs and 8 rollout GPUs."""
    from gym.models import Qwen3_4B
    from gym.slime import SlimeConfig

    return SlimeConfig(model=Qwen3_4B(), num_nodes=2, colocate=False)


def _04_2(answer, **_) -> str | None:
    """The largest valid rollout_num_gpus_per_engine for the 2-node split."""
    base = exercise_04_2_base()
    valid = [g for g in range(1, 17) if not _valid(base.replace(rollout_num_gpus_per_engine=g))]
    if not isinstance(answer, int):
        return "expected a whole number"
    if answer not in valid:
        return f"rollout_num_gpus_per_engine={answer} does not validate: " + "; ".join(
            _valid(base.replace(rollout_num_gpus_per_engine=answer)))
    if answer != max(valid):
        return f"{answer} is valid, but a larger engine is too"
    return None


# ---- 05 · Production run --------------------------------------------------------------------------

def _05_1(answer, **_) -> str | None:
    """A run stopped after 45 rollouts (ids 0..44), save_interval=10: the rollout id resume starts at."""
    right = 45 // 10 * 10  # the last save was after rollout 39
    if not isinstance(answer, int):
        return "expected a rollout id"
    if answer != right:
        return f"{answer}: checkpoints are written after rollouts 9, 19, 29, …; resume continues after the last one"
    return None


def _05_2(answer, *, budget_usd: float = 1000.0, **_) -> str | None:
    """The lesson's run with as many rollouts as the estimate allows for `budget_usd`."""
    from gym.perf import estimate

    if why := _config(answer):
        return why
    usd = estimate(answer).run_usd
    if usd > budget_usd:
        return f"estimated ${usd:,.0f}: over the ${budget_usd:,.0f} budget"
    more = estimate(answer.replace(num_rollout=math.ceil(answer.num_rollout * 1.05) + 1)).run_usd
    if more <= budget_usd:
        return f"estimated ${usd:,.0f}: 5% more rollouts still fit the ${budget_usd:,.0f} budget"
    return None


# ---- 06 · Use the trained model -------------------------------------------------------------------

def _06_1(answer, *, after=None, **_) -> str | None:
    """The held-out prompts the trained model still answers wrong."""
    if after is None:
        return "pass after=... (the trained model's Evaluation)"
    right = {a.prompt for a in after.answers if not a.correct}
    if not isinstance(answer, (set, list, tuple)):
        return "expected a set of prompts"
    if set(answer) != right:
        return f"{len(set(answer) ^ right)} prompt(s) differ from the table's ✗ in the 'after' column"
    return None


def _06_2(answer, **_) -> str | None:
    """A score(response, label) -> bool that grades like slime's math reward (the last boxed answer)."""
    from gym.local.rewards import math_reward

    if not callable(answer):
        return "expected a function score(response, label) -> bool"
    cases = [("so \\boxed{72}", "72"), ("72", "72"), ("\\boxed{70}, no: \\boxed{72}", "72"), ("\\boxed{1,000}", "1000"),
             ("\\boxed{72}, no: \\boxed{70}", "72"), ("\\boxed{72}.", "72"), ("\\boxed{18}", "72"),
             ("It is \\boxed{72.0} clips.", "72")]
    for response, label in cases:
        if bool(answer(response, label)) != bool(math_reward(response, label)):
            return f"score({response!r}, {label!r}) should be {bool(math_reward(response, label))}"
    return None


CHECKS: dict[str, Callable[..., str | None]] = {
    "01.1": _01_1, "01.2": _01_2, "02.1": _02_1, "02.2": _02_2, "02.3": _02_3, "03.1": _03_1, "03.2": _03_2,
    "03.3": _03_3, "04.1": _04_1, "04.2": _04_2, "05.1": _05_1, "05.2": _05_2, "06.1": _06_1, "06.2": _06_2,
}


def check(key: str, answer: Any, **context) -> bool:
    """Check the answer to exercise `key` ("03.1"); print the verdict; True when right.

    context: what an exercise needs besides the answer (e.g. after= for 06.1), as the lesson passes it.
    """
    if key not in CHECKS:
        raise KeyError(f"no exercise {key!r}; there are {', '.join(CHECKS)}")
    if answer is None:
        print(f"Exercise {key}: {NOT_ANSWERED}")
        return False
    why = CHECKS[key](answer, **context)
    print(f"Exercise {key}: " + ("correct ✓" if why is None else f"not yet ✗ ({why})"))
    return why is None
