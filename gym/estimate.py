"""A rough range for a whole run's time and cost, before launching it.

Not a measurement: a back-of-the-envelope model whose every assumption is stated here and in
`RunEstimate.assumptions`. Each number is a (low, high) pair, and the range is wide on purpose.

- Samples: responses average between 25% and 100% of `rollout_max_response_len`; prompts
  ~200 tokens.
- Rollout: at least the longest response at 60-150 tokens/s per sequence (decoding one
  sequence is memory-bound and does not speed up with more GPUs), and at least the rollout's
  tokens at 3,000-10,000 tokens/s per GPU for a 4B model (scaled by 4B / active parameters).
- Training: 12 × active parameters FLOPs per token (forward, backward, recompute, old
  log-probs; 14 with a KL reference) at 20-40% of the GPU's 989 TFLOP/s bf16.
- Per rollout overhead: 10-30 s colocated (offload, reload, weight update), 2-10 s split.
- Start-up: 5-15 min (containers, image, Ray, model load, SGLang CUDA graphs).
- Colocated rollout and training add up; split ones overlap (the slower one sets the pace).
"""

from __future__ import annotations

from dataclasses import dataclass

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0}
PROMPT_TOKENS = 200


@dataclass(frozen=True)
class RunEstimate:
    """Low and high estimates for one rollout and the whole run."""

    step_seconds: tuple[float, float]
    hours: tuple[float, float]
    usd: tuple[float, float]
    assumptions: str = __doc__

    def __str__(self) -> str:
        (h0, h1), (u0, u1), (s0, s1) = self.hours, self.usd, self.step_seconds
        return (f"~{s0:.0f}–{s1:.0f} s per rollout; whole run ~{h0:.1f}–{h1:.1f} h, ~${u0:,.0f}–${u1:,.0f} "
                "(rough estimate: see gym.estimate for its assumptions)")


def active_params(arch) -> float:
    """Parameters used per token (MoE: only the routed top-k experts), in parameters."""
    if not arch.is_moe:
        return arch.approx_params()
    dense = arch.approx_params() - arch.num_layers * 3 * arch.hidden_size * arch.moe_ffn_hidden_size * arch.num_experts
    return dense + arch.num_layers * 3 * arch.hidden_size * arch.moe_ffn_hidden_size * arch.moe_router_topk


def estimate_run(resolved, plan) -> RunEstimate:
    """Estimate a resolved config's run from its plan (see the module docstring)."""
    c = resolved.config
    n_active = active_params(resolved.model.architecture)
    peak = PEAK_TFLOPS.get(c.gpu_type, 989.0) * 1e12
    flops_per_token = (14 if c.use_kl_loss else 12) * n_active
    steps = []
    for frac, seq_speed, gpu_speed, mfu, overhead in ((0.25, 150, 10_000, 0.4, 0.0), (1.0, 60, 3_000, 0.2, 1.0)):
        response = frac * c.rollout_max_response_len
        tokens = plan.samples_per_rollout * (PROMPT_TOKENS + response)
        per_gpu = gpu_speed * 4e9 / n_active
        rollout = max(c.rollout_max_response_len * (0.5 + frac / 2) / seq_speed,
                      plan.samples_per_rollout * response / (max(plan.rollout_gpus, 1) * per_gpu))
        train = tokens * flops_per_token / (max(plan.train_gpus, 1) * peak * mfu)
        extra = (10 + 20 * overhead) if plan.colocate else (2 + 8 * overhead)
        steps.append((rollout + train if plan.colocate else max(rollout, train)) + extra)
    startup = (5 / 60, 15 / 60)
    hours = tuple(plan.num_rollout * s / 3600 + st for s, st in zip(steps, startup))
    return RunEstimate(step_seconds=tuple(steps), hours=hours, usd=tuple(h * plan.usd_per_hour for h in hours))
