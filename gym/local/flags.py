"""What the local backend does with each setting: implement it as slime does, or say so by name.

A local run must not teach something slime would not do, so nothing is ignored silently:

- every SlimeConfig field that changes the algorithm is implemented (gym.local.grpo);
- an `extra_args` flag is either implemented locally (IMPLEMENTED, its value parsed with the
  pinned parser's type), refused by name before anything starts (REFUSED: it changes what slime
  computes and the local backend does not reproduce it), or listed once at start as having no
  local meaning (performance, parallelism, logging, infrastructure: the numbers a run computes
  are the same with or without it).

Which flags fall where: slime's own flags (the `slime` parser) are classified one by one below;
a slime flag in neither IMPLEMENTED nor NO_LOCAL_MEANING is refused, so a new slime flag is
refused until someone decides. Megatron's and SGLang's flags are about parallelism, kernels,
precision, memory and serving, so they have no local meaning, except the optimizer and schedule
flags in REFUSED (or IMPLEMENTED) by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

IMPLEMENTED = {
    "--disable-grpo-std-normalization": "rewards are centred within the group, not divided by its std",
    "--disable-rewards-normalization": "rewards are used raw (no group centring)",
    "--calculate-per-token-loss": "losses averaged over all tokens of a step",
    "--use-unbiased-kl": "the KL loss is weighted by the ratio new/old",
    "--eps-clip-c": "dual-clip PPO for negative advantages",
    "--gamma": "discount of reinforce_plus_plus returns",
    "--min-lr": "the LR schedule's floor",
    "--lr-warmup-init": "the LR at the start of warm-up",
    "--lr-decay-iters": "optimizer steps of LR decay",
    "--lr-warmup-fraction": "warm-up as a fraction of the decay steps",
    "--lr-wsd-decay-iters": "WSD: steps of the final decay",
    "--lr-wsd-decay-style": "WSD: shape of the final decay",
    "--adam-eps": "Adam's epsilon",
    "--rollout-skip-special-tokens": "responses decoded without special tokens",
    "--skip-eval-before-train": "no eval at rollout 0 before training",
    "--eval-temperature": "eval sampling temperature",
    "--eval-top-p": "eval nucleus",
    "--metadata-key": "the dataset column read into sample.metadata",
    "--use-tis": "truncated importance sampling: the loss weighted by clamp(exp(old − rollout log-prob))",
    "--get-mismatch-metrics": "rollout/training mismatch metrics (and, as on slime, the TIS weights)",
    "--tis-clip": "TIS upper clamp", "--tis-clip-low": "TIS lower clamp",
}
"""extra_args flags the local backend implements as slime does -> what they change."""

REFUSED = {
    # slime: algorithm
    "--custom-tis-function-path": "a custom TIS function",
    "--ref-update-interval": "the reference model is periodically replaced by the policy",
    "--use-opsm": "off-policy sequence masking", "--opsm-delta": "off-policy sequence masking",
    "--use-opd": "on-policy distillation", "--opd-kl-coef": "on-policy distillation",
    "--opd-type": "on-policy distillation", "--opd-teacher-load": "on-policy distillation",
    "--opd-teacher-ckpt-step": "on-policy distillation",
    "--use-rollout-logprobs": "old log-probs from the rollout engine",
    "--use-rollout-entropy": "entropy from the rollout engine",
    "--loss-type": "another loss (sft, value)", "--custom-loss-function-path": "a custom loss",
    "--custom-pg-loss-reducer-function-path": "a custom loss reducer",
    "--custom-advantage-function-path": "custom advantages",
    "--disable-compute-advantages-and-returns": "advantages left uncomputed",
    "--value-clip": "a critic", "--num-critic-only-steps": "a critic", "--lambd": "GAE (ppo, a critic)",
    "--loss-mask-type": "another loss mask", "--keep-old-actor": "a second actor copy",
    "--num-steps-per-rollout": "optimizer steps per rollout (instead of global_batch_size)",
    "--num-epoch": "epochs over the data", "--reset-optimizer-states": "optimizer reset every rollout",
    "--freeze-params-name-list": "frozen parameters", "--only-train-params-name-list": "frozen parameters",
    "--freeze-indexer": "frozen parameters", "--enable-mtp-training": "multi-token prediction",
    "--use-stateless-adam": "another optimizer",
    # slime: what is sampled and how it is scored
    "--rollout-top-k": "top-k sampling", "--eval-top-k": "top-k sampling",
    "--rollout-stop": "stop strings", "--rollout-stop-token-ids": "stop tokens",
    "--rollout-max-context-len": "a context cap", "--eval-max-context-len": "a context cap",
    "--eval-min-new-tokens": "a minimum eval length", "--eval-max-prompt-len": "an eval prompt cap",
    "--partial-rollout": "partial rollouts", "--mask-offpolicy-in-partial-rollout": "partial rollouts",
    "--over-sampling-batch-size": "dynamic sampling", "--dynamic-sampling-filter-path": "dynamic sampling",
    "--min-batch-collection-ratio": "dynamic sampling", "--buffer-filter-path": "a rollout buffer filter",
    "--rollout-sample-filter-path": "a sample filter", "--rollout-all-samples-process-path": "sample post-processing",
    "--rollout-data-postprocess-path": "rollout post-processing",
    "--custom-reward-post-process-path": "custom reward post-processing",
    "--custom-convert-samples-to-train-data-path": "custom training data",
    "--rollout-function-path": "a custom rollout", "--custom-generate-function-path": "a custom generate",
    "--eval-function-path": "a custom eval", "--eval-config": "eval datasets from a config file",
    "--eval-input-key": "another eval input key", "--eval-label-key": "another eval label key",
    "--eval-reward-key": "another eval reward key", "--eval-tool-key": "tools",
    "--group-rm": "a group reward model", "--rollout-buffer-url": "an external rollout buffer",
    "--rollout-external-engine-addrs": "external engines", "--data-source-path": "a custom data source",
    "--disable-rollout-global-dataset": "per-engine datasets", "--tool-key": "tools",
    "--multimodal-keys": "multimodal inputs", "--apply-chat-template-kwargs": "chat template options",
    "--rollout-task-type": "another task type", "--custom-config-path": "settings from a config file",
    "--megatron-config-path": "settings from a config file", "--sglang-config": "settings from a config file",
    "--load-debug-rollout-data": "replayed rollouts", "--load-forge-rollout-data": "replayed rollouts",
    "--debug-rollout-only": "no training", "--debug-train-only": "no rollouts",
    "--custom-megatron-before-train-step-hook-path": "a training hook",
    "--custom-megatron-before-log-prob-hook-path": "a training hook",
    "--custom-megatron-init-path": "custom model init", "--custom-model-provider-path": "a custom model",
    "--start-rollout-id": "a start offset",
    # Megatron: optimizer and schedule
    "--optimizer": "another optimizer", "--sgd-momentum": "another optimizer",
    "--start-weight-decay": "a weight-decay schedule", "--end-weight-decay": "a weight-decay schedule",
    "--weight-decay-incr-style": "a weight-decay schedule", "--decoupled-lr": "per-layer LRs",
    "--decoupled-min-lr": "per-layer LRs", "--lr-warmup-samples": "a schedule in samples",
    "--lr-decay-samples": "a schedule in samples", "--lr-wsd-decay-samples": "a schedule in samples",
    "--train-samples": "a schedule in samples", "--train-iters": "a schedule length",
    "--override-opt-param-scheduler": "scheduler state from a checkpoint",
    "--use-checkpoint-opt-param-scheduler": "scheduler state from a checkpoint",
    "--hidden-dropout": "dropout", "--attention-dropout": "dropout",
    "--moe-aux-loss-coeff": "an auxiliary MoE loss", "--moe-z-loss-coeff": "an auxiliary MoE loss",
    "--moe-router-load-balancing-type": "MoE load balancing",
}
"""extra_args flags that change what slime computes and are not reproduced locally -> what they do."""

NO_LOCAL_MEANING_SLIME = {
    "--actor-num-gpus-per-node", "--actor-num-nodes", "--allgather-cp", "--balance-by-flops", "--balance-data",
    "--check-weight-update-equal", "--ci-disable-kl-checker", "--ci-load-grad-norm", "--ci-save-grad-norm",
    "--ci-test", "--ci-train-rollout-logprob-abs-diff-threshold", "--colocate",
    "--custom-eval-rollout-log-function-path", "--custom-rollout-log-function-path",
    "--custom-update-weight-post-write-path", "--data-pad-size-multiplier", "--disable-wandb-random-suffix",
    "--dump-details", "--fetch-trajectory-retry-times", "--hf-checkpoint", "--http-proxy", "--log-correct-samples",
    "--log-multi-turn", "--log-passrate", "--log-probs-chunk-size", "--log-probs-max-tokens-per-gpu",
    "--log-reward-category", "--max-tokens-per-gpu", "--megatron-deepgemm-forward-layers",
    "--megatron-deepgemm-forward-modules", "--megatron-deepgemm-moe-forward-layers",
    "--megatron-deepgemm-moe-forward-modules", "--memory-recorder", "--memory-snapshot-dir",
    "--memory-snapshot-num-steps", "--model-name", "--no-offload-rollout", "--no-offload-train",
    "--num-gpus-per-node", "--offload", "--offload-rollout", "--offload-train", "--prefill-num-servers",
    "--profile-target", "--qwen-gdn-backend", "--recompute-loss-function", "--release-train",
    "--rollout-data-transport", "--rollout-health-check-first-wait", "--rollout-health-check-interval",
    "--rollout-health-check-timeout", "--rollout-num-gpus", "--rollout-num-gpus-per-engine", "--rollout-seed",
    "--save-debug-rollout-data", "--save-debug-train-data", "--save-hf", "--sglang-router-ip",
    "--sglang-router-port", "--sglang-router-request-timeout-secs", "--sglang-server-concurrency",
    "--tb-experiment-name", "--tb-project-name", "--train-backend", "--train-env-vars",
    "--update-weight-buffer-size", "--update-weight-delta-checksum", "--update-weight-delta-encoding",
    "--update-weight-disk-dir", "--update-weight-disk-keep-files", "--update-weight-local-checkpoint-dir",
    "--update-weight-mode", "--update-weight-transport", "--use-distributed-post", "--use-dynamic-batch-size",
    "--use-fault-tolerance", "--use-rollout-routing-replay", "--use-routing-replay", "--use-tensorboard",
    "--use-wandb", "--wandb-always-use-train-step", "--wandb-dir", "--wandb-group", "--wandb-host",
    "--wandb-key", "--wandb-mode", "--wandb-run-id", "--wandb-team", "--load-debug-rollout-data-subsample",
    "--ref-ckpt-step",
}
"""slime flags about placement, memory, speed, logging or infrastructure: a local run computes the
same numbers with or without them."""


@dataclass
class LocalFlags:
    """extra_args as the local backend reads them."""

    values: dict[str, object] = field(default_factory=dict)
    """Implemented flags -> parsed value (True for switches), keyed by the flag's dest (e.g. "gamma")."""
    refused: list[str] = field(default_factory=list)
    """"--flag: what it does" for each refused flag."""
    no_local_meaning: list[str] = field(default_factory=list)
    """Flags accepted and without effect locally."""

    def get(self, dest: str, default=None):
        return self.values.get(dest, default)


