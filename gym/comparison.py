"""`gym.compare(configs)`: the same work on different layouts, side by side.

The answer to "what do 4 nodes buy?" and "colocated or split?": for each config, nodes, GPUs,
seconds per rollout (gym.perf), rollouts needed, hours, dollars, passes over the dataset and
the speed-up against the first config.

`same_work=True` (default) gives every config the first config's total samples
(num_rollout × rollout_batch_size × n_samples_per_prompt), so a config with bigger rollouts needs
fewer of them; `same_work=False` keeps each config's own num_rollout. Start-up time is included
once per run. Configs are not changed.

The workload prices every row alike: `mean_response_tokens` / `mean_prompt_tokens` (gym.perf's
defaults when None; `**gym.perf.workload_from(history)` passes a past run's).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

KNOWN_PROMPTS = {"GSM8K": 7473}
"""Training prompts of datasets gym knows (GSM8K: the train split of zhuzilin/gsm8k, 7,473 rows)."""

COLUMNS = ("config", "nodes", "GPUs", "s per rollout", "rollouts", "hours", "$", "passes over data", "speed-up")


@dataclass(frozen=True)
class ComparisonRow:
    """One config's line. Seconds, hours and US dollars; speed-up = first config's hours / these hours."""

    label: str
    nodes: int
    gpus: int
    step_seconds: float
    rollouts: int
    hours: float
    usd: float
    passes: float | None
    """Times the run goes through the training prompts (None: dataset size unknown)."""
    speedup: float

    def cells(self) -> tuple[str, ...]:
        return (self.label, str(self.nodes), str(self.gpus), f"{self.step_seconds:.0f}", f"{self.rollouts:,}",
                f"{self.hours:.1f}", f"${self.usd:,.0f}", "?" if self.passes is None else f"{self.passes:.1f}",
                f"{self.speedup:.2f}×")


@dataclass(frozen=True)
class Comparison:
    """A table of ComparisonRows; prints as text, renders as HTML in a notebook."""

    rows: tuple[ComparisonRow, ...]
    same_work: bool

    def __str__(self) -> str:
        table = [COLUMNS] + [r.cells() for r in self.rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in table]
        note = "same samples as the first config" if self.same_work else "each config's own num_rollout"
        return "\n".join(lines + [f"({note}; gym.perf estimates, start-up included)"])

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r.cells()) + "</tr>" for r in self.rows)
        note = "same samples as the first config" if self.same_work else "each config's own num_rollout"
        return (f"<table class='gym-compare'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                f"<div style='font-size:smaller'>{note}; gym.perf estimates, start-up included</div>")


def _label(r) -> str:
    lay = r.layout
    return f"{r.model.short_name} {lay.num_nodes}×{lay.gpus_per_node} {r.config.gpu_type} " \
           f"{'colocated' if lay.colocate else 'split'}"


def compare(configs, same_work: bool = True, labels=None, *, mean_response_tokens: float | None = None,
            mean_prompt_tokens: float | None = None) -> Comparison:
    """Compare configs (SlimeConfig) on the same work: see the module docstring. A workload that is
    not a positive finite number is a ConfigError."""
    from gym.perf import check_workload, estimate_resolved
    from gym.perf.timing import STARTUP_S

    workload = check_workload(mean_response_tokens, mean_prompt_tokens)
    resolved = [c.resolve() for c in configs]
    if not resolved:
        return Comparison(rows=(), same_work=same_work)
    first = resolved[0].config
    total_samples = first.num_rollout * first.rollout_batch_size * first.n_samples_per_prompt
    rows, base_hours = [], None
    for i, r in enumerate(resolved):
        c, e = r.config, estimate_resolved(r, **workload)
        per_rollout = c.rollout_batch_size * c.n_samples_per_prompt
        rollouts = math.ceil(total_samples / per_rollout) if same_work else c.num_rollout
        hours = (rollouts * e.step_seconds + STARTUP_S[1]) / 3600
        usd = hours * (e.run_usd / e.run_hours) if e.run_hours else float("nan")
        size = KNOWN_PROMPTS.get(type(r.dataset).__name__) or getattr(r.dataset, "num_prompts", None)
        passes = rollouts * c.rollout_batch_size / size if size else None
        base_hours = hours if base_hours is None else base_hours
        rows.append(ComparisonRow(label=labels[i] if labels else _label(r), nodes=c.num_nodes,
                                  gpus=c.num_nodes * c.gpus_per_node, step_seconds=e.step_seconds, rollouts=rollouts,
                                  hours=hours, usd=usd, passes=passes, speedup=base_hours / hours))
    return Comparison(rows=tuple(rows), same_work=same_work)
