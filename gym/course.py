"""What the lessons share beyond gym's API: lesson 05's production run, in one place, so that
lesson 06 finds the run lesson 05 made whichever layout lesson 05 picked; and lesson 06's reading
of a before/after evaluation, a sentence derived from the numbers.

Lesson 05 starts from the seed's production run (Qwen3-4B on GSM8K, 4 nodes, 64 prompts × 8
samples per rollout, steps of 128, 3000 rollouts), with evaluation and checkpoints every 20
rollouts, and asks the question lessons 02 and 03 answer: on those 4 nodes, colocated or split
(3 nodes train, 1 generates, `train_async.py`)? The split placement has 24 training ranks, so it
takes the validator's first fix that keeps whole steps (global batch and prompts per rollout,
lesson 03), and `gym.compare(..., same_work=True)` gives both the same samples in total. The run
is the one the performance model says costs less for that work: split async, unless the model
says otherwise (then colocated, and the lesson says so). The choice is computed, never
hard-coded, so it follows the model (gym.perf) when its constants change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def seed_production_run():
    """The seed's production run as lesson 05 launches it: the CLI's seed run
    (`gym.cli.seed_production_config`: gym's GSM8K, W&B, 4 colocated nodes, the seed's batch sizes
    and rollout count), with eval (4 samples per prompt) and a save every 20 rollouts."""
    from gym.cli import seed_production_config

    return seed_production_config().replace(eval_interval=20, n_samples_per_eval_prompt=4, save_interval=20)


def split_of(config):
    """`config` with rollout on its own node (train_async.py), batch sizes fixed as the validator's
    first suggestion that changes them together (the one lesson 03 takes)."""
    from gym.errors import ConfigError

    split = config.replace(colocate=False)
    try:
        split.validate()
        return split
    except ConfigError as err:
        joint = next(f for p in err.problems for f in p.fixes if len(f.changes) > 1)
        return split.replace(**joint.changes)


@dataclass(frozen=True)
class LayoutChoice:
    colocated: Any
    """The seed's run, colocated (SlimeConfig)."""
    split: Any
    """The same work split 3 + 1, async (SlimeConfig, num_rollout for the same samples)."""
    table: Any
    """gym.compare([colocated, split], same_work=True)."""
    run: Any
    """The cheaper of the two for the same work: what lesson 05 launches and lesson 06 evaluates."""

    @property
    def picked_split(self) -> bool:
        return self.run is self.split


def production_choice() -> LayoutChoice:
    """Colocated or split for lesson 05's run, decided by the performance model's dollars for the
    same work (ties go to colocated: the simpler, on-policy layout)."""
    import gym

    colocated = seed_production_run()
    split = split_of(colocated)
    table = gym.compare([colocated, split], same_work=True)
    split = split.replace(num_rollout=table.rows[1].rollouts)
    run = split if table.rows[1].usd < table.rows[0].usd else colocated
    return LayoutChoice(colocated=colocated, split=split, table=table, run=run)


def generalisation_sentence(practised_before, practised_after, held_before, held_after) -> str:
    """What a before/after evaluation on practised and held-out prompts shows, decided from the
    numbers (gym.local.evaluate.Evaluation's), with the number of prompts stated.

    Each gain is compared with its noise: a share of n prompts has a binomial standard error of
    √(p(1 − p) / n) (at most 0.5 / √n; one prompt is 1/n of the score). The held-out prompts
    *carried over* when their gain is within two standard errors of the practised gain; the
    model *memorised* when the held-out gain is within two standard errors of nothing while the
    practised gain is not; anything else is in between."""
    import math

    n_p, n_h = len(practised_after.answers), len(held_after.answers)
    gain_p = practised_after.accuracy - practised_before.accuracy
    gain_h = held_after.accuracy - held_before.accuracy

    def se(p: float, n: int) -> float:
        return math.sqrt(max(p * (1 - p), 0.25 / n) / n)  # never 0: at p = 0 or 1, a floor of one prompt's worth

    se_h = math.hypot(se(held_before.accuracy, n_h), se(held_after.accuracy, n_h))
    se_diff = math.hypot(se_h, se(practised_before.accuracy, n_p), se(practised_after.accuracy, n_p))
    counts = (f"{n_p} practised prompts went from {practised_before.accuracy:.0%} to {practised_after.accuracy:.0%}, "
              f"{n_h} held-out ones from {held_before.accuracy:.0%} to {held_after.accuracy:.0%}")
    noise = (f"; on {n_h} held-out prompts one answer is {1 / n_h:.0%} of the score, and a difference smaller "
             f"than about {2 * se_h:.0%} (two standard errors) is noise")
    if gain_p <= 2 * se_diff and gain_h <= 2 * se_h:
        verdict = "Training did not measurably help on either set"
    elif abs(gain_h - gain_p) <= 2 * se_diff:
        verdict = ("The held-out sums improved about as much as the practised ones: the model picked up part of "
                   "the pattern (addition), not only the answers it practised")
    elif gain_h <= 2 * se_h:
        verdict = ("Only the practised sums improved beyond noise: the model memorised answers rather than "
                   "learning addition")
    else:
        verdict = ("The held-out sums improved, but less than the practised ones: part pattern, part memorised "
                   "answers")
    return f"{verdict} ({counts}{noise})."