_CASTS = {"int": int, "float": float, "str": str, None: str}


def parse_extra_args(extra_args: list[str]) -> LocalFlags:
    """Split extra_args into implemented values, refused flags and flags with no local meaning.
    Flags unknown to the pinned slime are left to the config rules (which refuse them)."""
    from gym.slime.argv import pinned_flags

    known = pinned_flags()
    out = LocalFlags()
    i = 0
    while i < len(extra_args):
        arg = extra_args[i]
        i += 1
        if not arg.startswith("--"):
            continue
        flag, _, inline = arg.partition("=")
        meta = known.get(flag)
        if meta is None:
            continue
        values = [inline] if inline else []
        if not inline and meta.get("takes_value"):
            while i < len(extra_args) and not extra_args[i].startswith("--"):
                values.append(extra_args[i])
                i += 1
        if flag in IMPLEMENTED:
            cast = _CASTS.get(meta.get("type"), str)
            if not meta.get("takes_value"):
                value = meta.get("action") != "store_false"  # --disable-x sets x to False
            elif meta.get("type") == "bool" or (values and values[0].lower() in ("true", "false")):
                value = values[0].lower() == "true"
            else:
                value = cast(values[0])
            out.values[meta["dest"]] = value
        elif flag in REFUSED:
            out.refused.append(f"{flag} ({REFUSED[flag]})")
        elif meta.get("source") == "slime" and flag not in NO_LOCAL_MEANING_SLIME:
            out.refused.append(f"{flag} (a slime setting the local backend does not reproduce)")
        else:
            out.no_local_meaning.append(flag)
    return out


def local_problems(config) -> list:
    """Settings a local run cannot reproduce, as Problems (empty: the run teaches what slime does)."""
    from gym.errors import Problem

    problems = []
    flags = parse_extra_args(config.extra_args)
    if flags.refused:
        problems.append(Problem(
            fields=("extra_args",),
            message="the local backend does not reproduce " + ", ".join(flags.refused)
                    + "; remove these flags for a local run (they stay valid on Modal)"))
    wsd_steps = flags.get("lr_wsd_decay_iters")
    if config.lr_decay_style == "WSD" and wsd_steps is None:
        problems.append(Problem(
            fields=("lr_decay_style", "extra_args"),
            message="lr_decay_style='WSD' needs --lr-wsd-decay-iters in extra_args (Megatron asserts it)"))
    return problems
