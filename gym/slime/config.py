"""SlimeConfig: one object that describes a slime GRPO run, grouped as slime groups its flags.

Fields follow slime's names where the meaning is slime's. One deliberate exception,
because the seed tutorial depends on it and slime's own name misleads here:

- `num_nodes` is the size of the Modal cluster: every node you pay for.
  `actor_num_nodes` is accepted as the seed tutorial's name for the same number.
  slime's `--actor-num-nodes` counts *training* nodes only; gym derives it. With
  `colocate=False` one node (by default) rolls out and the rest train, so
  `SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False)` is a 4-node cluster that
  runs `--actor-num-nodes 3 ... --rollout-num-gpus 8`. The plan shows both numbers.

Fields left as None are derived (from the model's preset, or from the layout for batch
sizes) and the plan lists them as derived. Values a user sets are checked, never changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import InitVar, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gym.datasets import GSM8K, DatasetConfig
from gym.errors import ConfigError, Problem
from gym.models import ModelConfig, Qwen3_4B, get_model
from gym.secrets import redact
from gym.wandb import WandbConfig

if TYPE_CHECKING:
    from gym.slime.plan import Plan

SEED_SCALING_TABLE: dict[int, tuple[int, int]] = {1: (16, 50), 2: (64, 200), 4: (128, 3000)}
"""Seed tutorial's suggestion, cluster nodes -> (global_batch_size, num_rollout).

