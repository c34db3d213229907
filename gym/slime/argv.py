"""SlimeConfig -> the exact slime command line for the pinned image.

slime ignores flags it does not know (its parsers use `parse_known_args`), so a typo
or a flag from another slime version costs a whole cluster start-up and then does
nothing. `pinned_flags.json` lists every flag of the pinned image's parser (slime +
Megatron-LM + SGLang), dumped from their sources by `scripts/dump_slime_flags.py`;
`build_argv` refuses to emit anything outside it.

No secret is ever part of the argv: W&B reads WANDB_API_KEY from the environment, and
validation refuses secret flags in extra_args (gym.secrets). A URL with credentials (rm_url) is the
one exception slime forces: it takes --rm-url only on the command line, so the argv holds it and
every printed form of the argv (`format_command`, the job log) goes through `gym.secrets.redact`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from gym.paths import CHECKPOINTS_PATH, SLIME_ROOT, model_dir
from gym.secrets import SECRET_FLAGS, is_secret_flag, redact  # noqa: F401  (SECRET_FLAGS: re-exported)
from gym.slime.config import Resolved

SLIME_IMAGE = "slimerl/slime:nightly-dev-20260810a-cu129"
"""The one slime image gym launches: slime ≈ v0.3.1, SGLang 0.5.15.post1, Megatron-LM 1dcf0daf."""


@lru_cache(maxsize=1)
def pinned() -> dict:
    """The pinned image's parser dump (flags with their types and choices, and the source commits)."""
    text = resources.files("gym.slime").joinpath("pinned_flags.json").read_text(encoding="utf-8")
    return json.loads(text)


def pinned_flags() -> dict[str, dict]:
    """Every option string the pinned slime's parser accepts -> its metadata."""
    return pinned()["flags"]


class UnknownFlagError(AssertionError):
    """gym itself tried to emit a flag the pinned slime does not know (a bug in gym)."""


