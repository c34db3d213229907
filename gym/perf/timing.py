"""Seconds per rollout by phase, from the GPU's specs and a few named efficiencies.

Phases (slime `train.py`, colocated: they add up; `train_async.py`, split: generation of rollout
k+1 overlaps training on k, so the slower side sets the pace):

- generate: prefill (compute-bound) + decode. A decode step reads the engine's weights (for MoE,
  every expert the batch is routed to: nearly all of them at batch ≥ 64) and the
  KV cache of every running sequence (memory-bound), unless 2·N·batch FLOPs take longer
  (compute-bound at large batch); every step also pays a per-layer launch latency. Sequences in
  flight per engine are capped by the KV pool and SGLang's concurrency; more samples than that
  run in waves. The long tail: the longest response keeps decoding nearly alone after the
  average one has finished.
- log_probs: Megatron forward passes over every token for the old policy (and the reference
  with KL), 2·N FLOPs per token plus attention.
- train: 6·N FLOPs per token, + 2·N with full recompute, at a model-FLOP utilisation.
- update_weights: slime converts Megatron shards to Hugging Face tensors in buckets and pushes
  them (CUDA IPC colocated, NCCL over RDMA split); the conversion sets the rate.
- switch (colocated only): SGLang releases its weights and KV cache, Megatron wakes, and back.

Every efficiency constant names the measurement in ../shared/reference/perf-calibration.md it
was fitted to (row numbers); scripts/calibrate_perf.py shows predicted vs measured for each row.
"""

from __future__ import annotations

import math

from gym.perf import memory as mem

# ---- Rollout (SGLang) -----------------------------------------------------------------------------
DECODE_BANDWIDTH_EFFICIENCY = 0.6
"""Share of HBM bandwidth a decode step achieves (weights + KV reads). Set with rows 3 and 7 in
view (Qwen3-0.6B on H100, Qwen3-VL-4B on H200; slime colocated) and row 13 (NeMo-RL, Llama 8B)."""
DECODE_LAYER_LATENCY_S = 40e-6
"""Fixed cost per layer per decode step (kernel launches within a CUDA graph, sampling, scheduler):
row 3's 0.6B model cannot decode faster than ~500 tokens/s per sequence on H100."""
ENGINE_TP_ALLREDUCE_S = 12e-6
"""Two NVLink all-reduces per layer per decode step when the engine spans GPUs (latency-bound)."""
DECODE_MFU = 0.45
"""Large-batch decode becomes compute-bound at this share of peak (SGLang on Hopper)."""
PREFILL_MFU = 0.5
"""Prompt prefill, compute-bound (chunked prefill of 8k tokens)."""
SGLANG_CONCURRENCY = 512
"""slime's --sglang-server-concurrency default: requests in flight per engine."""
NEW_TOKEN_RATIO = 0.4
"""SGLang admits a request when the KV pool holds its prompt plus this share of its maximum new
tokens (its new_token_ratio starts at 0.7 and decays to 0.1 while running)."""

# ---- Training (Megatron) --------------------------------------------------------------------------
TRAIN_MFU = 0.3
"""Model-FLOP utilisation of Megatron's forward/backward on packed RL batches (variable lengths,
dynamic batching, bf16). Rows 7 and 13 (4B/8B on 8-16 GPUs: train 42 s for 0.7 M tokens) put it at
0.25-0.35; NeMo-RL's row 11 (32B, TP 4 PP 4) gives ~0.3."""
LOGPROB_MFU = 0.3
"""Forward-only passes for old/ref log-probs: same kernels, same utilisation."""
STEP_OVERHEAD_S = 1.0
"""Per optimizer step: gradient all-reduce/reduce-scatter, Adam, micro-batch scheduling (row 3:
a 0.6B model's step is dominated by such fixed costs)."""
CPU_ADAM_BYTES_PER_S = 20e9
"""optimizer_cpu_offload: Adam on the host streams 16 B per parameter shard (fp32 master, 2
moments, grad) through host memory at ~20 GB/s per GPU (overlap-cpu-optimizer-d2h-h2d on)."""
ROLLOUT_FIXED_S = 3.0
"""Per rollout: reward scoring, data loading, Ray round trips and logging (row 3's 26 s step
leaves ~3 s unexplained by the phases)."""