Used as the target when those fields are unset; a node count between rows takes the row
below it. The global batch is then snapped to a value the layout accepts."""

DEFAULT_STEPS_PER_ROLLOUT = 4
"""Optimizer steps per rollout aimed at when rollout_batch_size is unset: the seed's
production run does 64 prompts × 8 samples = 512 samples in steps of 128."""

TRAIN_SCRIPTS = ("train.py", "train_async.py")

SEARCH_LIMIT = 100_000
"""The most candidates the global batch derivation tries (an absurd size is reported by the rules)."""


@dataclass
class SlimeConfig:
    """A slime GRPO run: model, data, cluster layout, batch sizes, algorithm, logging.

    Units: nodes are Modal containers; GPUs are GPUs; batch sizes count prompts
    (`rollout_batch_size`) or samples, i.e. responses (`global_batch_size`); lengths are tokens.
    """

    # --- What to train --------------------------------------------------------------------------
    model: ModelConfig | str = field(default_factory=Qwen3_4B)
    """A model preset (gym.models) or its name ("Qwen3-4B")."""
    dataset: DatasetConfig | None = None
    """Prompts and labels; None means gym.datasets.GSM8K()."""
    wandb: WandbConfig | None = None
    """W&B logging; None turns it off."""
    name: str | None = None
    """Run name: names the Modal app and the run's volumes. None derives one from the model,
    dataset, layout and a hash of the settings, so the same config resumes the same run (how long
    it runs and how often it saves or evaluates are not part of the hash: see NOT_IN_FINGERPRINT)."""

    # --- Cluster (None: from the model's preset) --------------------------------------------------
    gpu_type: str | None = None
    """Modal GPU type of every node, e.g. "H100"."""
    num_nodes: int | None = None
    """Nodes in the Modal cluster: all of them, training and rollout (what you pay for)."""
    gpus_per_node: int | None = None
    """GPUs per node (Modal container); multi-node clusters need 8 (a whole host)."""
    colocate: bool | None = None
    """True: training and rollout take turns on the same GPUs (train.py). False: rollout
    runs on its own GPUs (`rollout_num_gpus`), overlapping training (train_async.py)."""
    rollout_num_gpus: int | None = None
    """GPUs that run SGLang rollout engines. Colocated: the training GPUs (leave unset).
    Not colocated: taken from the cluster; default one node (half the node on a 1-node cluster)."""
    rollout_num_gpus_per_engine: int | None = None
    """GPUs per SGLang engine (its tensor parallelism); engines = rollout GPUs / this."""
    actor_num_nodes: InitVar[int | None] = None
    """The seed tutorial's name for `num_nodes` (the cluster size). Not slime's meaning."""

    # --- Parallelism (Megatron) -------------------------------------------------------------------
    tensor_model_parallel_size: int | None = None
    """TP: GPUs that split each layer's matrices (training)."""
    sequence_parallel: bool | None = None
    """Split activations along the sequence across the TP group (needs TP > 1)."""
    pipeline_model_parallel_size: int | None = None
    """PP: GPUs that split the layers into stages."""
    context_parallel_size: int | None = None
    """CP: GPUs that split each long sequence."""
    expert_model_parallel_size: int | None = None
    """EP: GPUs that split a mixture-of-experts layer's experts."""
    expert_tensor_parallel_size: int | None = None
    """TP inside each expert; None: the preset's value, else Megatron's default (= TP)."""

    # --- Batching ---------------------------------------------------------------------------------
    rollout_batch_size: int | None = None
    """Prompts per rollout."""
    n_samples_per_prompt: int | None = None
    """Responses per prompt (the GRPO group size)."""
    global_batch_size: int | None = None
    """Samples (responses) per optimizer step. Samples per rollout must be a multiple of it."""
    micro_batch_size: int = 1
    """Samples per micro-batch per GPU (static batching; Megatron also checks it with dynamic)."""
    num_rollout: int | None = None
    """Rollouts in the whole run (each: generate, score, train)."""
    use_dynamic_batch_size: bool | None = None
    """Pack samples into micro-batches by token count (needs max_tokens_per_gpu)."""
    max_tokens_per_gpu: int | None = None
    """Token budget per GPU per micro-batch with dynamic batching (times CP per micro-batch)."""

    # --- Rollout (SGLang) -------------------------------------------------------------------------
    rollout_max_response_len: int | None = None
    """Longest generated response, in tokens."""
    rollout_max_prompt_len: int | None = None
    """Prompts longer than this (tokens) are dropped at load; None keeps all."""
    rollout_temperature: float = 1.0
    """Sampling temperature (> 0: GRPO needs different answers to compare)."""
    rollout_top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens with this much probability."""
    sglang_mem_fraction_static: float | None = None
    """Share of each rollout GPU's memory SGLang reserves for weights and KV cache."""
    update_weights_interval: int = 1
    """Not colocated: push weights to the engines every this many rollouts (train_async.py)."""

    # --- Algorithm --------------------------------------------------------------------------------
    advantage_estimator: str = "grpo"
    """grpo (group-normalised rewards), gspo, cispo, reinforce_plus_plus(_baseline)."""
    eps_clip: float = 0.2
    """PPO clip below 1: the ratio new/old probability is clipped to ≥ 1 − eps_clip."""
    eps_clip_high: float = 0.28
    """PPO clip above 1 (≥ eps_clip; a higher bound keeps exploring tokens alive)."""
    use_kl_loss: bool = False
    """Add a KL(policy || reference) loss; loads the reference model onto the training GPUs."""
    kl_loss_coef: float = 0.0
    """Weight of the KL loss."""
    kl_loss_type: str = "low_var_kl"
    """KL estimator: k1, k2, k3 or low_var_kl (k3, clamped)."""
    kl_coef: float = 0.0
    """KL as reward shaping (exclusive with kl_loss_coef)."""
    entropy_coef: float = 0.0
    """Weight of an entropy bonus (keeps the policy exploring)."""
    normalize_advantages: bool = False
    """Normalise advantages over the whole batch (required by reinforce_plus_plus)."""
    ref_load: str | None = None
    """Reference/initial weights: the model's HF repo id (or None, the same) or a container path."""

    # --- Optimizer --------------------------------------------------------------------------------
    lr: float = 1e-6
    """Adam learning rate."""
    lr_decay_style: str = "constant"
    """Megatron's own default, linear, decays the LR to 0 over the run; slime's scripts use constant."""
    lr_warmup_iters: int = 0
    """Optimizer steps of linear LR warm-up."""
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    clip_grad: float = 1.0
    """Clip the gradient's global norm to this."""
    optimizer_cpu_offload: bool | None = None
    """Keep Adam's states in host memory (large models on few GPUs)."""
    seed: int = 1234
    """Megatron's random seed."""

    # --- Memory -----------------------------------------------------------------------------------
    recompute_granularity: str | None = None
    """Recompute activations in the backward pass: "full", "selective" or "off" (none)."""
    recompute_method: str | None = None
    """Full recompute: "uniform" or "block"."""
    recompute_num_layers: int | None = None

    # --- Reward -----------------------------------------------------------------------------------
    rm_type: str | None = "math"
    """A slime built-in reward (math, deepscaler, dapo, f1, gpqa, ifbench, random, remote_rm, boxed_*)."""
    custom_rm_path: str | None = None
    """"module.function" of an `async def f(args, sample, **kwargs)` reward; overrides rm_type."""
    rm_url: str | None = None
    reward_key: str | None = None
    """When the reward returns a dict: the key to train on (slime --reward-key)."""

    # --- Eval and checkpoints ---------------------------------------------------------------------
    eval_interval: int | None = None
    """Evaluate every this many rollouts; 0: never; None: 20 when the dataset has eval data, else off."""
    n_samples_per_eval_prompt: int = 1
    """Answers per eval prompt."""
    eval_max_response_len: int | None = None
    """Longest eval response, in tokens; None: rollout_max_response_len."""
    save_interval: int | None = 20
    """Save a checkpoint every this many rollouts (and at the end); a preempted run resumes from it."""
    keep_checkpoints: int = 3
    """On Modal: keep only the newest this many saves (older ones are deleted; the plan shows the storage)."""

    # --- Launch -----------------------------------------------------------------------------------
    train_script: str | None = None
    """slime entry point: None picks train.py (colocated) or train_async.py (not colocated)."""
    extra_args: list[str] = field(default_factory=list)
    """Extra slime flags, appended verbatim; every flag must be known to the pinned slime."""

    def __post_init__(self, actor_num_nodes: int | None) -> None:
        if actor_num_nodes is not None:
            if self.num_nodes is not None and self.num_nodes != actor_num_nodes:
                raise ConfigError([Problem(
                    ("num_nodes", "actor_num_nodes"),
                    f"num_nodes={self.num_nodes} and actor_num_nodes={actor_num_nodes} both set the "
                    "cluster size; set only num_nodes",
                    rule="one_cluster_size")], subject="SlimeConfig")
            self.num_nodes = actor_num_nodes
            self._actor_num_nodes_alias = True

    # ----------------------------------------------------------------------------------------------
    @cached_property
    def _model(self) -> ModelConfig:
        return get_model(self.model) if isinstance(self.model, str) else self.model

    def resolve(self) -> Resolved:
        """Fill every unset field (preset, then layout) and return the result with its layout."""
        return resolve(self)

    def problems(self) -> list[Problem]:
        """Every problem (errors and warnings), without raising."""
        from gym.slime.rules import check

        return check(self.resolve())

    def _validated(self) -> tuple[Resolved, list[Problem]]:
        """The resolved config and its warnings; raises ConfigError listing every error."""
        from gym.slime.rules import check

        resolved = self.resolve()
        problems = check(resolved)
        if any(p.severity == "error" for p in problems):
            raise ConfigError(problems, subject=f"SlimeConfig {resolved.name!r}")
        return resolved, problems

    def validate(self) -> list[Problem]:
        """Raise ConfigError listing every error; return the warnings."""
        return self._validated()[1]

    def plan(self, *, mean_response_tokens: float | None = None, mean_prompt_tokens: float | None = None) -> Plan:
        """The validated plan: layout, batch arithmetic, cost. Raises ConfigError if invalid.
        The workload (mean response and prompt tokens) prices the time and cost; None: gym.perf's
        default (gym.perf.workload_from(history) reads it from a past run)."""
        from gym.slime.plan import make_plan

        return make_plan(*self._validated(), mean_response_tokens=mean_response_tokens,
                         mean_prompt_tokens=mean_prompt_tokens)

    def slime_argv(self) -> list[str]:
        """The argv after `python3` inside the pinned slime image. Raises ConfigError if invalid."""
        from gym.slime.argv import build_argv

        return build_argv(self._validated()[0])

    def build_app(self):
        """The Modal app for this run (built offline; nothing is launched)."""
        from gym.launch.app import build_app

        return build_app(self._validated()[0])

    def launch(self, *, max_usd: float | None = None):
        """Launch on Modal, detached, and return its `gym.launch.runs.Run` handle.

        Refuses before creating anything if a check fails: the config, the cost bound (the run
        estimate's upper bound must be within `max_usd`, or $50 without it), credentials,
        secrets, or another live launch of the same run. Inside Modal a small CPU function runs
        download -> prepare -> training attempts and stops the run when it has cost `max_usd`."""
        from gym.launch.launcher import launch

        return launch(self, max_usd=max_usd)

    def replace(self, **changes: Any) -> SlimeConfig:
        """A copy with some fields changed (the original is untouched)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        current.update(changes)
        return SlimeConfig(**current)


# ---- slime's names, gym's fields ----------------------------------------------------------------

SLIME_NAMES: dict[str, tuple[str, str]] = {
    "actor_num_gpus_per_node": ("gpus_per_node", "GPUs per node; gym derives slime's training GPUs per node "
                                "from num_nodes, gpus_per_node, colocate and rollout_num_gpus"),
    "num_gpus_per_node": ("gpus_per_node", "GPUs per node (Modal container)"),
    "hf_checkpoint": ("model", "a model preset or its name, e.g. model='Qwen3-4B'"),
    "load": ("name", "checkpoints live in the run's volume, under the run's name"),
    "save": ("name", "checkpoints live in the run's volume, under the run's name"),
    "prompt_data": ("dataset", "e.g. dataset=gym.LocalDataset('rows.jsonl', input_key='input', label_key='label')"),
    "input_key": ("dataset", "the dataset's input_key, e.g. gym.LocalDataset(path, input_key='question')"),
    "label_key": ("dataset", "the dataset's label_key, e.g. gym.LocalDataset(path, label_key='answer')"),
    "apply_chat_template": ("dataset", "the dataset's apply_chat_template"),
    "rollout_shuffle": ("dataset", "the dataset's rollout_shuffle"),
    "eval_prompt_data": ("dataset", "the dataset's eval data, e.g. gym.LocalDataset(path, eval_source='test.jsonl')"),
    "use_wandb": ("wandb", "wandb=gym.WandbConfig(project=..., group=...)"),
    "wandb_project": ("wandb", "wandb=gym.WandbConfig(project=...)"),
    "wandb_group": ("wandb", "wandb=gym.WandbConfig(project=..., group=...)"),
    "wandb_team": ("wandb", "wandb=gym.WandbConfig(project=..., team=...)"),
}
"""slime flag names (argparse dests) whose value gym derives from one of its own fields: name ->
(gym's field, how to set it there)."""


def unknown_field_problems(names: dict[str, Any]) -> list[Problem]:
    """One problem per keyword that is not a SlimeConfig field: a slime flag name gets gym's field
    for it (or `extra_args` when gym has none), a typo gets the nearest field names."""
    import difflib

    from gym.errors import Fix

    from gym.secrets import is_secret_flag

    fields = [f.name for f in dataclasses.fields(SlimeConfig)] + ["actor_num_nodes"]
    out = []
    for name, value in names.items():
        flag = "--" + name.replace("_", "-")
        if is_secret_flag(flag):  # its value is a secret: never repeated, not even as a suggestion
            out.append(Problem((name,), f"{name} is not a SlimeConfig field, and {flag} would put a secret on "
                               "slime's command line: gym passes keys as environment variables from Modal secrets "
                               "(WANDB_API_KEY, HF_TOKEN)", rule="unknown_field"))
            continue
        if name in SLIME_NAMES:
            target, how = SLIME_NAMES[name]
            fix = (Fix({target: value}),) if target == "gpus_per_node" else ()
            out.append(Problem((name, target), f"{name}={value!r} is slime's {flag}, not a SlimeConfig field: "
                               f"set {target} instead ({how})", fix, rule="slime_flag_name"))
            continue
        from gym.slime.argv import pinned_flags

        near = difflib.get_close_matches(name, fields, n=3, cutoff=0.75)
        if flag in pinned_flags():
            out.append(Problem((name, "extra_args"), f"{name}={value!r} is slime's {flag}, which SlimeConfig "
                               f"has no field for: pass it verbatim", (Fix({"extra_args": [flag, str(value)]}),),
                               rule="slime_flag_name"))
        else:
            out.append(Problem((name,), f"{name} is not a SlimeConfig field"
                               + (f" (did you mean {' or '.join(near)}?)" if near else ""),
                               tuple(Fix({n: value}) for n in near), rule="unknown_field"))
    return out


def _named_fields_init(init):
    """Wrap the dataclass __init__: an unknown keyword (slime's flag name, a typo) is a ConfigError
    naming gym's field, not Python's bare TypeError."""
    import functools

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        known = {f.name for f in dataclasses.fields(SlimeConfig)} | {"actor_num_nodes"}
        unknown = {k: v for k, v in kwargs.items() if k not in known}
        if unknown:
            raise ConfigError(unknown_field_problems(unknown), subject="SlimeConfig")
        init(self, *args, **kwargs)

    return __init__


SlimeConfig.__init__ = _named_fields_init(SlimeConfig.__init__)


# ---- Resolution ----------------------------------------------------------------------------------

PRESET_FIELDS = (
    "gpu_type", "num_nodes", "gpus_per_node", "colocate", "rollout_num_gpus_per_engine",
    "tensor_model_parallel_size", "sequence_parallel", "pipeline_model_parallel_size",
    "context_parallel_size", "expert_model_parallel_size", "expert_tensor_parallel_size",
    "sglang_mem_fraction_static", "use_dynamic_batch_size", "max_tokens_per_gpu",
    "recompute_granularity", "recompute_method", "recompute_num_layers", "optimizer_cpu_offload",
    "n_samples_per_prompt", "rollout_max_response_len",
)
"""SlimeConfig fields whose unset value comes from the model's SlimePreset."""


@dataclass(frozen=True)
class Layout:
    """Where every GPU goes. Counts are GPUs unless named nodes."""

    num_nodes: int
    gpus_per_node: int
    colocate: bool
    train_gpus: int
    """GPUs that run Megatron training."""
    rollout_gpus: int
    """GPUs that run SGLang engines (the same GPUs as training when colocated)."""
    tp: int
    pp: int
    cp: int
    ep: int
    etp: int
    engine_gpus: int

    @property
    def cluster_gpus(self) -> int:
        return self.num_nodes * self.gpus_per_node

    @property
    def model_parallel(self) -> int:
        """GPUs one model replica spans: TP × PP × CP."""
        return self.tp * self.pp * self.cp

    @property
    def dp(self) -> int | None:
        """Data-parallel size W / (TP·PP·CP); None when it is not a whole number."""
        if self.model_parallel <= 0 or self.train_gpus <= 0 or self.train_gpus % self.model_parallel:
            return None
        return self.train_gpus // self.model_parallel

    @property
    def actor_num_nodes(self) -> int:
        """slime's --actor-num-nodes: nodes of training GPUs."""
        return max(1, self.train_gpus // self.gpus_per_node) if self.train_gpus >= self.gpus_per_node else 1

    @property
    def actor_num_gpus_per_node(self) -> int:
        """slime's --actor-num-gpus-per-node."""
        return min(self.train_gpus, self.gpus_per_node)

    @property
    def num_engines(self) -> int:
        """SGLang engines slime starts: rollout GPUs // engine size (floor, as slime does)."""
        return self.rollout_gpus // self.engine_gpus if self.engine_gpus > 0 else 0

    @property
    def idle_rollout_gpus(self) -> int:
        """Rollout GPUs left without an engine by the floor division."""
        return self.rollout_gpus - self.num_engines * self.engine_gpus


@dataclass(frozen=True)
class Resolved:
    """A SlimeConfig with every field set, plus how each derived value came about."""

    config: SlimeConfig
    """Every field set (the user's values and the derived ones)."""
    derived: dict[str, str]
    """Field -> why it has its value, for fields the user left unset."""
    layout: Layout
    name: str
    model: ModelConfig
    dataset: DatasetConfig
    type_problems: tuple[Problem, ...] = ()
    """Bad types or unknown names found while resolving; rules do not run past these."""
    seed_alias: bool = False
    """True when the cluster size came in as actor_num_nodes (the seed tutorial's name)."""

    @property
    def samples_per_rollout(self) -> int:
        c = self.config
        return c.rollout_batch_size * c.n_samples_per_prompt

    @property
    def steps_per_rollout(self) -> int:
        """Optimizer steps per rollout: samples per rollout // global batch (slime floors)."""
        gbs = self.config.global_batch_size
        return self.samples_per_rollout // gbs if gbs else 0

    @property
    def train_script(self) -> str:
        c = self.config
        return c.train_script or ("train.py" if c.colocate else "train_async.py")


def resolve(config: SlimeConfig) -> Resolved:
    """Fill unset fields from the preset and the layout. Never changes a set field."""
    from gym.slime.rules import check_types

    type_problems = list(check_types(config))
    try:
        model = config._model
    except ConfigError as err:
        type_problems.extend(err.problems)
        model = Qwen3_4B()
    if not isinstance(model, ModelConfig):  # e.g. model=5: check_types reported it; resolve on the default
        model = Qwen3_4B()
    dataset = config.dataset if isinstance(config.dataset, DatasetConfig) else GSM8K()  # else: a type problem
    derived: dict[str, str] = {}
    values: dict[str, Any] = {}
    bad = {f for p in type_problems for f in p.fields}

    preset = model.slime
    for name in PRESET_FIELDS:
        if name in ("recompute_method", "recompute_num_layers") and config.recompute_granularity not in (None, "full"):
            values[name] = getattr(config, name)  # only full recompute takes a method and a layer count
            continue
        if getattr(config, name) is None or name in bad:
            values[name] = getattr(preset, name)
            if name not in bad:
                derived[name] = f"{model.short_name} preset"
        else:
            values[name] = getattr(config, name)
    if config.sequence_parallel is None and values["sequence_parallel"] and values["tensor_model_parallel_size"] == 1:
        # The preset's sequence parallelism assumes the preset's TP; with the user's TP=1 there is no
        # TP group to split over, so follow the user instead of warning about a value they never set.
        values["sequence_parallel"] = False
        derived["sequence_parallel"] = "off: TP=1 (it splits activations over the TP group)"
    if config.dataset is None:
        derived["dataset"] = "course default (GSM8K)"

    gpn, nodes, colocate = values["gpus_per_node"], values["num_nodes"], values["colocate"]
    rollout = config.rollout_num_gpus if "rollout_num_gpus" not in bad else None
    if rollout is None:
        if colocate:
            rollout = nodes * gpn
            derived["rollout_num_gpus"] = "colocated: the training GPUs"
        elif nodes == 1:
            rollout = gpn // 2
            derived["rollout_num_gpus"] = "not colocated, one node: half of it rolls out"
        else:
            rollout = gpn
            derived["rollout_num_gpus"] = "not colocated: the spare node rolls out"
    values["rollout_num_gpus"] = rollout
    train_gpus = nodes * gpn if colocate else nodes * gpn - rollout
    tp = values["tensor_model_parallel_size"]
    etp = values["expert_tensor_parallel_size"]
    layout = Layout(
        num_nodes=nodes, gpus_per_node=gpn, colocate=bool(colocate), train_gpus=train_gpus,
        rollout_gpus=rollout, tp=tp, pp=values["pipeline_model_parallel_size"],
        cp=values["context_parallel_size"], ep=values["expert_model_parallel_size"],
        etp=etp if etp is not None else tp, engine_gpus=values["rollout_num_gpus_per_engine"])

    _derive_batch(config, values, derived, layout, bad)
    _derive_rest(config, values, derived, model, dataset)

    full = dataclasses.replace(config, **values, dataset=dataset, model=model)
    name = config.name if isinstance(config.name, str) else _default_name(full, model, dataset, layout)
    if config.name is None:
        derived["name"] = "model, dataset, layout and a hash of the settings"
    return Resolved(config=full, derived=derived, layout=layout, name=name, model=model,
                    dataset=dataset, type_problems=tuple(type_problems),
                    seed_alias=getattr(config, "_actor_num_nodes_alias", False))


def _seed_row(nodes: int) -> tuple[int, int]:
    keys = [k for k in sorted(SEED_SCALING_TABLE) if k <= max(nodes, 1)]
    return SEED_SCALING_TABLE[keys[-1]]


def _derive_batch(config: SlimeConfig, values: dict, derived: dict, layout: Layout, bad: set) -> None:
    """Derive unset batch sizes so that the result passes the batch rules for this layout."""
    n = values["n_samples_per_prompt"]
    mbs = config.micro_batch_size if "micro_batch_size" not in bad and config.micro_batch_size > 0 else 1
    unit = mbs * (layout.dp or 1)
    target_gbs, target_rollouts = _seed_row(layout.num_nodes)
    rbs, gbs = config.rollout_batch_size, config.global_batch_size
    if "rollout_batch_size" in bad:
        rbs = None
    if "global_batch_size" in bad:
        gbs = None

    if gbs is None:
        candidates = [k * unit for k in range(1, 4 * max(target_gbs // unit, 1) + 2)]
        if rbs is not None and isinstance(n, int) and n > 0:
            fitting = [c for c in candidates if (rbs * n) % c == 0] or [
                c for c in range(unit, min(rbs * n, SEARCH_LIMIT * unit) + 1, unit) if (rbs * n) % c == 0]
            candidates = fitting or candidates
        gbs = min(candidates, key=lambda c: (abs(c - target_gbs), c))
        derived["global_batch_size"] = (
            f"seed table target {target_gbs} for {layout.num_nodes} node(s), snapped to a multiple of "
            f"micro_batch_size × DP = {mbs} × {layout.dp or '?'}"
            + (" dividing the samples per rollout" if rbs is not None else ""))
    if rbs is None and isinstance(n, int) and n > 0 and gbs > 0:
        step = gbs // math.gcd(gbs, n)  # smallest prompt count whose samples fill whole steps
        want = max(1, DEFAULT_STEPS_PER_ROLLOUT * gbs // n)
        rbs = step * max(1, math.ceil(want / step))
        derived["rollout_batch_size"] = (
            f"{DEFAULT_STEPS_PER_ROLLOUT} optimizer steps per rollout: rollout_batch_size × "
            f"n_samples_per_prompt = {rbs} × {n} = {rbs * n} = {rbs * n // gbs} × global_batch_size")
    if rbs is None:  # only when another batch value is already invalid (reported by the rules)
        rbs = 1
        derived["rollout_batch_size"] = "placeholder: the other batch sizes are invalid"
    values["global_batch_size"] = gbs
    values["rollout_batch_size"] = rbs
    if config.num_rollout is None or "num_rollout" in bad:
        values["num_rollout"] = target_rollouts
        derived["num_rollout"] = f"seed table for {layout.num_nodes} node(s)"


def _derive_rest(config: SlimeConfig, values: dict, derived: dict, model: ModelConfig,
                 dataset: DatasetConfig) -> None:
    if config.ref_load is None or config.ref_load == model.model_name:
        from gym.paths import model_dir

        values["ref_load"] = model_dir(model.model_name)
        derived["ref_load"] = f"the downloaded {model.model_name} (Hugging Face format; slime loads it directly)"
    if config.eval_interval is None and dataset.eval_prompt_data:
        values["eval_interval"] = 20
        derived["eval_interval"] = "the dataset has eval data"


def _default_name(config: SlimeConfig, model: ModelConfig, dataset: DatasetConfig, layout: Layout) -> str:
    from gym.datasets import slug

    digest = hashlib.sha1(json.dumps(fingerprint(config), sort_keys=True, default=str).encode()).hexdigest()[:6]
    mode = "colo" if layout.colocate else "split"
    data = slug(dataset.name).rsplit("_", 1)[-1].lower()[:16]
    return f"{model.short_name.lower().replace('.', '-')}-{data}-{layout.num_nodes}n-{mode}-{digest}"


NOT_IN_FINGERPRINT = ("name", "num_rollout", "save_interval", "eval_interval", "keep_checkpoints")
"""Fields that say how long a run goes on and how often it saves, evaluates or prunes its saves,
not what each of its rollouts computes: they are not part of its identity (the derived name, so
the checkpoint volume on Modal and the run folder locally; and a local checkpoint's fingerprint).
Two configs that differ only here are *the same run*: launching it again with more rollouts (or
another save interval) continues from its latest save, on Modal with Megatron's scheduler override
(gym.launch.pipeline.attempt_argv), locally with `run_local(..., resume=True)`. (slime logs every
rollout; there is no logging interval.)"""


def fingerprint(config: SlimeConfig) -> dict[str, Any]:
    """The settings that define a run (everything but its name), as plain data."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in NOT_IN_FINGERPRINT:
            continue
        if isinstance(value, DatasetConfig):
            value = {"class": f"{type(value).__module__}.{type(value).__qualname__}", **value.state()}
        elif dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        out[f.name] = redact(value)  # the derived name is a hash of this: no secret goes into it
    return out
