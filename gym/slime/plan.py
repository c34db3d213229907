"""Plan: every number a launch implies, before it is launched.

Cluster layout, the train/rollout split, parallel sizes, batch arithmetic, which values
were derived, GPU-hours and price per hour. Prints as a table; renders as HTML in a
notebook.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gym import pricing
from gym.errors import Problem
from gym.launch.checkpoints import save_gib
from gym.launch.resources import TRAIN_CPU_CORES
from gym.slime.config import Resolved

if TYPE_CHECKING:
    from gym.perf import PerfEstimate


@dataclass(frozen=True)
class Plan:
    """The numbers of one run. GPU counts are GPUs; batches count prompts or samples as named."""

    name: str
    model: str
    gpu_type: str
    num_nodes: int
    """Nodes in the Modal cluster (all of them)."""
    gpus_per_node: int
    colocate: bool
    train_gpus: int
    rollout_gpus: int
    rollout_engines: int
    engine_gpus: int
    actor_num_nodes: int
    """slime's --actor-num-nodes (training nodes)."""
    actor_num_gpus_per_node: int
    tp: int
    pp: int
    cp: int
    ep: int
    dp: int | None
    rollout_batch_size: int
    n_samples_per_prompt: int
    samples_per_rollout: int
    global_batch_size: int
    steps_per_rollout: int
    num_rollout: int
    total_steps: int
    train_script: str
    usd_per_hour: float
    keep_checkpoints: int = 3
    """Saves kept on the run's checkpoint volume (older ones are deleted)."""
    checkpoint_gib: float = 0.0
    """Size of one save in GiB (weights, fp32 master weights, Adam states)."""
    derived: dict[str, str] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    perf: PerfEstimate | None = None
    """The performance model's estimate (gym.perf): memory per GPU, seconds per rollout, run cost.
    None when the GPU type has no specs or the model no architecture."""
    run_limit_hours: float | None = None
    """The longest run Modal's timeouts and retries allow (gym.perf.run_limit_hours)."""

    @property
    def cluster_gpus(self) -> int:
        return self.num_nodes * self.gpus_per_node

    @property
    def gpu_hours_per_hour(self) -> int:
        """GPU-hours billed per wall-clock hour: every GPU of the cluster, busy or not."""
        return self.cluster_gpus

    @property
    def samples_per_dp_rank(self) -> float | None:
        """Samples each data-parallel rank trains on per optimizer step."""
        return self.global_batch_size / self.dp if self.dp else None

    def rows(self) -> list[tuple[str, str, str]]:
        """(section, label, value) rows, in reading order."""
        d = self.derived

        def mark(key: str, text: str) -> str:
            return f"{text}  (derived)" if key in d else text

        split = ("colocated: every GPU trains and rolls out, in turns"
                 if self.colocate else
                 f"split: {self.train_gpus // self.gpus_per_node if self.train_gpus >= self.gpus_per_node else 0} "
                 f"node(s) train, {self.rollout_gpus / self.gpus_per_node:g} node(s) roll out")
        rows = [
            ("run", "name", mark("name", self.name)),
            ("run", "model", self.model),
            ("cluster", "nodes", mark("num_nodes", f"{self.num_nodes} × {self.gpus_per_node} {self.gpu_type} "
                                      f"= {self.cluster_gpus} GPUs")),
            ("cluster", "layout", split),
            ("cluster", "training GPUs", f"{self.train_gpus}  (slime --actor-num-nodes {self.actor_num_nodes} "
                                         f"--actor-num-gpus-per-node {self.actor_num_gpus_per_node})"),
            ("cluster", "rollout GPUs", mark("rollout_num_gpus", f"{self.rollout_gpus} in {self.rollout_engines} "
                                            f"SGLang engine(s) of {self.engine_gpus} GPU(s)")),
            ("parallel", "TP × PP × CP", f"{self.tp} × {self.pp} × {self.cp}" + (f", EP {self.ep}" if self.ep > 1 else "")),
            ("parallel", "data parallel (DP)", f"{self.dp} = {self.train_gpus} / {self.tp * self.pp * self.cp}"
             if self.dp else "not a whole number"),
            ("batch", "prompts per rollout", mark("rollout_batch_size", str(self.rollout_batch_size))),
            ("batch", "samples per prompt", mark("n_samples_per_prompt", str(self.n_samples_per_prompt))),
            ("batch", "samples per rollout", f"{self.samples_per_rollout} = {self.rollout_batch_size} × "
                                             f"{self.n_samples_per_prompt}"),
            ("batch", "samples per step", mark("global_batch_size", f"{self.global_batch_size}"
                                                + (f" ({self.samples_per_dp_rank:g} per DP rank)" if self.dp else ""))),
            ("batch", "steps per rollout", f"{self.steps_per_rollout} = {self.samples_per_rollout} / {self.global_batch_size}"),
            ("batch", "rollouts", mark("num_rollout", str(self.num_rollout))),
            ("batch", "optimizer steps", f"{self.total_steps} = {self.num_rollout} × {self.steps_per_rollout}"),
            ("launch", "entry point", self.train_script),
            ("cost", "GPU-hours per hour", str(self.gpu_hours_per_hour)),
            ("cost", "price per hour", f"${self.usd_per_hour:,.2f}  (Modal list prices of {pricing.PRICES_AS_OF}: GPUs, "
                                          f"{TRAIN_CPU_CORES:g} cores and memory per node)"),
        ]
        rows.append(("storage", "checkpoints",
                     f"~{self.checkpoint_gib * (self.keep_checkpoints + 1):,.0f} GiB at most = "
                     f"({self.keep_checkpoints} kept + 1 being written) × ~{self.checkpoint_gib:,.0f} GiB "
                     f"in volume {self.name}-checkpoints"))
        rows += self._perf_rows()
        rows += [("note", "note", n) for n in self.notes]
        rows += [("warning", ", ".join(w.fields), w.message) for w in self.warnings]
        return rows

    def _perf_rows(self) -> list[tuple[str, str, str]]:
        e = self.perf
        if e is None:
            return []

        def parts(d: dict[str, float]) -> str:
            return " + ".join(f"{k} {v:.1f}" for k, v in d.items() if v >= 0.05)

        lo, hi = e.step_seconds_range
        (h0, h1), (u0, u1) = e.run_hours_range, e.run_usd_range
        return [
            ("memory", "training GPU", f"{e.train_memory_gib:.1f} of {e.gpu_memory_gib:.1f} GiB "
                                       f"({e.train_share:.0%}): {parts(e.train_memory)}"),
            ("memory", "rollout GPU", f"{e.rollout_memory_gib:.1f} of {e.gpu_memory_gib:.1f} GiB "
                                      f"({e.rollout_share:.0%}): {parts(e.rollout_memory)}"),
            ("memory", "KV cache", f"{e.kv_cache_tokens:,} tokens per engine; {e.in_flight} sequences in flight, "
                                   f"{e.waves} wave(s) per rollout"),
            ("time", "per rollout", f"~{e.step_seconds:.0f} s ({lo:.0f}–{hi:.0f}): "
                                    + ", ".join(f"{k} {v:.1f}" for k, v in e.phases.items() if v >= 0.05)
                                    + (" (added: colocated)" if self.colocate else " (rollout overlaps training)")),
            ("time", "whole run", f"~{e.run_hours:.1f} h ({h0:.1f}–{h1:.1f}), ~${e.run_usd:,.0f} (${u0:,.0f}–${u1:,.0f})"
                                  f" for {self.num_rollout} rollouts"),
            ("time", "lengths", f"responses ~{e.mean_response_tokens:.0f} tokens on average ({e.workload_source}; "
                                f"longest of a rollout ~{e.longest_response_tokens:.0f}), prompts ~{e.mean_prompt_tokens:.0f}: the workload "
                                "(--mean-response-tokens / --mean-prompt-tokens; "
                                "gym.perf.workload_from reads a past run's)"),
        ]

    def __str__(self) -> str:
        rows = self.rows()
        width = max(len(label) for _, label, _ in rows)
        lines, section = [f"Plan for {self.name}"], None
        for sec, label, value in rows:
            if sec != section:
                lines.append(f"[{sec}]")
                section = sec
            lines.append(f"  {label:<{width}}  {value}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        out = [f"<table class='gym-plan'><caption style='text-align:left'><b>Plan for "
               f"{html.escape(self.name)}</b></caption>"]
        section = None
        for sec, label, value in self.rows():
            if sec != section:
                out.append(f"<tr><th colspan='2' style='text-align:left'>{html.escape(sec)}</th></tr>")
                section = sec
            style = " style='color:#b45309'" if sec == "warning" else ""
            out.append(f"<tr{style}><td>{html.escape(label)}</td><td>{html.escape(value)}</td></tr>")
        out.append("</table>")
        return "".join(out)


