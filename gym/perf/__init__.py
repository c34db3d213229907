"""The performance model: memory per GPU, seconds per rollout and the cost of a whole run.

    from gym.perf import estimate
    e = estimate(SlimeConfig(model="Qwen3-4B", num_nodes=4))
    e.train_memory_gib, e.kv_cache_tokens, e.step_seconds, e.run_usd_range

Memory (gym.perf.memory) follows Megatron's and SGLang's own arithmetic part by part; time
(gym.perf.timing) is physics (bytes over bandwidth, FLOPs over peak) with named efficiency
constants fitted to published runs (scripts/calibrate_perf.py, BENCHMARKS.md). GPU specs live
in gym.perf.hardware. The estimate reads a config and never changes it; rules (memory), the
plan, the control panel and the launcher's cost bound all ask it rather than re-deriving.

The workload (how long responses and prompts are on average) is an input wherever a decision is
made: `estimate(..., mean_response_tokens=, mean_prompt_tokens=)`, `config.plan(...)` with the same
names, `python -m gym plan --mean-response-tokens N --mean-prompt-tokens N`,
`gym.compare(configs, mean_response_tokens=N)` and the control panel's field. `workload_from(metrics)`
reads both from a finished run's metrics (a local History, or slime's logged `rollout/response_len/
mean`), so a smoke run or a past run prices the next one:

    estimate(config, **workload_from(history))

The longest response is not the cap: lengths are spread around their mean (exponential, clipped at
the cap: timing.expected_longest_response), so the cap prices the tail only when the mean is near it.

Defaults when the caller gives no lengths (assumptions, stated in every estimate):
- GSM8K (gym.datasets.GSM8K): GSM8K_RESPONSE_TOKENS, thinking on (Qwen3's chat template thinks unless
  `--apply-chat-template-kwargs '{"enable_thinking": false}'` is among extra_args) or off;
- any other dataset: DEFAULT_RESPONSE_FRACTION of `rollout_max_response_len`;
- prompts: half of `rollout_max_prompt_len`, or DEFAULT_PROMPT_TOKENS when it is unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gym.errors import ConfigError, Problem
from gym.perf import memory as mem
from gym.perf import timing as tm
from gym.perf.hardware import GPUS, GPUSpec, gpu_spec

import math

DEFAULT_RESPONSE_FRACTION = 0.35
"""Mean response length as a share of rollout_max_response_len for a dataset gym has no workload for
(reasoning models on math: slime's Qwen3-4B DAPO runs average ~30-40% of an 8k cap; row 7 of
perf-calibration.md: 1363 of 9324 = 15%). A statement of ignorance: pass the real mean."""
GSM8K_RESPONSE_TOKENS = {"thinking": 1200, "no_thinking": 300}
"""Mean response of a Qwen3 model on GSM8K, tokens (the course's default workload).
- no_thinking: ~294 completion tokens, Qwen3-4B-Instruct-2507 (non-thinking) on the GSM8K test set
  (the ssurface/qwen3-4b-cot-compress evaluation's baseline, Hugging Face model card).
- thinking (Qwen3's default, and gym's: nothing turns it off): an ASSUMPTION, no direct measurement
  of Qwen3-4B on GSM8K with thinking on was found (perf-calibration.md). Bounds: more than the 294
  without thinking; less than the ~1,850 Qwen3-8B averages on the harder MATH at a 2,048 cap, where
  it is truncated (thinking-machines-lab/tinker-cookbook PR 203). 1,200 is a guess in between: pass
  the mean a smoke run logged (workload_from) instead.
Either is clipped at rollout_max_response_len."""
DEFAULT_PROMPT_TOKENS = 200
"""Mean prompt length when rollout_max_prompt_len is unset (a GSM8K question in Qwen's chat template
is ~100-200 tokens)."""
PEAK_WARNING_SHARE = 0.9
"""A plan warns when an estimated peak exceeds this share of the GPU."""
PHASES = ("generate", "log_probs", "train", "update_weights", "switch")

__all__ = ["GPUS", "GPUSpec", "PerfEstimate", "estimate", "estimate_resolved", "gpu_spec", "run_limit_hours",
           "workload_from"]


@dataclass(frozen=True)
class PerfEstimate:
    """What one config costs in memory, time and money, before launch. GiB, seconds, hours, USD."""

    train_memory_gib: float
    """Peak per training GPU (the most loaded one), GiB."""
    train_memory: dict[str, float]
    """train_memory_gib by part: weights, grads, optimizer, activations, logits, reference, overhead."""
    gpu_memory_gib: float
    """Usable memory per GPU (as CUDA reports it), GiB."""
    kv_cache_tokens: int
    """Tokens one SGLang engine's KV pool holds."""
    rollout_memory: dict[str, float]
    """One rollout GPU during generation, GiB by part: weights, kv_cache, cuda_graphs, overhead."""
    step_seconds: float
    """Point estimate of one rollout (generate, score, train, update), seconds."""
    step_seconds_range: tuple[float, float]
    phases: dict[str, float]
    """Seconds per rollout by phase: generate, log_probs, train, update_weights, switch."""
    run_hours: float
    run_hours_range: tuple[float, float]
    run_usd: float
    run_usd_range: tuple[float, float]
    fits: bool
    """True when training and rollout both fit their GPUs by the point estimate (peaks ≤ capacity,
    the KV pool holds one sample); validation refuses exactly the configs where it is False (gym.perf.verdict)."""
    assumptions: str
    rollout_memory_gib: float = 0.0
    """Peak per rollout GPU during generation, GiB."""
    in_flight: int = 0
    """Sequences one engine decodes at once."""
    waves: int = 1
    """Rounds of `in_flight` sequences one engine needs for its share of a rollout."""
    mean_response_tokens: float = 0.0
    mean_prompt_tokens: float = 0.0
    longest_sample_tokens: int = 0
    """Prompt + response of the longest sample (what one KV pool and one micro-batch must hold)."""
    longest_response_tokens: float = 0.0
    """Expected longest response of one rollout (timing.expected_longest_response): the tail's length."""
    workload_source: str = ""
    """Where mean_response_tokens comes from: "given", "GSM8K default, thinking", "35% of the cap"."""
    kv_pool_gib: float = 0.0
    """SGLang's KV pool before clipping at 0 (negative: the weights alone exceed the fraction)."""
    problems: tuple[Problem, ...] = field(default=())
    """Memory verdicts (errors: cannot fit; warnings: above PEAK_WARNING_SHARE), for the rules."""

    @property
    def train_share(self) -> float:
        return self.train_memory_gib / self.gpu_memory_gib

    @property
    def rollout_share(self) -> float:
        return self.rollout_memory_gib / self.gpu_memory_gib

    def __str__(self) -> str:
        lo, hi = self.step_seconds_range
        return (f"train {self.train_memory_gib:.1f} of {self.gpu_memory_gib:.1f} GiB per GPU; KV pool "
                f"{self.kv_cache_tokens:,} tokens; ~{self.step_seconds:.0f} s per rollout ({lo:.0f}–{hi:.0f}); "
                f"run ~{self.run_hours:.1f} h, ~${self.run_usd:,.0f} "
                f"(${self.run_usd_range[0]:,.0f}–${self.run_usd_range[1]:,.0f})")


def estimate(config, *, mean_response_tokens: float | None = None,
             mean_prompt_tokens: float | None = None) -> PerfEstimate:
    """Estimate a SlimeConfig's memory, time and cost. Does not validate (an invalid config still
    gets numbers where they exist) and never changes the config.

    Raises ConfigError when the GPU type has no specs or the model has no architecture."""
    return estimate_resolved(config.resolve(), mean_response_tokens=mean_response_tokens,
                             mean_prompt_tokens=mean_prompt_tokens)


def _positive(name: str, value) -> float:
    """A workload number: finite and > 0, else ConfigError naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (math.isfinite(number) and number > 0):
        raise ConfigError([Problem((name,), f"{name}={value!r} must be a finite number of tokens > 0 (a mean "
                                   "length, e.g. the rollout/response_len/mean a past run logged)",
                                   rule="workload_positive")], subject="workload")
    return number


def check_workload(mean_response_tokens=None, mean_prompt_tokens=None) -> dict:
    """The workload as estimate()'s keyword arguments, each None or a positive finite number
    (ConfigError naming the field otherwise)."""
    return {"mean_response_tokens": None if mean_response_tokens is None
            else _positive("mean_response_tokens", mean_response_tokens),
            "mean_prompt_tokens": None if mean_prompt_tokens is None
            else _positive("mean_prompt_tokens", mean_prompt_tokens)}


SCALING_GAIN = 0.05
"""The plan warns when the config's last node shortens the step by less than this share."""


def _fewer_nodes(r, nodes: int, workload: dict):
    """The estimate of the same config on `nodes` nodes (derived rollout GPUs derived again), or None
    when that layout does not exist (no training GPUs, DP not whole)."""
    changes = {"num_nodes": nodes}
    if "rollout_num_gpus" in r.derived:
        changes["rollout_num_gpus"] = None
    try:
        smaller = r.config.replace(**changes).resolve()
        if smaller.layout.dp is None or smaller.layout.train_gpus <= 0 or smaller.layout.rollout_gpus <= 0:
            return None
        return estimate_resolved(smaller, **workload)
    except (ConfigError, ArithmeticError, TypeError, ValueError):
        return None


def bottleneck(e: PerfEstimate, before: PerfEstimate, overlapped: bool) -> tuple[str, str]:
    """(phase, why) that keeps the step from shrinking between `before` (one node fewer) and `e`.
    Overlapped (train_async): the slower of generation and training. Added up: the longest phase
    that did not shrink by a tenth with the added node."""
    if overlapped:
        train = e.phases["log_probs"] + e.phases["train"]
        if e.phases["generate"] >= train:
            return "generate", ("the rollout GPUs generate while training waits, and more training nodes do not "
                                "shorten it (more rollout GPUs would: rollout_num_gpus)")
        return "train", "training (log-probs + train) sets the pace"
    fixed = {p: s for p, s in e.phases.items() if s >= 0.9 * before.phases.get(p, 0.0)}
    phase = max(fixed or e.phases, key=(fixed or e.phases).get)
    if phase == "generate":
        return phase, (f"its tail: the longest response (~{e.longest_response_tokens:.0f} tokens against a mean of "
                       f"{e.mean_response_tokens:.0f}) decodes nearly alone, whatever the number of engines")
    return phase, "a cost every rollout pays that more nodes do not divide"


def scaling_warning(r, perf: PerfEstimate, workload: dict | None = None) -> tuple[Problem, ...]:
    """A plan warning when the last node added buys less than SCALING_GAIN of the step, naming the
    bottleneck phase and the fewest nodes within that share of this step (e.g. a split layout whose
    one rollout node sets the pace: from 2 nodes on, more training nodes change nothing)."""
    from gym.errors import Fix

    n = r.config.num_nodes
    workload = {k: v for k, v in (workload or {}).items() if v is not None}
    if n < 2:
        return ()
    previous = _fewer_nodes(r, n - 1, workload)
    if previous is None or previous.step_seconds > perf.step_seconds * (1 + SCALING_GAIN):
        return ()
    fewest = n - 1
    for k in sorted({2 ** i for i in range(6) if 2 ** i < n - 1}):  # the fewest, among 1, 2, 4, …: few estimates
        e = _fewer_nodes(r, k, workload)
        if e is not None and e.step_seconds <= perf.step_seconds * (1 + SCALING_GAIN):
            fewest = k
            break
    overlapped = not r.layout.colocate and r.train_script.endswith("train_async.py")
    phase, why = bottleneck(perf, previous, overlapped)
    gain = previous.step_seconds / perf.step_seconds - 1
    return (Problem(
        ("num_nodes",), f"{n} nodes: ~{perf.step_seconds:.0f} s per rollout against ~{previous.step_seconds:.0f} s on "
        f"{n - 1} ({gain:+.0%}): the last node does not shorten the step. Bottleneck: {phase} "
        f"({perf.phases[phase]:.0f} s), {why}; {fewest} node(s) run it within {SCALING_GAIN:.0%} of this step",
        (Fix({"num_nodes": fewest}),), severity="warning", rule="nodes_shorten_step"),)


def thinking(c) -> bool:
    """Whether Qwen3's chat template thinks: yes unless extra_args pass slime's
    `--apply-chat-template-kwargs` with `"enable_thinking": false`."""
    import json

    args = list(c.extra_args or ())
    for i, arg in enumerate(args[:-1]):
        if arg == "--apply-chat-template-kwargs":
            try:
                return json.loads(args[i + 1]).get("enable_thinking", True) is not False
            except (ValueError, AttributeError):
                return True
    return True


def default_response_tokens(c, dataset) -> tuple[float, str]:
    """The mean response when none is given, and where it comes from (see the module docstring)."""
    from gym.datasets import GSM8K

    if isinstance(dataset, GSM8K):
        mode = "thinking" if thinking(c) else "no_thinking"
        return float(GSM8K_RESPONSE_TOKENS[mode]), f"GSM8K default, {mode.replace('_', ' ')}"
    return DEFAULT_RESPONSE_FRACTION * c.rollout_max_response_len, f"{DEFAULT_RESPONSE_FRACTION:.0%} of the cap"


def _lengths(r, mean_response, mean_prompt) -> tuple[float, float, int, str]:
    """(mean response, mean prompt, longest prompt, where the response mean comes from)."""
    c = r.config
    if mean_response is not None:
        response, source = _positive("mean_response_tokens", mean_response), "given"
    else:
        response, source = default_response_tokens(c, r.dataset)
    if mean_prompt is not None:
        mean_prompt = _positive("mean_prompt_tokens", mean_prompt)
    else:
        mean_prompt = c.rollout_max_prompt_len / 2 if c.rollout_max_prompt_len else DEFAULT_PROMPT_TOKENS
    prompt_max = c.rollout_max_prompt_len or 2 * DEFAULT_PROMPT_TOKENS
    return float(min(response, c.rollout_max_response_len)), float(mean_prompt), int(prompt_max), source


WORKLOAD_KEYS = {
    "mean_response_tokens": ("rollout/response_len/mean", "rollout/response_length"),
    "mean_prompt_tokens": ("rollout/prompt_len/mean", "rollout/prompt_length"),
}
"""Metric names workload_from reads, first match wins: slime logs `rollout/response_len/mean` (and
/median, /max, /min; slime/observability/rollout_metrics.py `compute_metrics_from_samples`, named so since
THUDM/slime#666); gym's local backend logs `rollout/response_length` (gym.local.workers). Neither logs a
prompt length; a prompt key is read when a run's metrics have one."""


def workload_from(metrics) -> dict[str, float]:
    """The workload a run measured, as keyword arguments for estimate(), plan() and compare():
    `{"mean_response_tokens": …}` (and `"mean_prompt_tokens"` when the metrics have it), each the mean
    over every rollout that logged it. `metrics`: a local History, a list of metric rows (dicts, e.g.
    W&B's history), or one row. ConfigError when no response length is found or it is not positive."""
    rows = getattr(metrics, "rows", metrics)
    if isinstance(rows, dict):
        rows = [rows]
    rows = [row for row in rows if isinstance(row, dict)]
    out: dict[str, float] = {}
    for name, keys in WORKLOAD_KEYS.items():
        for key in keys:
            values = [row[key] for row in rows if row.get(key) is not None]
            if values:
                out[name] = _positive(name, sum(float(v) for v in values) / len(values))
                break
    if "mean_response_tokens" not in out:
        raise ConfigError([Problem(("metrics",), "no response length in these metrics: expected one of "
                                   + ", ".join(WORKLOAD_KEYS["mean_response_tokens"]) + f" in {len(rows)} row(s)",
                                   rule="workload_positive")], subject="workload")
    return out


def run_limit_hours() -> float:
    """The longest run gym's Modal app allows: its train function's timeout times its attempts
    (`gym.launch.app`: `max_run_seconds()` when it defines one, else TRAIN_TIMEOUT_S × (1 +
    TRAIN_RETRIES): each retry resumes from the latest checkpoint)."""
    from gym.launch import app

    fn = getattr(app, "max_run_seconds", None)
    if callable(fn):
        return fn() / 3600
    return app.TRAIN_TIMEOUT_S * (1 + app.TRAIN_RETRIES) / 3600


def usd_per_hour(c) -> float:
    """The cluster's list price per hour (GPUs, cores, memory), NaN for GPUs without a price."""
    from gym import pricing
    from gym.launch.resources import TRAIN_CPU_CORES, train_memory_gib

    if c.gpu_type not in pricing.GPU_USD_PER_SECOND:
        return float("nan")
    return pricing.container_usd_per_hour(c.gpu_type, c.gpus_per_node, TRAIN_CPU_CORES,
                                          train_memory_gib(c.optimizer_cpu_offload)) * c.num_nodes


def estimate_resolved(r, *, mean_response_tokens: float | None = None,
                      mean_prompt_tokens: float | None = None) -> PerfEstimate:
    """estimate() for an already resolved config (cached on it: rules, plan and panel share one)."""
    key = (mean_response_tokens, mean_prompt_tokens)
    cache = r.__dict__.setdefault("_perf_cache", {})
    if key in cache:
        return cache[key]
    c, lay, arch = r.config, r.layout, r.model.architecture
    if arch is None:
        raise ConfigError([Problem(("model",), f"model {r.model.model_name!r} has no architecture "
                                   "(gym.models.ModelArchitecture: layers, hidden size, heads, vocabulary), so "
                                   "its memory and time cannot be estimated", rule="model_architecture_known")],
                          subject="performance estimate")
    spec = gpu_spec(c.gpu_type)
    response, prompt, prompt_max, source = _lengths(r, mean_response_tokens, mean_prompt_tokens)
    longest = prompt_max + c.rollout_max_response_len
    samples = c.rollout_batch_size * c.n_samples_per_prompt
    tail = tm.expected_longest_response(response, c.rollout_max_response_len, samples)

    train = mem.train_memory(c, arch, lay, prompt_max)
    rollout, kv_tokens, pool = mem.rollout_memory(c, arch, lay, spec.memory_gib)
    train_peak = sum(train.values())
    rollout_peak = sum(rollout.values())
    gen = tm.generate_s(c, arch, spec, lay, kv_tokens, prompt, response, tail)
    log_probs, train_s = tm.train_phases(c, arch, spec, lay, train, prompt, response)
    phases = {"generate": gen["seconds"], "log_probs": log_probs, "train": train_s,
              "update_weights": tm.update_weights_s(arch, lay), "switch": tm.switch_s(lay, train, rollout)}
    step = tm.step_s(lay, phases, c.update_weights_interval,
                     overlapped=not lay.colocate and r.train_script.endswith("train_async.py"))
    band = tm.MOE_STEP_RANGE_FACTOR if tm.fine_grained_moe(arch) else tm.STEP_RANGE_FACTOR
    step_range = (step / band, step * band)
    lo_s, mid_s, hi_s = tm.STARTUP_S
    hours = (c.num_rollout * step + mid_s) / 3600
    hours_range = ((c.num_rollout * step_range[0] + lo_s) / 3600, (c.num_rollout * step_range[1] + hi_s) / 3600)
    price = usd_per_hour(c)

    from gym.perf.verdict import memory_problems

    problems = memory_problems(r, spec, train, rollout, kv_tokens, pool, longest)
    fits = (not any(p.severity == "error" for p in problems) and train_peak <= spec.memory_gib
            and (not lay.colocate or rollout_peak <= spec.memory_gib))
    result = PerfEstimate(
        train_memory_gib=train_peak, train_memory=train, gpu_memory_gib=spec.memory_gib,
        kv_cache_tokens=kv_tokens, rollout_memory=rollout, step_seconds=step, step_seconds_range=step_range,
        phases=phases, run_hours=hours, run_hours_range=hours_range, run_usd=hours * price,
        run_usd_range=(hours_range[0] * price, hours_range[1] * price), fits=fits,
        assumptions=assumptions_text(c, spec, response, prompt, price, moe=arch.is_moe, source=source, longest=tail),
        rollout_memory_gib=rollout_peak, in_flight=gen["in_flight"], waves=gen["waves"],
        mean_response_tokens=response, mean_prompt_tokens=prompt, longest_sample_tokens=longest,
        longest_response_tokens=tail, workload_source=source,
        kv_pool_gib=pool, problems=tuple(problems))
    cache[key] = result
    return result


MOE_CAVEAT = (" MoE: decode reads every expert the batch routes to (plus a fixed routing cost per MoE layer); "
              "a fine-grained MoE trains at {mfu:.0%} MFU on its active parameters ({eff:.2f} of the dense "
              "utilisation, from Megatron's Qwen3-30B-A3B vs dense H100 measurements). Out of sample, NeMo-RL's "
              "Qwen3-30B-A3B steps ran 1.2-2.0x longer than predicted (BENCHMARKS.md), so its step range is "
              "×/÷ {band} instead.")
"""Said in the assumptions of every MoE estimate: the MoE efficiencies used and the out-of-sample error."""


def assumptions_text(c, spec, response: float, prompt: float, price: float, moe: bool = False,
                     source: str = "given", longest: float | None = None) -> str:
    longest = c.rollout_max_response_len if longest is None else longest
    return (f"{spec.name}: {spec.memory_gib:.1f} GiB, {spec.hbm_bytes_per_s / 1e12:.2f} TB/s, "
            f"{spec.bf16_flops / 1e12:.0f} TFLOP/s bf16. Responses average {response:.0f} tokens ({source}; "
            f"longest of a rollout ~{longest:.0f}, cap {c.rollout_max_response_len}), prompts {prompt:.0f}. "
            f"Decode at {tm.DECODE_BANDWIDTH_EFFICIENCY:.0%} of HBM "
            f"bandwidth, training at {tm.TRAIN_MFU:.0%} MFU (dense), weight updates at "
            f"{tm.UPDATE_BYTES_PER_S / 1e9:.1f} GB/s; start-up {tm.STARTUP_S[1] / 60:.0f} min "
            f"({tm.STARTUP_S[0] / 60:.0f}–{tm.STARTUP_S[2] / 60:.0f}); evaluation and checkpoint saves not "
            f"counted. Step range ×/÷ {tm.STEP_RANGE_FACTOR} (dense; the calibration error, see BENCHMARKS.md)."
            + ("" if price == price else f" No list price for {spec.name}: cost is NaN.")
            + (MOE_CAVEAT.format(mfu=tm.MOE_TRAIN_MFU, eff=tm.MOE_TRAIN_EFFICIENCY, band=tm.MOE_STEP_RANGE_FACTOR)
               if moe else ""))
