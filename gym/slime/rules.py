"""The pre-launch checklist: one small pure function per rule.

Each rule takes a `Resolved` config and yields `Problem`s: the fields, the rule as a
formula with the values filled in, and the nearest values that make it hold. Rules cover
what slime checks at parse time, what it checks only minutes into a run, what it never
checks, and Modal's own limits (../shared/reference/slime-and-modal.md §3 and §9).

`check()` runs them all and returns every problem at once.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import typing
from collections.abc import Callable, Iterable, Iterator

from gym.datasets import FORMATS, LocalDataset
from gym.errors import Fix, Problem
from gym.secrets import redact
from gym.slime.config import TRAIN_SCRIPTS, Resolved, SlimeConfig

Rule = Callable[[Resolved], Iterable[Problem]]
RULES: list[Rule] = []

MODAL_GPU_TYPES = ("T4", "L4", "A10G", "A10", "L40S", "A100", "A100-40GB", "A100-80GB", "H100", "H100!",
                   "H200", "B200", "B200+")
"""GPU type names Modal accepts in `gpu="<type>:<count>"`."""
SLIME_IMAGE_GPU_TYPES = ("H100", "H200")
"""GPUs the pinned slime image (CUDA 12.9, Hopper kernels) is built and tested for."""
MODAL_MAX_GPUS_PER_CONTAINER = 8
MEGATRON_SEQ_LENGTH = 4096
"""slime sets Megatron's --seq-length to 4096 when unset; CP needs it divisible by 2·CP."""

ADVANTAGE_ESTIMATORS = ("grpo", "gspo", "cispo", "reinforce_plus_plus", "reinforce_plus_plus_baseline")
"""Estimators gym supports (slime's choices minus ppo, which needs a critic gym does not plan)."""
GROUP_ESTIMATORS = ("grpo", "gspo", "cispo")
"""Estimators that normalise rewards within a prompt's group of samples."""
KL_LOSS_TYPES = ("k1", "k2", "k3", "low_var_kl")
LR_DECAY_STYLES = ("constant", "linear", "cosine", "inverse-square-root", "WSD")
RECOMPUTE_GRANULARITIES = ("full", "selective", "off")
"""slime/Megatron take full or selective; "off" is gym's way to say no recompute (emits no flag)."""
RECOMPUTE_METHODS = ("uniform", "block")
RM_TYPES = ("math", "deepscaler", "dapo", "f1", "gpqa", "ifbench", "random", "remote_rm")
"""slime's built-in reward types (slime/rollout/rm_hub); a "boxed_" prefix first extracts \\boxed{}."""
LABELLED_RM_TYPES = ("math", "deepscaler", "dapo", "f1", "gpqa")
"""Reward types that compare against the label column."""
MODAL_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,64}$")
VOLUME_SUFFIXES = ("-data", "-checkpoints")


def rule(fn: Rule) -> Rule:
    """Register a rule (in definition order, which is the order problems are listed)."""
    RULES.append(fn)
    return fn


def check(r: Resolved) -> list[Problem]:
    """Every problem of a resolved config. Stops after type problems: later rules need sane types."""
    if r.type_problems:
        return list(r.type_problems)
    problems: list[Problem] = []
    absurd = _absurd(r)
    for fn in RULES:
        if absurd and fn.__name__ not in VALUE_RULES:
            continue  # a count past MAX_COUNT: arithmetic over it (divisors, nearest values) means nothing
        try:
            found = list(fn(r))
        except ArithmeticError:
            # A rule can only divide by zero when a count is already reported as < 1.
            if not any(p.rule == "positive_counts" for p in problems):
                raise
            continue
        problems.extend(dataclasses.replace(p, rule=p.rule or fn.__name__) for p in found)
    if absurd and not any(p.severity == "error" for p in problems):  # only derived counts are absurd
        problems.append(Problem(("rollout_batch_size", "global_batch_size", "num_rollout"), f"a derived count exceeds {MAX_COUNT:,}: set rollout_batch_size, "
                                "global_batch_size and num_rollout explicitly", rule="sizes_within_limits"))
    # A NaN or inf fails comparisons too: its finite_numbers problem says it once.
    not_finite = {p.fields[0] for p in problems if p.rule == "finite_numbers"}
    return [p for p in problems if p.rule == "finite_numbers" or not set(p.fields[:1]) & not_finite]


def _absurd(r: Resolved) -> bool:
    """A count (set or derived) past MAX_COUNT: only the single-value rules run then."""
    c = r.config
    counts = [getattr(c, n) for n in (*POSITIVE_INTS, *NON_NEGATIVE_INTS, "lr_warmup_iters", "rollout_num_gpus")]
    counts.append(c.rollout_batch_size * c.n_samples_per_prompt)
    return any(isinstance(v, int) and v > MAX_COUNT for v in counts)


# ---- Suggestions ---------------------------------------------------------------------------------