def checkpoint_dir(run_name: str) -> str:
    """Where a run saves (and resumes from) its Megatron checkpoints, in its own volume."""
    return f"{CHECKPOINTS_PATH}/{run_name}"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_argv(r: Resolved, include_extra: bool = True) -> list[str]:
    """The argv after `python3` (script path first). Expects a config that passed validation."""
    c, lay, ds, arch = r.config, r.layout, r.dataset, r.model.architecture
    argv: list[str] = [f"{SLIME_ROOT}/{r.train_script}"]

    def add(flag: str, *values) -> None:
        argv.append(flag)
        argv.extend(_num(v) for v in values)

    def switch(flag: str, on: bool | None) -> None:
        if on:
            argv.append(flag)

    # Cluster: slime counts training nodes in --actor-num-nodes; rollout GPUs come after them.
    add("--actor-num-nodes", lay.actor_num_nodes)
    add("--actor-num-gpus-per-node", lay.actor_num_gpus_per_node)
    add("--num-gpus-per-node", c.gpus_per_node)
    add("--rollout-num-gpus", lay.rollout_gpus)
    add("--rollout-num-gpus-per-engine", lay.engine_gpus)
    switch("--colocate", c.colocate)

    argv.extend(arch.megatron_args())

    # Weights: the HF snapshot serves SGLang and the tokenizer; --ref-load holds the initial
    # and reference weights (slime loads an HF directory directly); --load/--save is the run's
    # own checkpoint folder, so a restarted container resumes from its latest checkpoint.
    ckpt = checkpoint_dir(r.name)
    add("--hf-checkpoint", model_dir(r.model.model_name))
    add("--ref-load", c.ref_load)
    add("--load", ckpt)
    add("--save", ckpt)
    if c.save_interval is not None:
        add("--save-interval", c.save_interval)

    # Data and reward.
    add("--prompt-data", ds.prompt_data)
    add("--input-key", ds.input_key)
    if ds.label_key:
        add("--label-key", ds.label_key)
    switch("--apply-chat-template", ds.apply_chat_template)
    switch("--rollout-shuffle", ds.rollout_shuffle)
    if c.custom_rm_path:
        add("--custom-rm-path", c.custom_rm_path)
        if c.reward_key:
            add("--reward-key", c.reward_key)
    else:
        add("--rm-type", c.rm_type)
        if c.rm_url:
            add("--rm-url", c.rm_url)

    # Rollout and batch sizes.
    add("--num-rollout", c.num_rollout)
    add("--rollout-batch-size", c.rollout_batch_size)
    add("--n-samples-per-prompt", c.n_samples_per_prompt)
    add("--rollout-max-response-len", c.rollout_max_response_len)
    if c.rollout_max_prompt_len is not None:
        add("--rollout-max-prompt-len", c.rollout_max_prompt_len)
    add("--rollout-temperature", float(c.rollout_temperature))
    add("--rollout-top-p", float(c.rollout_top_p))
    add("--global-batch-size", c.global_batch_size)
    add("--micro-batch-size", c.micro_batch_size)
    argv.append("--balance-data")
    if c.use_dynamic_batch_size:
        argv.append("--use-dynamic-batch-size")
        add("--max-tokens-per-gpu", c.max_tokens_per_gpu)
    if r.train_script == "train_async.py":
        add("--update-weights-interval", c.update_weights_interval)

    # Eval.
    if c.eval_interval:  # None or 0: no eval
        add("--eval-interval", c.eval_interval)
        add("--eval-prompt-data", *ds.eval_prompt_data)
        add("--n-samples-per-eval-prompt", c.n_samples_per_eval_prompt)
        if c.eval_max_response_len is not None:
            add("--eval-max-response-len", c.eval_max_response_len)

    # Parallelism and memory.
    add("--tensor-model-parallel-size", lay.tp)
    switch("--sequence-parallel", c.sequence_parallel and lay.tp > 1)
    add("--pipeline-model-parallel-size", lay.pp)
    add("--context-parallel-size", lay.cp)
    add("--expert-model-parallel-size", lay.ep)
    add("--expert-tensor-parallel-size", lay.etp)
    if c.recompute_granularity and c.recompute_granularity != "off":
        add("--recompute-granularity", c.recompute_granularity)
        if c.recompute_method:
            add("--recompute-method", c.recompute_method)
        if c.recompute_num_layers is not None:
            add("--recompute-num-layers", c.recompute_num_layers)

    # Algorithm.
    add("--advantage-estimator", c.advantage_estimator)
    switch("--use-kl-loss", c.use_kl_loss)
    add("--kl-loss-coef", float(c.kl_loss_coef))
    add("--kl-loss-type", c.kl_loss_type)
    add("--kl-coef", float(c.kl_coef))
    add("--entropy-coef", float(c.entropy_coef))
    add("--eps-clip", float(c.eps_clip))
    add("--eps-clip-high", float(c.eps_clip_high))
    switch("--normalize-advantages", c.normalize_advantages)

    # Optimizer: constant LR and slime's AdamW settings unless changed.
    add("--optimizer", "adam")
    add("--lr", float(c.lr))
    add("--lr-decay-style", c.lr_decay_style)
    add("--lr-warmup-iters", c.lr_warmup_iters)
    add("--weight-decay", float(c.weight_decay))
    add("--adam-beta1", float(c.adam_beta1))
    add("--adam-beta2", float(c.adam_beta2))
    add("--clip-grad", float(c.clip_grad))
    if c.optimizer_cpu_offload:
        argv += ["--optimizer-cpu-offload", "--overlap-cpu-optimizer-d2h-h2d", "--use-precision-aware-optimizer"]
    add("--seed", c.seed)

    # SGLang.
    add("--sglang-mem-fraction-static", float(c.sglang_mem_fraction_static))

    # What every slime script sets: no dropout in RL, fp32 softmax and grad reduction, flash attention.
    argv += ["--attention-dropout", "0.0", "--hidden-dropout", "0.0", "--accumulate-allreduce-grads-in-fp32",
             "--attention-softmax-in-fp32", "--attention-backend", "flash"]

    # W&B: names only; the key comes from the WANDB_API_KEY environment variable.
    if c.wandb is not None:
        argv.append("--use-wandb")
        add("--wandb-project", c.wandb.project)
        add("--wandb-group", c.wandb.group)
        if c.wandb.team:
            add("--wandb-team", c.wandb.team)
        switch("--disable-wandb-random-suffix", not c.wandb.random_suffix)

    if include_extra:
        argv.extend(c.extra_args)
    _check_known(argv)
    return argv


def _check_known(argv: list[str]) -> None:
    known = pinned_flags()
    unknown = [a for a in argv[1:] if a.startswith("--") and a.split("=", 1)[0] not in known
               and not _is_number(a)]
    if unknown:
        raise UnknownFlagError(f"flags unknown to the pinned slime ({SLIME_IMAGE}): {unknown}")
    secret = [a.split("=", 1)[0] for a in argv if a.startswith("--") and is_secret_flag(a)]
    if secret:  # the flags only: their values are the secrets
        raise UnknownFlagError(f"refusing to put a secret flag on the command line: {secret}")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_command(argv: list[str]) -> str:
    """The argv as a multi-line shell command, one flag (with its values) per line; credentials
    (a URL's user:password@ or ?token=) are masked (gym.secrets.redact)."""
    import shlex

    argv = redact(list(argv))
    lines: list[list[str]] = [["python3", argv[0]]]
    for arg in argv[1:]:
        if arg.startswith("--") and not _is_number(arg):
            lines.append([arg])
        else:
            lines[-1].append(arg)
    return " \\\n    ".join(" ".join(shlex.quote(a) for a in line) for line in lines)