# ---- Switching and weight updates -----------------------------------------------------------------
RELEASE_GIB_PER_S = 6.0
"""Releasing GPU memory to sleep (torch_memory_saver pause / SGLang release_memory_occupation):
row 16, Qwen3-32B: 70.6 GiB of weights + KV released in 11.8 s; row 6 (4 × A6000): sleep 5.3 s."""
RESUME_GIB_PER_S = 28.0
"""Re-mapping it on wake: row 16, the same 70.6 GiB resumed in 2.5 s; row 6: wake 2.2 s."""
UPDATE_FIXED_S = 1.5
UPDATE_BYTES_PER_S = 2.8e9
"""slime's weight update (gather TP shards, convert to HF names in buckets, push): rows 8
(Qwen3-30B-A3B, 61 GB bf16: 21-26 s on 8 × H200) and 6 (Qwen3-4B, 8 GB: 4.0 s on A6000) fit
1.5 s + bytes / 2.8 GB/s; row 5 (4B on L20Z, ~5 s) agrees."""

# ---- Whole run ------------------------------------------------------------------------------------
STARTUP_S = (300.0, 600.0, 900.0)
"""Start-up (low, point, high): containers and image, Ray, model load (row 16: 100 s for a 32B
model), SGLang CUDA graphs, Megatron init."""
STEP_RANGE_FACTOR = 1.55
"""The step-time band: point ÷ and × this. Calibration rows fall within it (ratios 0.65-1.55
outside the untuned row 1), so high/low = 2.4."""


def decode_weight_params(arch, batch: float) -> float:
    """Parameters one decode step reads from HBM. Dense: all of them. MoE: the dense part plus every
    expert that at least one of the `batch` tokens is routed to; with top-k of E experts spread
    evenly, an expert is untouched with probability (1 − k/E)^batch, so at batch ≥ 64 nearly all
    experts are read (Qwen3-30B-A3B, 8 of 128: 98% at 64), and decode costs like the full model,
    not like its active parameters."""
    if not arch.is_moe:
        return mem.total_params(arch)
    experts = arch.num_layers * mem.expert_params(arch)
    touched = 1 - (1 - arch.moe_router_topk / arch.num_experts) ** max(batch, 1)
    return mem.total_params(arch) - experts + experts * touched


def decode_step_s(arch, spec, engine_tp: int, batch: float, context: float) -> float:
    """Seconds for one decode step of `batch` sequences with `context` tokens each on average."""
    weights = 2 * decode_weight_params(arch, batch) / engine_tp
    kv = batch * context * mem.kv_bytes_per_token(arch, engine_tp)
    memory_bound = (weights + kv) / (spec.hbm_bytes_per_s * DECODE_BANDWIDTH_EFFICIENCY)
    compute_bound = 2 * mem.active_params(arch) * batch / engine_tp / (spec.bf16_flops * DECODE_MFU)
    latency = arch.num_layers * (DECODE_LAYER_LATENCY_S + (ENGINE_TP_ALLREDUCE_S if engine_tp > 1 else 0.0))
    return max(memory_bound, compute_bound) + latency


def attention_flops_per_token(arch, context: float) -> float:
    """Forward attention FLOPs per token (QK^T and AV, causal: half the context on average)."""
    return 2 * 2 * arch.num_layers * arch.num_attention_heads * arch.kv_channels * context / 2