def nearest_multiples(value: int, unit: int, count: int = 3) -> list[int]:
    """Positive multiples of `unit` around `value`: e.g. (128, 24) -> [96, 120, 144]."""
    if unit <= 0:
        return []
    k = max(value // unit, 1)
    ks = [k - 1, k, k + 1] if value % unit else [k - 1, k + 1, k + 2]
    out = [x * unit for x in ks if x > 0 and x * unit != value]
    while len(out) < count:
        out.append((max(out) if out else 0) + unit)
    return sorted(out[:count])


def nearest(values: Iterable[int], target: int, count: int = 3) -> list[int]:
    """The `count` values closest to `target`, in increasing order."""
    pool = sorted(set(values))
    return sorted(sorted(pool, key=lambda v: (abs(v - target), v))[:count])


def divisors(n: int) -> list[int]:
    """The divisors of n in increasing order (O(√n): n ≤ MAX_COUNT takes under 50,000 steps)."""
    import math

    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0] if n > 0 else []
    return sorted(set(small + [n // d for d in small]))


def fixes(name: str, values: Iterable) -> tuple[Fix, ...]:
    return tuple(Fix({name: v}) for v in values)


def problem(fields: str | tuple[str, ...], message: str, fix: Iterable[Fix] = (),
            severity: str = "error") -> Problem:
    fields = (fields,) if isinstance(fields, str) else fields
    return Problem(fields=fields, message=message, fixes=tuple(fix), severity=severity)


# ---- Types ---------------------------------------------------------------------------------------

def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_type_ok(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint) or (object,)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


_HINTS: dict[str, object] | None = None


def _hints() -> dict[str, object]:
    global _HINTS
    if _HINTS is None:
        from gym.datasets import DatasetConfig
        from gym.models import ModelConfig
        from gym.wandb import WandbConfig

        _HINTS = typing.get_type_hints(SlimeConfig, localns={
            "ModelConfig": ModelConfig, "DatasetConfig": DatasetConfig, "WandbConfig": WandbConfig})
    return _HINTS


def _type_name(hint) -> str:
    text = str(hint).replace("typing.", "").replace("gym.models.", "").replace("gym.datasets.", "")
    return re.sub(r"<class '([\w.]+)'>", r"\1", text).replace("NoneType", "None")


def check_types(config: SlimeConfig) -> Iterator[Problem]:
    """Every field holds a value of its declared type (bools are not counts)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        hint = _hints()[f.name]
        if not _type_ok(value, hint):
            yield Problem((f.name,), f"{f.name}={redact(value)!r} has type {type(value).__name__}; "
                          f"expected {_type_name(hint)}", rule="check_types")


# ---- Values --------------------------------------------------------------------------------------

POSITIVE_INTS = (
    "num_nodes", "gpus_per_node", "tensor_model_parallel_size", "pipeline_model_parallel_size",
    "context_parallel_size", "expert_model_parallel_size", "expert_tensor_parallel_size",
    "rollout_num_gpus_per_engine", "rollout_batch_size", "n_samples_per_prompt", "global_batch_size",
    "micro_batch_size", "num_rollout", "max_tokens_per_gpu", "rollout_max_response_len",
    "rollout_max_prompt_len", "update_weights_interval", "save_interval",
    "n_samples_per_eval_prompt", "eval_max_response_len", "recompute_num_layers", "keep_checkpoints",
)
NON_NEGATIVE_INTS = ("eval_interval",)
"""Counts where 0 means "never" (eval_interval=0 turns eval off)."""


@rule
def positive_counts(r: Resolved) -> Iterator[Problem]:
    """Counts and sizes are ≥ 1 (0 or negative nodes, GPUs or batches cannot run)."""
    for name in POSITIVE_INTS:
        value = getattr(r.config, name)
        if value is not None and value < 1:
            yield problem(name, f"{name}={value} must be ≥ 1", fixes(name, [1]))
    for name in NON_NEGATIVE_INTS:
        value = getattr(r.config, name)
        if value is not None and value < 0:
            yield problem(name, f"{name}={value} must be ≥ 0 (0: never)", fixes(name, [0]))


@rule
def non_negative_values(r: Resolved) -> Iterator[Problem]:
    """Coefficients, lr and warmup are ≥ 0; lr > 0."""
    c = r.config
    if c.lr <= 0:
        yield problem("lr", f"lr={c.lr} must be > 0", fixes("lr", [1e-6]))
    for name in ("kl_loss_coef", "kl_coef", "entropy_coef", "weight_decay", "lr_warmup_iters", "clip_grad"):
        if getattr(c, name) < 0:
            yield problem(name, f"{name}={getattr(c, name)} must be ≥ 0", fixes(name, [0]))
    for name in ("adam_beta1", "adam_beta2", "rollout_top_p"):
        value = getattr(c, name)
        if not 0 < value <= 1:
            yield problem(name, f"0 < {name} ≤ 1 must hold; {name}={value}")


MAX_COUNT = 2**31 - 1
"""gym's own bound on every count and size (GPUs, batch sizes, samples per rollout, rollouts, tokens,
intervals): 2**31 − 1, the int32 range. A decision, not a slime limit (Modal's real limit on the
cluster is MODAL_MAX_CLUSTER_NODES): far above any run Modal can hold (the seed's production run has
512 samples per rollout), and small enough that every rule's arithmetic stays instant (`divisors`
is O(√n)). Above it, only the single-value rules (VALUE_RULES) run."""

VALUE_RULES = ("positive_counts", "non_negative_values", "finite_numbers", "sizes_within_limits",
               "seed_in_range", "cluster_within_modal_limit", "gpu_type_known", "temperature_positive",
               "known_choices", "reward_defined", "custom_reward_importable", "run_name_valid", "extra_args_known",
               "no_credentials_in_urls")
"""Rules that read single values: they still run when a size is absurd (the others are skipped)."""

NUMPY_SEED_MAX = 2**32 - 1
"""numpy's seed range is 0..2**32 − 1 (np.random.seed); Megatron seeds numpy, torch and random with
seed + 100 × pipeline rank (megatron/training/initialize.py, _set_random_seed), and the local backend
seeds torch generators with seed × 1,000,003 + …, well inside torch's 64-bit range."""


def _float_fields(value, prefix: str = "") -> Iterator[tuple[str, float, object]]:
    """(dotted name, value, default) of every float in a config and the dataclasses inside it."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return
    for f in dataclasses.fields(value):
        item = getattr(value, f.name, None)
        name = f"{prefix}{f.name}"
        if isinstance(item, float):
            default = f.default if isinstance(f.default, float) else None
            yield name, item, default
        elif dataclasses.is_dataclass(item):
            yield from _float_fields(item, f"{name}.")


@rule
def finite_numbers(r: Resolved) -> Iterator[Problem]:
    """Every float is finite: NaN and ±inf pass every comparison rule (NaN > 0 is False, so `not x > 0`
    style checks miss it) and reach slime as `--lr nan`. Walks SlimeConfig and the configs inside it."""
    import math

    preset = r.model.slime
    for name, value, default in _float_fields(r.config):
        if math.isfinite(value):
            continue
        if default is None and not name.count(".") and isinstance(getattr(preset, name, None), float):
            default = getattr(preset, name)
        yield problem(name.split(".")[0] if name.startswith(("model.", "dataset.", "wandb.")) else name,
                      f"{name}={value} must be a finite number (NaN and ±inf pass comparisons and reach slime as "
                      f"--{name.rsplit('.', 1)[-1].replace('_', '-')} {value})",
                      fixes(name, [default]) if default is not None and "." not in name else ())


@rule
def sizes_within_limits(r: Resolved) -> Iterator[Problem]:
    """Every count, and samples per rollout = rollout_batch_size × n_samples_per_prompt, is ≤ MAX_COUNT."""
    c = r.config
    for name in (*POSITIVE_INTS, *NON_NEGATIVE_INTS, "lr_warmup_iters", "rollout_num_gpus"):
        value = getattr(c, name)
        if isinstance(value, int) and value > MAX_COUNT and name not in r.derived and name != "num_nodes":
            # derived: its cause is reported; num_nodes: cluster_within_modal_limit says it
            yield problem(name, f"{name}={value} must be ≤ {MAX_COUNT:,} (2**31 − 1, gym's bound on any count)",
                          fixes(name, [_largest_fitting(r, name)]))
    s = c.rollout_batch_size * c.n_samples_per_prompt
    if c.rollout_batch_size <= MAX_COUNT and c.n_samples_per_prompt <= MAX_COUNT and s > MAX_COUNT:
        if "rollout_batch_size" not in r.derived:
            fix = Fix({"rollout_batch_size": _largest_fitting(r, "rollout_batch_size")})
        else:  # derived from the global batch: set it explicitly, small enough
            fix = Fix({"rollout_batch_size": max(1, MAX_COUNT // c.n_samples_per_prompt // 2)})
        yield problem(("rollout_batch_size", "n_samples_per_prompt"),
                      f"samples per rollout = rollout_batch_size × n_samples_per_prompt = {c.rollout_batch_size} × "
                      f"{c.n_samples_per_prompt} = {s:,} must be ≤ {MAX_COUNT:,}", [fix])


def _largest_fitting(r: Resolved, name: str) -> int:
    """The largest value of `name` that keeps samples per rollout ≤ MAX_COUNT as well (a derived
    rollout_batch_size takes DEFAULT_STEPS_PER_ROLLOUT global batches, rounded up)."""
    from gym.slime.config import DEFAULT_STEPS_PER_ROLLOUT

    c = r.config

    def fits(v: int) -> int:
        return max(1, MAX_COUNT // v) if 0 < v <= MAX_COUNT else 1

    if name == "rollout_batch_size":
        return fits(c.n_samples_per_prompt)
    if name == "n_samples_per_prompt":
        if "rollout_batch_size" in r.derived:  # it is up to global_batch_size prompts
            return max(1, MAX_COUNT // (2 * DEFAULT_STEPS_PER_ROLLOUT * max(c.global_batch_size, 1)))
        return fits(c.rollout_batch_size)
    if name == "global_batch_size" and "rollout_batch_size" in r.derived:
        return MAX_COUNT // (2 * DEFAULT_STEPS_PER_ROLLOUT)
    return MAX_COUNT


@rule
def seed_in_range(r: Resolved) -> Iterator[Problem]:
    """0 ≤ seed and seed + 100 × (PP − 1) ≤ 2**32 − 1 (numpy's seed range; Megatron adds 100 per stage)."""
    problem_ = seed_problem(r.config.seed, "seed", offset=100 * max(r.layout.pp - 1, 0))
    if problem_:
        yield problem_


def seed_problem(seed: int, name: str = "seed", offset: int = 0) -> Problem | None:
    """The problem of a seed outside 0..NUMPY_SEED_MAX − offset, or None (also the CLI's --seed)."""
    top = NUMPY_SEED_MAX - offset
    if 0 <= seed <= top:
        return None
    return Problem((name,), f"0 ≤ {name} ≤ {top:,} must hold (numpy's seed range 0..2**32 − 1"
                   + (f", minus Megatron's {offset} for the pipeline stages" if offset else "") + f"); {name}={seed}",
                   fixes(name, [min(max(seed, 0), top)]))


# ---- Cluster and Modal limits --------------------------------------------------------------------

@rule
def gpu_type_known(r: Resolved) -> Iterator[Problem]:
    """gpu_type is a Modal GPU type the pinned slime image runs on (H100, H200)."""
    gpu = r.config.gpu_type
    if gpu in SLIME_IMAGE_GPU_TYPES:
        return
    import difflib

    if gpu in MODAL_GPU_TYPES:
        msg = f"gpu_type={gpu!r} is a Modal GPU, but the pinned slime image supports {', '.join(SLIME_IMAGE_GPU_TYPES)}"
    else:
        msg = f"gpu_type={gpu!r} is not a Modal GPU type (known: {', '.join(MODAL_GPU_TYPES)})"
    close = difflib.get_close_matches(str(gpu).upper(), SLIME_IMAGE_GPU_TYPES, n=2, cutoff=0.0)
    yield problem("gpu_type", msg, fixes("gpu_type", close))


@rule
def gpus_per_node_limit(r: Resolved) -> Iterator[Problem]:
    """Modal: at most 8 GPUs per container; a multi-node cluster takes whole 8-GPU hosts."""
    gpn, nodes = r.config.gpus_per_node, r.config.num_nodes
    if gpn > MODAL_MAX_GPUS_PER_CONTAINER:
        yield problem("gpus_per_node", f"gpus_per_node={gpn} must be ≤ {MODAL_MAX_GPUS_PER_CONTAINER} "
                      "(Modal's limit per container)", fixes("gpus_per_node", [8]))
    elif nodes > 1 and gpn != MODAL_MAX_GPUS_PER_CONTAINER:
        yield problem(("gpus_per_node", "num_nodes"),
                      f"gpus_per_node={gpn} must be 8 when num_nodes={nodes} > 1 (Modal clusters "
                      "reserve whole 8-GPU hosts)", [Fix({"gpus_per_node": 8}), Fix({"num_nodes": 1})])


MODAL_MAX_CLUSTER_NODES = 32
MODAL_MAX_CLUSTER_GPUS = 256
"""Modal's largest multi-node cluster: "Up to 32 nodes and 256 GPUs per cluster. Contact us for even
larger clusters." (modal.com/docs/guide/multi-node-clusters)."""


@rule
def cluster_within_modal_limit(r: Resolved) -> Iterator[Problem]:
    """num_nodes ≤ 32 and num_nodes × gpus_per_node ≤ 256: Modal's largest cluster."""
    nodes, gpn = r.config.num_nodes, r.config.gpus_per_node
    if nodes > MODAL_MAX_CLUSTER_NODES or nodes * gpn > MODAL_MAX_CLUSTER_GPUS:
        yield problem("num_nodes", f"num_nodes × gpus_per_node = {nodes:,} × {gpn} = {nodes * gpn:,} GPUs: Modal's "
                      f"clusters hold at most {MODAL_MAX_CLUSTER_NODES} nodes and {MODAL_MAX_CLUSTER_GPUS} GPUs "
                      "(modal.com/docs/guide/multi-node-clusters; larger ones by arrangement with Modal)",
                      fixes("num_nodes", [min(MODAL_MAX_CLUSTER_NODES, MODAL_MAX_CLUSTER_GPUS // max(gpn, 1))]))


@rule
def colocated_rollout_gpus(r: Resolved) -> Iterator[Problem]:
    """Colocated: rollout runs on the training GPUs. slime's placement group holds max(training GPUs,
    rollout_num_gpus) GPUs (slime/ray/placement_group.py `_get_placement_group_layout`), so more rollout
    GPUs than the cluster has cannot be placed (error); fewer are placed on the first GPUs and the rest
    sit idle while generating (warning)."""
    c, lay = r.config, r.layout
    if not c.colocate or c.rollout_num_gpus == lay.cluster_gpus:
        return
    if c.rollout_num_gpus > lay.cluster_gpus:
        yield problem(("rollout_num_gpus", "colocate"),
                      f"colocate=True runs rollout on the training GPUs: rollout_num_gpus={c.rollout_num_gpus} "
                      f"must be ≤ num_nodes × gpus_per_node = {c.num_nodes} × {c.gpus_per_node} = "
                      f"{lay.cluster_gpus} (slime places max(training, rollout) GPUs)",
                      [Fix({"rollout_num_gpus": None}), Fix({"colocate": False})])
    else:
        idle = lay.cluster_gpus - c.rollout_num_gpus
        yield problem(("rollout_num_gpus", "colocate"),
                      f"colocate=True with rollout_num_gpus={c.rollout_num_gpus} < num_nodes × gpus_per_node = "
                      f"{lay.cluster_gpus}: slime places the engines on the first {c.rollout_num_gpus} GPUs and "
                      f"{idle} GPU(s) sit idle while generating", [Fix({"rollout_num_gpus": None})],
                      severity="warning")


@rule
def split_rollout_gpus(r: Resolved) -> Iterator[Problem]:
    """Not colocated: 0 < rollout_num_gpus < cluster GPUs, and on several nodes training
    keeps whole nodes (rollout_num_gpus a multiple of gpus_per_node)."""
    c, lay = r.config, r.layout
    if c.colocate:
        return
    gpn, total = c.gpus_per_node, lay.cluster_gpus
    options = [g for g in range(gpn if c.num_nodes > 1 else 1, total, gpn if c.num_nodes > 1 else 1)]
    if not 0 < c.rollout_num_gpus < total:
        fix = [Fix({"rollout_num_gpus": g}) for g in nearest(options, c.rollout_num_gpus)] if options else []
        fix.append(Fix({"num_nodes": c.num_nodes + max(1, -(-c.rollout_num_gpus // gpn))}))
        yield problem(("rollout_num_gpus", "num_nodes"),
                      f"colocate=False needs GPUs for both pools: 0 < rollout_num_gpus < num_nodes × "
                      f"gpus_per_node must hold; rollout_num_gpus={c.rollout_num_gpus}, num_nodes × "
                      f"gpus_per_node = {c.num_nodes} × {gpn} = {total}, leaving {lay.train_gpus} "
                      "training GPUs", fix)
    elif c.num_nodes > 1 and c.rollout_num_gpus % gpn:
        yield problem("rollout_num_gpus",
                      f"on {c.num_nodes} nodes training must keep whole nodes: rollout_num_gpus="
                      f"{c.rollout_num_gpus} must be a multiple of gpus_per_node={gpn}",
                      fixes("rollout_num_gpus", nearest(options, c.rollout_num_gpus)))


@rule
def train_script_matches_layout(r: Resolved) -> Iterator[Problem]:
    """train_script ∈ {train.py, train_async.py}; train_async.py needs colocate=False (slime asserts it)."""
    script, colocate = r.config.train_script, r.config.colocate
    if script is None:
        return
    if script not in TRAIN_SCRIPTS:
        yield problem("train_script", f"train_script={script!r} must be one of {', '.join(TRAIN_SCRIPTS)}",
                      fixes("train_script", [None, *TRAIN_SCRIPTS]))
    elif script == "train_async.py" and colocate:
        yield problem(("train_script", "colocate"),
                      "train_async.py overlaps rollout and training, so it needs colocate=False",
                      [Fix({"colocate": False}), Fix({"train_script": "train.py"})])


# ---- Parallelism ---------------------------------------------------------------------------------

def _mp_fixes(r: Resolved, name: str, ok: Callable[[int], bool]) -> tuple[Fix, ...]:
    candidates = [v for v in (1, 2, 4, 8, 16) if ok(v)]
    return fixes(name, nearest(candidates, getattr(r.config, name)))


@rule
def world_divisible(r: Resolved) -> Iterator[Problem]:
    """Megatron: W % (TP·PP·CP) == 0, W = training GPUs; DP = W / (TP·PP·CP)."""
    lay = r.layout
    if lay.train_gpus > 0 and lay.train_gpus % lay.model_parallel:
        yield problem(("tensor_model_parallel_size", "pipeline_model_parallel_size", "context_parallel_size"),
                      f"training GPUs W={lay.train_gpus} must be divisible by TP × PP × CP = {lay.tp} × "
                      f"{lay.pp} × {lay.cp} = {lay.model_parallel}",
                      _mp_fixes(r, "tensor_model_parallel_size",
                                lambda v: lay.train_gpus % (v * lay.pp * lay.cp) == 0))


@rule
def expert_world_divisible(r: Resolved) -> Iterator[Problem]:
    """Megatron: W % (ETP·EP·PP) == 0 (ETP defaults to TP)."""
    lay = r.layout
    size = lay.etp * lay.ep * lay.pp
    if not r.model.architecture.is_moe and lay.ep == 1:
        return  # dense: the same as world_divisible without CP, which reports it
    if lay.train_gpus > 0 and lay.train_gpus % size:
        yield problem(("expert_model_parallel_size", "expert_tensor_parallel_size"),
                      f"training GPUs W={lay.train_gpus} must be divisible by ETP × EP × PP = {lay.etp} × "
                      f"{lay.ep} × {lay.pp} = {size} (ETP defaults to TP)",
                      _mp_fixes(r, "expert_model_parallel_size",
                                lambda v: lay.train_gpus % (lay.etp * v * lay.pp) == 0)
                      + ((Fix({"expert_tensor_parallel_size": 1}),)
                         if lay.etp > 1 and lay.train_gpus % (lay.ep * lay.pp) == 0 else ()))


@rule
def heads_divisible_by_tp(r: Resolved) -> Iterator[Problem]:
    """Megatron: num_attention_heads % TP == 0."""
    heads, tp = r.model.architecture.num_attention_heads, r.layout.tp
    if heads % tp:
        yield problem("tensor_model_parallel_size",
                      f"{r.model.short_name} has num_attention_heads={heads}, which must be divisible by TP={tp}",
                      _mp_fixes(r, "tensor_model_parallel_size", lambda v: heads % v == 0))


@rule
def kv_groups_vs_tp(r: Resolved) -> Iterator[Problem]:
    """Megatron: num_query_groups % TP == 0 or TP % num_query_groups == 0."""
    groups, tp = r.model.architecture.num_query_groups, r.layout.tp
    if groups % tp and tp % groups:
        yield problem("tensor_model_parallel_size",
                      f"{r.model.short_name} has num_query_groups={groups}: groups % TP == 0 or TP % groups "
                      f"== 0 must hold for TP={tp}",
                      _mp_fixes(r, "tensor_model_parallel_size", lambda v: groups % v == 0 or v % groups == 0))


@rule
def layers_divisible_by_pp(r: Resolved) -> Iterator[Problem]:
    """Megatron: num_layers % PP == 0 (gym does not set uneven pipeline stages)."""
    layers, pp = r.model.architecture.num_layers, r.layout.pp
    if layers % pp:
        yield problem("pipeline_model_parallel_size",
                      f"{r.model.short_name} has num_layers={layers}, which must be divisible by PP={pp}",
                      _mp_fixes(r, "pipeline_model_parallel_size", lambda v: layers % v == 0))


@rule
def experts_divisible_by_ep(r: Resolved) -> Iterator[Problem]:
    """Megatron: EP > 1 needs an MoE model with num_experts % EP == 0."""
    arch, ep = r.model.architecture, r.layout.ep
    if ep == 1:
        return
    if not arch.is_moe:
        yield problem("expert_model_parallel_size",
                      f"expert_model_parallel_size={ep} needs a mixture-of-experts model; "
                      f"{r.model.short_name} is dense", fixes("expert_model_parallel_size", [1]))
    elif arch.num_experts % ep:
        yield problem("expert_model_parallel_size",
                      f"{r.model.short_name} has num_experts={arch.num_experts}, which must be divisible by EP={ep}",
                      _mp_fixes(r, "expert_model_parallel_size", lambda v: arch.num_experts % v == 0))


@rule
def seq_length_vs_cp(r: Resolved) -> Iterator[Problem]:
    """Megatron: CP > 1 needs seq_length % (2·CP) == 0 (slime's seq_length is 4096)."""
    cp = r.layout.cp
    if cp > 1 and MEGATRON_SEQ_LENGTH % (2 * cp):
        yield problem("context_parallel_size",
                      f"seq_length={MEGATRON_SEQ_LENGTH} must be divisible by 2 × CP = {2 * cp}",
                      _mp_fixes(r, "context_parallel_size", lambda v: MEGATRON_SEQ_LENGTH % (2 * v) == 0))


@rule
def tp_within_node(r: Resolved) -> Iterator[Problem]:
    """Warning: TP > gpus_per_node sends tensor-parallel traffic across nodes (slow)."""
    if r.layout.tp > r.config.gpus_per_node:
        yield problem("tensor_model_parallel_size",
                      f"TP={r.layout.tp} > gpus_per_node={r.config.gpus_per_node}: every layer's all-reduce "
                      "crosses nodes; prefer PP or CP across nodes",
                      fixes("tensor_model_parallel_size", [r.config.gpus_per_node]), severity="warning")


@rule
def sequence_parallel_needs_tp(r: Resolved) -> Iterator[Problem]:
    """Warning: sequence_parallel with TP = 1 is silently ignored by Megatron."""
    if r.config.sequence_parallel and r.layout.tp == 1:
        yield problem("sequence_parallel", "sequence_parallel=True has no effect with TP=1 (Megatron turns it off)",
                      fixes("sequence_parallel", [False]), severity="warning")


# ---- Batch sizes ---------------------------------------------------------------------------------

def _valid_gbs(r: Resolved) -> list[int]:
    """Global batch sizes that satisfy both batch rules for the current samples per rollout."""
    unit = r.config.micro_batch_size * (r.layout.dp or 1)
    return [d for d in divisors(r.samples_per_rollout) if d % unit == 0]


@rule
def global_batch_multiple_of_dp(r: Resolved) -> Iterator[Problem]:
    """Megatron: global_batch_size % (micro_batch_size × DP) == 0 (checked even with dynamic batching)."""
    c, dp = r.config, r.layout.dp
    if dp is None:
        return
    unit = c.micro_batch_size * dp
    if c.global_batch_size % unit:
        both = nearest(_valid_gbs(r), c.global_batch_size)
        fix = fixes("global_batch_size", both or nearest_multiples(c.global_batch_size, unit))
        if not both:  # no global batch fits these samples per rollout: change both numbers together
            n = c.n_samples_per_prompt
            for g in nearest_multiples(c.global_batch_size, unit, count=2):
                step = g // _gcd(g, n)
                rbs = max(step, round(c.rollout_batch_size / step) * step)
                fix += (Fix({"global_batch_size": g, "rollout_batch_size": rbs}),)
        yield problem(("global_batch_size", "micro_batch_size"),
                      f"global_batch_size={c.global_batch_size} must be a multiple of micro_batch_size × DP "
                      f"= {c.micro_batch_size} × {dp}", fix)


@rule
def samples_fill_whole_steps(r: Resolved) -> Iterator[Problem]:
    """slime cuts a rollout into rollout samples // global_batch_size optimizer steps and asserts at
    least one (slime/utils/dp_schedule.py: `num_steps = len(rollout_ids) // global_batch_size`,
    `assert num_steps >= 1`): fewer samples than one step is an error; a remainder is dropped
    (trained on by no step), a warning that says how many."""
    c = r.config
    s, gbs, n = r.samples_per_rollout, c.global_batch_size, c.n_samples_per_prompt
    if s % gbs == 0:
        return
    unit = gbs // _gcd(gbs, n)
    rbs_options = nearest_multiples(c.rollout_batch_size, unit)
    gbs_options = nearest(_valid_gbs(r), gbs)
    fields = ("global_batch_size", "rollout_batch_size", "n_samples_per_prompt")
    formula = f"rollout_batch_size × n_samples_per_prompt = {c.rollout_batch_size} × {n} = {s}"
    fix = fixes("global_batch_size", gbs_options) + fixes("rollout_batch_size", rbs_options)
    if s < gbs:
        yield problem(fields, f"{formula} must be ≥ global_batch_size={gbs}: slime needs at least one optimizer "
                              "step per rollout (it asserts num_steps ≥ 1)", fix)
    else:
        dropped = s % gbs
        yield problem(fields, f"{formula} is not a multiple of global_batch_size={gbs}: {s // gbs} step(s) per "
                              f"rollout, and {dropped} of {s} samples ({dropped / s:.0%}) are generated and then "
                              "dropped every rollout", fix, severity="warning")


def _gcd(a: int, b: int) -> int:
    import math

    return math.gcd(a, b)


@rule
def dynamic_batch_needs_token_cap(r: Resolved) -> Iterator[Problem]:
    """slime: use_dynamic_batch_size needs max_tokens_per_gpu."""
    c = r.config
    if c.use_dynamic_batch_size and c.max_tokens_per_gpu is None:
        yield problem(("max_tokens_per_gpu", "use_dynamic_batch_size"),
                      "use_dynamic_batch_size=True needs max_tokens_per_gpu",
                      [Fix({"max_tokens_per_gpu": _token_cap(r)}), Fix({"use_dynamic_batch_size": False})])


def _token_cap(r: Resolved) -> int:
    """The smallest multiple of 1024 tokens that holds the longest sample on one GPU (CP shares it)."""
    longest = r.config.rollout_max_response_len + (r.config.rollout_max_prompt_len or 0)
    per_gpu = -(-longest // r.layout.cp)
    return -(-per_gpu // 1024) * 1024


@rule
def sample_fits_token_cap(r: Resolved) -> Iterator[Problem]:
    """Warning: a sample longer than max_tokens_per_gpu × CP still forms its own micro-batch (OOM risk)."""
    c, cp = r.config, r.layout.cp
    if not c.use_dynamic_batch_size or c.max_tokens_per_gpu is None:
        return
    longest = c.rollout_max_response_len + (c.rollout_max_prompt_len or 0)
    if c.max_tokens_per_gpu * cp < longest:
        yield problem(("max_tokens_per_gpu", "rollout_max_response_len"),
                      f"max_tokens_per_gpu × CP = {c.max_tokens_per_gpu} × {cp} is below the longest sample "
                      f"({'prompt + ' if c.rollout_max_prompt_len else ''}response = {longest} tokens): such "
                      "samples exceed the per-GPU token budget (OOM risk)",
                      fixes("max_tokens_per_gpu", [_token_cap(r)]), severity="warning")


@rule
def lr_warmup_within_run(r: Resolved) -> Iterator[Problem]:
    """Megatron: lr_warmup_iters < train_iters = num_rollout × samples per rollout // global_batch_size."""
    c = r.config
    total = c.num_rollout * r.steps_per_rollout
    if total and c.lr_warmup_iters >= total:
        yield problem("lr_warmup_iters", f"lr_warmup_iters={c.lr_warmup_iters} must be < total optimizer steps "
                      f"= num_rollout × steps per rollout = {c.num_rollout} × {r.steps_per_rollout} = {total}",
                      fixes("lr_warmup_iters", [0, total // 10]))


@rule
def group_needs_two_samples(r: Resolved) -> Iterator[Problem]:
    """GRPO-style estimators need n_samples_per_prompt ≥ 2: the advantage is the reward minus its
    group's mean, 0 for a group of one (slime turns the std normalisation off when
    n_samples_per_prompt == 1, slime/utils/arguments.py, so nothing divides by the undefined std)."""
    c = r.config
    if c.advantage_estimator in GROUP_ESTIMATORS and c.n_samples_per_prompt < 2:
        yield problem("n_samples_per_prompt",
                      f"{c.advantage_estimator} compares samples of the same prompt: n_samples_per_prompt="
                      f"{c.n_samples_per_prompt} must be ≥ 2: each advantage is the reward minus its group's mean, "
                      "which for a group of one is the reward itself, so every advantage is 0 and the policy "
                      "gradient is 0 (slime turns the std normalisation off at n=1): nothing is learned",
                      fixes("n_samples_per_prompt", [4, 8, 16]))


@rule
def sample_fits_context(r: Resolved) -> Iterator[Problem]:
    """rollout prompt + response ≤ the model's context (max_position_embeddings)."""
    c, limit = r.config, r.model.architecture.max_position_embeddings
    longest = c.rollout_max_response_len + (c.rollout_max_prompt_len or 0)
    if longest > limit:
        yield problem(("rollout_max_response_len", "rollout_max_prompt_len"),
                      f"prompt + response = {longest} tokens must fit the model's context of {limit} tokens",
                      fixes("rollout_max_response_len", [limit - (c.rollout_max_prompt_len or 0)]))


# ---- Rollout engines -----------------------------------------------------------------------------

@rule
def engine_fits_nodes(r: Resolved) -> Iterator[Problem]:
    """An SGLang engine lies within a node (gpus_per_node % g == 0) or spans whole nodes (g % gpus_per_node == 0)."""
    g, gpn = r.layout.engine_gpus, r.config.gpus_per_node
    if (g <= gpn and gpn % g) or (g > gpn and g % gpn):
        ok = [v for v in (1, 2, 4, 8, 16, 32) if (v <= gpn and gpn % v == 0) or (v > gpn and v % gpn == 0)]
        yield problem("rollout_num_gpus_per_engine",
                      f"rollout_num_gpus_per_engine={g} must divide gpus_per_node={gpn} or be a multiple of it",
                      fixes("rollout_num_gpus_per_engine", nearest(ok, g)))


@rule
def engines_use_all_rollout_gpus(r: Resolved) -> Iterator[Problem]:
    """slime floors rollout_num_gpus / rollout_num_gpus_per_engine: leftover GPUs would sit idle."""
    lay = r.layout
    g = lay.engine_gpus
    if lay.rollout_gpus > 0 and lay.rollout_gpus % g:
        yield problem(("rollout_num_gpus_per_engine", "rollout_num_gpus"),
                      f"rollout_num_gpus={lay.rollout_gpus} must be a multiple of rollout_num_gpus_per_engine={g}: "
                      f"{lay.num_engines} engine(s) use {lay.num_engines * g} GPUs and {lay.idle_rollout_gpus} sit idle",
                      fixes("rollout_num_gpus_per_engine", [d for d in divisors(lay.rollout_gpus) if d <= 8][-3:]))


@rule
def engine_heads_divisible(r: Resolved) -> Iterator[Problem]:
    """SGLang shards attention heads over the engine's GPUs: num_attention_heads % engine size == 0."""
    heads, g = r.model.architecture.num_attention_heads, r.layout.engine_gpus
    if heads % g:
        yield problem("rollout_num_gpus_per_engine",
                      f"{r.model.short_name} has num_attention_heads={heads}, which must be divisible by "
                      f"rollout_num_gpus_per_engine={g} (SGLang tensor parallelism)",
                      fixes("rollout_num_gpus_per_engine", nearest([d for d in divisors(heads) if d <= 8], g)))


def _perf_problems(r: Resolved, rule_name: str) -> list[Problem]:
    """The performance model's memory verdicts of one kind (gym.perf.verdict). Silent when the
    model has nothing to say: a GPU without specs or a broken count is reported by its own rule."""
    from gym.errors import ConfigError
    from gym.perf import estimate_resolved

    try:
        estimate = estimate_resolved(r)
    except (ConfigError, ArithmeticError, TypeError, ValueError):
        return []
    return [p for p in estimate.problems if p.rule == rule_name]


@rule
def memory_fraction_range(r: Resolved) -> Iterator[Problem]:
    """0 < sglang_mem_fraction_static < 1; colocated, SGLang's share + Megatron's sleeping residual
    + CUDA graphs must fit the GPU (error) and stay under 90% of it (warning) — the model's verdict."""
    f = r.config.sglang_mem_fraction_static
    if not 0 < f < 1:
        yield problem("sglang_mem_fraction_static", f"0 < sglang_mem_fraction_static < 1 must hold; it is {f}",
                      fixes("sglang_mem_fraction_static", [0.7]))
        return
    yield from _perf_problems(r, "memory_fraction_range")


@rule
def memory_fits(r: Resolved) -> Iterator[Problem]:
    """Training memory per GPU (gym.perf): weights + grads + optimizer + activations + fp32 logits +
    overhead ≤ the GPU (error, with the breakdown and fixes that fit); above 90% of it: warning."""
    yield from _perf_problems(r, "memory_fits")


@rule
def kv_pool_fits(r: Resolved) -> Iterator[Problem]:
    """SGLang's KV pool (fraction × free − weights) holds at least one sample of maximum length."""
    if 0 < r.config.sglang_mem_fraction_static < 1:
        yield from _perf_problems(r, "kv_pool_fits")


@rule
def temperature_positive(r: Resolved) -> Iterator[Problem]:
    """rollout_temperature > 0 (the pinned slime does not check it; slime added the check on 2026-08-21)."""
    t = r.config.rollout_temperature
    if t <= 0:
        yield problem("rollout_temperature", f"rollout_temperature={t} must be > 0 (GRPO needs diverse samples)",
                      fixes("rollout_temperature", [1.0]))


@rule
def weights_interval_only_async(r: Resolved) -> Iterator[Problem]:
    """Warning: update_weights_interval only matters when rollout has its own GPUs (train_async.py)."""
    if r.config.update_weights_interval != 1 and r.train_script == "train.py":
        yield problem("update_weights_interval",
                      f"update_weights_interval={r.config.update_weights_interval} is ignored by train.py "
                      "(weights are pushed after every rollout)", fixes("update_weights_interval", [1]),
                      severity="warning")


# ---- Algorithm -----------------------------------------------------------------------------------

def _choice(r: Resolved, name: str, choices: tuple[str, ...]) -> Iterator[Problem]:
    import difflib

    value = getattr(r.config, name)
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=3, cutoff=0.0)
        yield problem(name, f"{name}={value!r} must be one of {', '.join(choices)}", fixes(name, close))


@rule
def known_choices(r: Resolved) -> Iterator[Problem]:
    """Enumerated fields hold one of slime's (or Megatron's) choices."""
    yield from _choice(r, "advantage_estimator", ADVANTAGE_ESTIMATORS)
    yield from _choice(r, "kl_loss_type", KL_LOSS_TYPES)
    yield from _choice(r, "lr_decay_style", LR_DECAY_STYLES)
    if r.config.recompute_granularity is not None:
        yield from _choice(r, "recompute_granularity", RECOMPUTE_GRANULARITIES)
    if r.config.recompute_method is not None:
        yield from _choice(r, "recompute_method", RECOMPUTE_METHODS)


@rule
def recompute_settings(r: Resolved) -> Iterator[Problem]:
    """Megatron: full recompute needs a method and a layer count; selective needs neither."""
    c = r.config
    if c.recompute_granularity == "full" and (c.recompute_method is None or c.recompute_num_layers is None):
        yield problem(("recompute_method", "recompute_num_layers"),
                      "recompute_granularity='full' needs recompute_method and recompute_num_layers",
                      [Fix({"recompute_method": "uniform", "recompute_num_layers": 1})])
    if c.recompute_granularity in ("selective", "off") and (c.recompute_method or c.recompute_num_layers):
        yield problem(("recompute_method", "recompute_num_layers"),
                      f"recompute_granularity={c.recompute_granularity!r} takes no recompute_method or "
                      "recompute_num_layers",
                      [Fix({"recompute_method": None, "recompute_num_layers": None})])


@rule
def reinforce_needs_normalization(r: Resolved) -> Iterator[Problem]:
    """slime: reinforce_plus_plus(_baseline) needs normalize_advantages."""
    c = r.config
    if c.advantage_estimator.startswith("reinforce_plus_plus") and not c.normalize_advantages:
        yield problem(("normalize_advantages", "advantage_estimator"),
                      f"advantage_estimator={c.advantage_estimator!r} needs normalize_advantages=True",
                      fixes("normalize_advantages", [True]))


@rule
def kl_exclusive(r: Resolved) -> Iterator[Problem]:
    """slime: only one of kl_coef (reward shaping) and kl_loss_coef (loss) may be non-zero."""
    c = r.config
    if c.kl_coef != 0 and c.kl_loss_coef != 0:
        yield problem(("kl_coef", "kl_loss_coef"),
                      f"kl_coef={c.kl_coef} and kl_loss_coef={c.kl_loss_coef}: at most one may be non-zero",
                      [Fix({"kl_coef": 0.0}), Fix({"kl_loss_coef": 0.0})])


@rule
def kl_needs_reference(r: Resolved) -> Iterator[Problem]:
    """slime: use_kl_loss or kl_coef ≠ 0 needs ref_load (the frozen reference weights)."""
    c = r.config
    if (c.use_kl_loss or c.kl_coef != 0) and not c.ref_load:
        yield problem(("ref_load", "use_kl_loss"), "use_kl_loss=True or kl_coef ≠ 0 needs ref_load (reference weights)",
                      [Fix({"ref_load": r.model.model_name}), Fix({"use_kl_loss": False, "kl_coef": 0.0})])


@rule
def kl_loss_zero_coefficient(r: Resolved) -> Iterator[Problem]:
    """Warning: use_kl_loss with kl_loss_coef = 0 loads the reference model only to log KL."""
    c = r.config
    if c.use_kl_loss and c.kl_loss_coef == 0:
        yield problem(("use_kl_loss", "kl_loss_coef"),
                      "use_kl_loss=True with kl_loss_coef=0 loads the reference model onto the training GPUs "
                      "only to log KL (memory and time)", [Fix({"use_kl_loss": False}), Fix({"kl_loss_coef": 0.001})],
                      severity="warning")


@rule
def clip_range(r: Resolved) -> Iterator[Problem]:
    """PPO clipping: 0 < eps_clip ≤ eps_clip_high."""
    c = r.config
    if not 0 < c.eps_clip <= c.eps_clip_high:
        yield problem(("eps_clip", "eps_clip_high"),
                      f"0 < eps_clip ≤ eps_clip_high must hold; eps_clip={c.eps_clip}, eps_clip_high={c.eps_clip_high}",
                      [Fix({"eps_clip": 0.2, "eps_clip_high": 0.28})])


@rule
def lr_decay_not_linear(r: Resolved) -> Iterator[Problem]:
    """Warning: linear decay takes the LR to 0 by the last rollout."""
    if r.config.lr_decay_style == "linear":
        yield problem("lr_decay_style", "lr_decay_style='linear' decays the LR to 0 over the run "
                      "(slime's scripts use 'constant')", fixes("lr_decay_style", ["constant"]), severity="warning")


# ---- Reward --------------------------------------------------------------------------------------

@rule
def reward_defined(r: Resolved) -> Iterator[Problem]:
    """A reward: rm_type ∈ slime's built-ins (optionally boxed_<type>) or custom_rm_path."""
    c = r.config
    if c.custom_rm_path:
        return
    if not c.rm_type:
        yield problem(("rm_type", "custom_rm_path"), "set rm_type (a slime built-in) or custom_rm_path",
                      fixes("rm_type", ["math"]))
        return
    base = c.rm_type.removeprefix("boxed_")
    if base not in RM_TYPES:
        import difflib

        close = difflib.get_close_matches(base, RM_TYPES, n=3, cutoff=0.0)
        yield problem("rm_type", f"rm_type={c.rm_type!r} must be one of {', '.join(RM_TYPES)} "
                      "(optionally with a 'boxed_' prefix)", fixes("rm_type", close))
    elif base == "remote_rm" and not c.rm_url:
        yield problem(("rm_url", "rm_type"), "rm_type='remote_rm' needs rm_url")


@rule
def reward_needs_label(r: Resolved) -> Iterator[Problem]:
    """Reward types that compare with a reference answer need the dataset's label_key."""
    c = r.config
    if not c.custom_rm_path and c.rm_type and c.rm_type.removeprefix("boxed_") in LABELLED_RM_TYPES \
            and not r.dataset.label_key:
        yield problem(("dataset", "rm_type"), f"rm_type={c.rm_type!r} compares against a label, but the dataset "
                      f"{r.dataset.name!r} has label_key={r.dataset.label_key!r}")


@rule
def custom_reward_importable(r: Resolved) -> Iterator[Problem]:
    """custom_rm_path is "module.function", importable here (gym ships it), and `async def`."""
    path = r.config.custom_rm_path
    if not path:
        return
    module, _, func = path.rpartition(".")
    if not module or not func:
        yield problem("custom_rm_path", f"custom_rm_path={path!r} must be 'module.function'")
        return
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        yield problem("custom_rm_path", f"custom_rm_path={path!r}: module {module!r} is not importable here, so gym "
                      "cannot ship it to Modal; put it in a .py file on sys.path (e.g. next to the notebook)")
        return
    try:
        fn = getattr(importlib.import_module(module), func, None)
    except (Exception, SystemExit) as err:  # the user's module: a syntax error, a failing import, an exit
        yield problem("custom_rm_path", f"custom_rm_path={path!r}: importing {module!r} failed: {_import_error(err)}")
        return
    if fn is None:
        yield problem("custom_rm_path", f"custom_rm_path={path!r}: module {module!r} has no {func!r}")
    elif not inspect.iscoroutinefunction(fn):
        yield problem("custom_rm_path", f"custom_rm_path={path!r} must be `async def {func}(args, sample, **kwargs)`: "
                      "slime awaits it")


def _import_error(err: BaseException) -> str:
    """Where and why a module failed to import: the file and line (of a syntax error, or the module's
    own frame nearest the failure), then the exception, without a traceback."""
    import traceback

    if isinstance(err, SyntaxError):
        return f"{err.filename} line {err.lineno}: SyntaxError: {err.msg}"
    frames = [f for f in traceback.extract_tb(err.__traceback__) if "importlib" not in f.filename]
    where = f"{frames[-1].filename} line {frames[-1].lineno}: " if frames else ""
    return f"{where}{type(err).__name__}: {err}"


@rule
def no_credentials_in_urls(r: Resolved) -> Iterator[Problem]:
    """With W&B logging on, rm_url and extra_args values carry no credentials (user:password@, ?token=):
    slime logs its arguments, --rm-url included, to the W&B run config. gym masks them wherever it
    prints them (gym.secrets.redact)."""
    from gym.secrets import has_credentials

    if r.config.wandb is None:
        return
    url = r.config.rm_url
    if url and has_credentials(url):
        yield problem(("rm_url", "wandb"), f"rm_url={redact(url)!r} carries credentials, and slime logs its arguments "
                      "(--rm-url too) to the W&B run config: serve the reward model without credentials in its URL, "
                      "or score in a custom_rm_path function that reads its key from the environment, or turn W&B "
                      "off", [Fix({"wandb": None})])
    for value in r.config.extra_args:
        if isinstance(value, str) and has_credentials(value):
            yield problem(("extra_args", "wandb"), f"extra_args value {redact(value)!r} carries credentials, and slime "
                          "logs its arguments to the W&B run config: pass the service a URL without them, or turn "
                          "W&B off", [Fix({"wandb": None})])


# ---- Data, eval, logging, checkpoints ------------------------------------------------------------

@rule
def dataset_files(r: Resolved) -> Iterator[Problem]:
    """prompt_data and eval files are .parquet/.jsonl; eval_prompt_data is name/path pairs; input_key set."""
    ds = r.dataset
    if not ds.input_key:
        yield problem("dataset", f"dataset {ds.name!r} needs input_key (the prompt column)")
    if not str(ds.prompt_data).endswith(FORMATS):
        yield problem("dataset", f"prompt_data={ds.prompt_data!r} must end with {' or '.join(FORMATS)}")
    evals = ds.eval_prompt_data or []
    if len(evals) % 2:
        yield problem("dataset", f"eval_prompt_data={evals!r} must be name/path pairs (an even count)")
    for path in evals[1::2]:
        if not str(path).endswith(FORMATS):
            yield problem("dataset", f"eval file {path!r} must end with {' or '.join(FORMATS)}")
    if isinstance(ds, LocalDataset):
        from pathlib import Path

        for src in (ds.source, ds.eval_source):
            if src and not Path(src).is_file():
                yield problem("dataset", f"local dataset file {src!r} " + ("is a folder, not a file"
                                                                          if Path(src).is_dir() else "does not exist"))


@rule
def eval_needs_data(r: Resolved) -> Iterator[Problem]:
    """slime: eval_interval needs eval data."""
    c = r.config
    if c.eval_interval and not r.dataset.eval_prompt_data:
        yield problem(("eval_interval", "dataset"),
                      f"eval_interval={c.eval_interval} needs eval data, but dataset {r.dataset.name!r} has none",
                      fixes("eval_interval", [None]))


@rule
def wandb_names(r: Resolved) -> Iterator[Problem]:
    """W&B on ⇒ project and group set (slime builds run names from the group and crashes on None)."""
    w = r.config.wandb
    if w is None:
        return
    for name in ("project", "group"):
        if not getattr(w, name):
            yield problem(f"wandb.{name}", f"wandb.{name} must be set when W&B logging is on")
    if not w.secret_name:
        yield problem("wandb.secret_name", "wandb.secret_name must name the Modal secret holding WANDB_API_KEY")


@rule
def run_name_valid(r: Resolved) -> Iterator[Problem]:
    """The run name makes valid Modal names: app `<name>`, volumes `<name>-data`, `<name>-checkpoints`."""
    limit = 64 - max(len(s) for s in VOLUME_SUFFIXES)
    if not MODAL_NAME.match(r.name) or len(r.name) > limit:
        clean = re.sub(r"[^a-zA-Z0-9._-]+", "-", redact(r.name)).strip("-")[:limit] or "run"
        yield problem("name", f"name={r.name!r} must be 1-{limit} characters of letters, digits, '.', '_' or '-' "
                      "(it names the Modal app and volumes)", fixes("name", [clean]))


def is_one_folder_name(name: str) -> bool:
    """`name` is one path component: not '', '.' or '..', and without a separator or NUL (the one
    test of a run name, for this rule and gym.local.folder.run_folder)."""
    return name not in ("", ".", "..") and not any(sep in name for sep in ("/", "\\", "\0"))


@rule
def run_name_one_folder(r: Resolved) -> Iterator[Problem]:
    """The run name is one folder name: the local backend writes runs/<name>/ and clears it to start
    over, so '.', '..', '' or a name with a separator would reach outside runs/ (gym.local.folder)."""
    name = r.name
    if not is_one_folder_name(name):
        clean = re.sub(r"[/\\\0]+", "-", name).strip(".-") or "run"
        yield problem("name", f"name={name!r} must be one folder name: not '.', '..' or empty, and without '/' or "
                      "'\\' (the local run writes runs/<name>/ and clears it to start over)", fixes("name", [clean]))


@rule
def extra_args_known(r: Resolved) -> Iterator[Problem]:
    """extra_args: every flag is known to the pinned slime, not set by gym already, and not a secret.
    A secret flag's value is never repeated: no message or suggestion quotes extra_args then."""
    extra = r.config.extra_args
    if not extra:
        return
    from gym.secrets import is_secret_flag, near_secret_flag
    from gym.slime.argv import build_argv, pinned_flags

    known = pinned_flags()
    ours = {a for a in build_argv(r, include_extra=False) if a.startswith("--")}

    def secret(flag: str) -> bool:
        return is_secret_flag(flag) or (flag not in known and near_secret_flag(flag))

    quotable = not any(a.startswith("--") and secret(a.split("=", 1)[0]) for a in extra)
    for arg in extra:
        if not arg.startswith("--"):
            continue
        flag = arg.split("=", 1)[0]
        if secret(flag):
            yield problem("extra_args", f"{flag} would put a secret on the command line (slime logs its arguments "
                          "to the W&B run config; Ray's dashboard shows the command): remove it and its value. "
                          "gym passes keys as environment variables from Modal secrets (WANDB_API_KEY, HF_TOKEN)")
        elif flag not in known:
            import difflib

            close = difflib.get_close_matches(flag, list(known), n=3)
            hint = "".join(f"; {c} is set by gym: use the SlimeConfig field {c[2:].replace('-', '_')}"
                           for c in close[:1] if c in ours)
            yield problem("extra_args", f"{flag} is not a flag of the pinned slime (it would be silently ignored)"
                          + hint + ("" if quotable else f"; did you mean {' or '.join(close)}?" if close else ""),
                          [Fix({"extra_args": [c if a == arg else a for a in extra]})
                           for c in close if c not in ours and quotable])
        elif flag in ours:
            yield problem("extra_args", f"{flag} is already set by gym from a SlimeConfig field; set that field instead")