def make_plan(r: Resolved, warnings: list[Problem] | tuple[Problem, ...] = (), *,
              mean_response_tokens: float | None = None, mean_prompt_tokens: float | None = None) -> Plan:
    """Build the plan of a resolved config (numbers stay defined for invalid configs where they can),
    priced on the given workload (gym.perf: None takes its default). A workload that is not a
    positive finite number is a ConfigError."""
    c, lay = r.config, r.layout
    notes = []
    if r.seed_alias and lay.actor_num_nodes != c.num_nodes:
        notes.append(f"actor_num_nodes={c.num_nodes} was read as the cluster size (num_nodes), as in the seed "
                     f"tutorial; slime's own --actor-num-nodes counts training nodes only: {lay.actor_num_nodes}")
    gbs = c.global_batch_size
    steps = r.steps_per_rollout
    workload = {"mean_response_tokens": mean_response_tokens, "mean_prompt_tokens": mean_prompt_tokens}
    perf, limit, warnings = _perf(r, tuple(warnings), workload)
    from gym.perf import usd_per_hour

    price = usd_per_hour(c)
    return Plan(
        name=r.name, model=r.model.model_name, gpu_type=c.gpu_type, num_nodes=c.num_nodes,
        gpus_per_node=c.gpus_per_node, colocate=c.colocate, train_gpus=lay.train_gpus,
        rollout_gpus=lay.rollout_gpus, rollout_engines=lay.num_engines, engine_gpus=lay.engine_gpus,
        actor_num_nodes=lay.actor_num_nodes, actor_num_gpus_per_node=lay.actor_num_gpus_per_node,
        tp=lay.tp, pp=lay.pp, cp=lay.cp, ep=lay.ep, dp=lay.dp,
        rollout_batch_size=c.rollout_batch_size, n_samples_per_prompt=c.n_samples_per_prompt,
        samples_per_rollout=r.samples_per_rollout, global_batch_size=gbs, steps_per_rollout=steps,
        num_rollout=c.num_rollout, total_steps=c.num_rollout * steps, train_script=r.train_script,
        usd_per_hour=price, keep_checkpoints=c.keep_checkpoints,
        checkpoint_gib=save_gib(r.model.architecture.approx_params()), derived=dict(r.derived), warnings=tuple(w for w in warnings if w.severity == "warning"),
        notes=tuple(notes), perf=perf, run_limit_hours=limit)