def generate_s(c, arch, spec, lay, kv_tokens: int, prompt: float, response: float, longest: float) -> dict:
    """Generation time of one rollout and how it runs: seconds, sequences in flight, waves."""
    samples = c.rollout_batch_size * c.n_samples_per_prompt
    engines = max(lay.num_engines, 1)
    per_engine = math.ceil(samples / engines)
    reserve = prompt + NEW_TOKEN_RATIO * c.rollout_max_response_len
    fit = max(int(kv_tokens // reserve), 1) if kv_tokens > 0 else 1
    batch = max(min(per_engine, SGLANG_CONCURRENCY, fit), 1)
    waves = math.ceil(per_engine / batch)
    body = per_engine * response / batch * decode_step_s(arch, spec, lay.engine_gpus, batch, prompt + response / 2)
    tail = max(longest - response, 0.0) * decode_step_s(arch, spec, lay.engine_gpus, 1, prompt + (longest + response) / 2)
    prefill_flops = per_engine * prompt * (2 * mem.active_params(arch) + attention_flops_per_token(arch, prompt))
    prefill = prefill_flops / (lay.engine_gpus * spec.bf16_flops * PREFILL_MFU)
    return {"seconds": body + tail + prefill, "in_flight": batch, "waves": waves, "tail": tail}


def forward_flops(arch, tokens: float, context: float) -> float:
    return tokens * (2 * mem.active_params(arch) + attention_flops_per_token(arch, context))


def train_phases(c, arch, spec, lay, train_parts: dict, prompt: float, response: float) -> tuple[float, float]:
    """(log_probs, train) seconds on the training GPUs."""
    samples = c.rollout_batch_size * c.n_samples_per_prompt
    tokens = samples * (prompt + response)
    context = prompt + response
    fwd = forward_flops(arch, tokens, context)
    gpus_flops = max(lay.train_gpus, 1) * spec.bf16_flops
    passes = 2 if (c.use_kl_loss or c.kl_coef) else 1  # old policy, plus the reference with KL
    swap = 0.0
    if passes == 2:  # reference weights swapped in and out of the actor's buffers from host memory
        swap = 2 * train_parts["weights"] * mem.GIB / 25e9
    log_probs = passes * fwd / (gpus_flops * LOGPROB_MFU) + swap
    recompute = 1 if c.recompute_granularity == "full" else 0
    bubble = 1.0
    if lay.pp > 1:  # 1F1B: (PP − 1) idle slots per (micro-batches per DP rank)
        dp = max(lay.train_gpus // lay.model_parallel, 1)
        per_mb = micro_batch_tokens_estimate(c, lay, prompt, response)
        micro = max(c.global_batch_size * (prompt + response) / dp / per_mb, 1)
        bubble = 1 + (lay.pp - 1) / micro
    steps = max(samples // max(c.global_batch_size, 1), 1)
    train = (3 + recompute) * fwd * bubble / (gpus_flops * TRAIN_MFU) + steps * STEP_OVERHEAD_S
    if c.optimizer_cpu_offload:
        shard = (train_parts["weights"] / 2) * mem.GIB  # parameters on this GPU
        dp = max(lay.train_gpus // max(lay.tp * lay.pp, 1), 1)
        train += steps * 16 * shard / dp / CPU_ADAM_BYTES_PER_S
    return log_probs, train


def micro_batch_tokens_estimate(c, lay, prompt: float, response: float) -> float:
    if c.use_dynamic_batch_size and c.max_tokens_per_gpu:
        return max(c.max_tokens_per_gpu * lay.cp, prompt + response)
    return c.micro_batch_size * (prompt + response)


def update_weights_s(arch, lay) -> float:
    """Seconds to push new weights to the engines (bucketed conversion sets the rate)."""
    return UPDATE_FIXED_S + 2 * mem.total_params(arch) / UPDATE_BYTES_PER_S


def switch_s(lay, train_parts: dict, rollout_parts: dict) -> float:
    """Colocated: SGLang sleeps and wakes, Megatron offloads and reloads, once per rollout."""
    if not lay.colocate:
        return 0.0
    sglang = rollout_parts["weights"] + rollout_parts["kv_cache"]
    megatron = train_parts["weights"] + train_parts["grads"] + train_parts["optimizer"]
    return (sglang + megatron) * (1 / RELEASE_GIB_PER_S + 1 / RESUME_GIB_PER_S)


def step_s(lay, phases: dict, update_interval: int = 1) -> float:
    """Seconds per rollout from its phases: colocated adds up; split overlaps rollout with training."""
    if lay.colocate:
        return sum(phases.values()) + ROLLOUT_FIXED_S
    train_side = phases["log_probs"] + phases["train"]
    return max(phases["generate"], train_side) + phases["update_weights"] / max(update_interval, 1) + ROLLOUT_FIXED_S