def _perf(r: Resolved, warnings: tuple[Problem, ...], workload: dict | None = None):
    """The estimate, the run-length limit and the warnings with a too-long-run warning added (and
    one when added nodes do not shorten the step)."""
    from gym.errors import ConfigError
    from gym.perf import check_workload, estimate_resolved, run_limit_hours

    workload = check_workload(**(workload or {}))  # a bad workload: ConfigError
    try:
        perf = estimate_resolved(r, **workload)
    except (ConfigError, ArithmeticError, TypeError, ValueError):
        return None, None, warnings
    limit = run_limit_hours()
    if perf.run_hours > limit:
        warnings += (Problem(
            ("num_rollout",), f"the run is estimated at ~{perf.run_hours:.0f} h "
            f"({perf.run_hours_range[0]:.0f}–{perf.run_hours_range[1]:.0f} h), longer than Modal's timeouts and "
            f"retries allow ({limit:.0f} h): it would stop before num_rollout={r.config.num_rollout}",
            (), severity="warning", rule="run_fits_time_limit"),)
    warnings += _save_spacing_warning(r, perf)
    from gym.perf import scaling_warning

    warnings += scaling_warning(r, perf, workload)
    return perf, limit, warnings


def _save_spacing_warning(r: Resolved, perf) -> tuple[Problem, ...]:
    """Attempts chain past Modal's 24 h limit by resuming from the last save: saves further apart
    than one attempt (at the estimate's slow end) mean an attempt that ends saving nothing, and
    the pipeline does not retry an attempt that made no progress."""
    from gym.errors import Fix
    from gym.launch.app import TRAIN_TIMEOUT_S

    c = r.config
    slow = perf.step_seconds_range[1]
    if perf.run_hours * 3600 <= TRAIN_TIMEOUT_S or slow <= 0:
        return ()
    every = c.save_interval or c.num_rollout
    if every * slow <= TRAIN_TIMEOUT_S:
        return ()
    fit = max(1, int(TRAIN_TIMEOUT_S / 2 / slow))
    return (Problem(
        ("save_interval",), f"save_interval × seconds per rollout = {every} × ~{slow:.0f} s (slow end) = "
        f"{every * slow / 3600:.1f} h > {TRAIN_TIMEOUT_S / 3600:.0f} h, Modal's limit per attempt: an attempt "
        "could end without a save, and a run longer than one attempt goes on only from a save",
        (Fix({"save_interval": fit}),), severity="warning", rule="saves_within_attempt"),)
