"""Seconds per rollout by phase, from the GPU's specs and a few named efficiencies.

Phases (slime `train.py`, colocated: they add up; `train_async.py`, split: generation of rollout
k+1 overlaps training on k, so the slower side sets the pace):

- generate: prefill (compute-bound) + decode. A decode step reads the engine's weights (for MoE,
  every expert the batch is routed to: nearly all of them at batch ≥ 64) and the
  KV cache of every running sequence (memory-bound), unless 2·N·batch FLOPs take longer
  (compute-bound at large batch); every step also pays a per-layer launch latency. Sequences in
  flight per engine are capped by the KV pool and SGLang's concurrency; more samples than that
  run in waves. The long tail: the longest response keeps decoding nearly alone after the
  average one has finished. Response lengths follow a distribution around their mean, clipped
  at the cap (expected_longest_response): the longest of a rollout's samples reaches the cap only
  when the mean is close to it.
- log_probs: Megatron forward passes over every token for the old policy (and the reference
  with KL), 2·N FLOPs per token plus attention.
- train: 6·N FLOPs per token, + 2·N with full recompute, at a model-FLOP utilisation (lower for
  fine-grained MoE: grouped expert GEMMs and token dispatch, MOE_TRAIN_MFU).
- update_weights: slime converts Megatron shards to Hugging Face tensors in buckets and pushes
  them (CUDA IPC colocated, NCCL over RDMA split); the conversion sets the rate.
- switch (colocated only): SGLang releases its weights and KV cache, Megatron wakes, and back.

Every efficiency constant names the measurement in ../shared/reference/perf-calibration.md it
was fitted to (row numbers); scripts/calibrate_perf.py shows predicted vs measured for each row.
The mixture-of-experts constants come from published Megatron and vLLM measurements outside that
file (each cited where it is defined), not from any RL step time.
"""

from __future__ import annotations

import math

from gym.perf import memory as mem

# ---- Rollout (SGLang) -----------------------------------------------------------------------------
DECODE_BANDWIDTH_EFFICIENCY = 0.6
"""Share of HBM bandwidth a decode step achieves (weights + KV reads). Set with rows 3 and 7 in
view (Qwen3-0.6B on H100, Qwen3-VL-4B on H200; slime colocated) and row 13 (NeMo-RL, Llama 8B);
vLLM's kernel benchmarks stream weights at 75-87% of peak (MOE_DECODE_LAYER_LATENCY_S), the rest is
KV reads, attention and sampling. Row 7's only published rollout phase comes out at 0.69x of its 62 s."""
DECODE_LAYER_LATENCY_S = 40e-6
"""Fixed cost per layer per decode step (kernel launches within a CUDA graph, sampling, scheduler):
row 3's 0.6B model cannot decode faster than ~500 tokens/s per sequence on H100."""
ENGINE_TP_ALLREDUCE_S = 12e-6
"""Two all-reduces per layer per decode step when the engine spans GPUs, latency-bound at decode's
small messages: ~6 us each, the small-message all-reduce latency NCCL reaches over NVLink on 8 × H100
(nccl-tests all_reduce_perf, 8 B-64 KiB: 5-8 us; SGLang's custom all-reduce, used for such sizes, is
in the same range). Not fitted to any row."""
DECODE_MFU = 0.45
"""Large-batch decode becomes compute-bound at this share of peak. Not fitted: no calibration row is
compute-bound in decode (at their batches the weight and KV reads dominate), so the value only bounds
huge batches; it is the prefill utilisation below less the attention and sampling overheads decode
adds, a judgement, stated as one."""
PREFILL_MFU = 0.5
"""Prompt prefill, compute-bound: chunked prefill of 8k-token chunks runs the same GEMMs as a training
forward pass at inference precision, without backward; Megatron's dense pre-training MFU on H100 is
41-48% (DENSE_PRETRAIN_MFU below) and inference-only forward GEMMs sit at or above it, hence 0.5. The
prompts of every calibration row are short (prefill < 2% of generation), so no row constrains it."""
SGLANG_CONCURRENCY = 512
"""slime's --sglang-server-concurrency default: requests in flight per engine."""
NEW_TOKEN_RATIO = 0.4
"""SGLang admits a request when the KV pool holds its prompt plus this share of its maximum new
tokens: SGLang's scheduler starts new_token_ratio at SGLANG_INIT_NEW_TOKEN_RATIO = 0.7 and decays it
by equal steps over SGLANG_NEW_TOKEN_RATIO_DECAY_STEPS = 600 decode steps to 0.7 ×
SGLANG_MIN_NEW_TOKEN_RATIO_FACTOR (0.14) ≈ 0.1 (sglang srt/environ.py, scheduler
`init_new_token_ratio`, `min_new_token_ratio`, `new_token_ratio_decay`); 0.4 is the midpoint of that
decay (admission happens throughout it): a modelling choice, not a fit."""

# ---- Training (Megatron) --------------------------------------------------------------------------
TRAIN_MFU = 0.3
"""Model-FLOP utilisation of Megatron's forward/backward on packed RL batches (variable lengths,
dynamic batching, bf16). The value that centres the published dense whole steps (in-sample median
ratio 1.00 after issue 18's recalibration; rows 11 and 13, NeMo-RL 32B and 8B, where training is the
largest phase, come out 1.28x and 1.09x, i.e. they ran at or above it). The only published train
phase, row 7 (Relax, Qwen3-VL-4B with its real script: global batch 512, TP 2, KL), took 42 s where
0.3 predicts 18.5 s: ~0.13 effective, with its vision tower and image tokens not modelled. So RL
training runs at 0.13-0.3+ of peak across stacks; the step band (STEP_RANGE_FACTOR) carries that."""
LOGPROB_MFU = 0.3
"""Forward-only passes for old/ref log-probs: same kernels, same utilisation."""
STEP_OVERHEAD_S = 1.0
"""Per optimizer step: gradient all-reduce/reduce-scatter, Adam, micro-batch scheduling (row 3:
a 0.6B model's step is dominated by such fixed costs)."""
CPU_ADAM_BYTES_PER_S = 20e9
"""optimizer_cpu_offload: Adam on the host streams 16 B per parameter shard (fp32 master, 2
moments, grad) through host memory at ~20 GB/s per GPU (overlap-cpu-optimizer-d2h-h2d on). Bounds,
not a fit: a 2-socket host has ~300-600 GB/s of DRAM bandwidth shared by 8 GPUs' optimizer threads
(40-75 GB/s each), and the grads/params cross PCIe 5.0 x16 (64 GB/s per direction theoretical,
~50 measured pinned); Adam's read-modify-write of 4 fp32 tensors and the CPU threads' own limits
leave ~20, the order DeepSpeed reports for its CPU Adam (ZeRO-Offload, arXiv 2101.06840: the CPU
step is 5-7x faster than PyTorch's, ~1 s per billion parameters per GPU). No calibration row uses it."""
ROLLOUT_FIXED_S = 3.0
"""Per rollout: reward scoring, data loading, Ray round trips and logging (row 3's 26 s step
leaves ~3 s unexplained by the phases)."""

# ---- Mixture of experts ---------------------------------------------------------------------------
# Training: a fine-grained MoE (routed experts narrower than the hidden size, e.g. Qwen3-30B-A3B: 128
# experts of 768 under a 2048 hidden size, top-8) spends most of its FLOPs in many small grouped GEMMs
# and pays token permutation and expert-parallel all-to-all on top, so Megatron reaches a lower share
# of peak on its active-parameter FLOPs than on a dense model of like size. gym keeps the dense RL
# utilisation (TRAIN_MFU, fitted on dense RL runs) and scales it by the MoE/dense ratio that Megatron's
# own pre-training measurements show on the same GPU: the RL-specific losses (short packed batches,
# dynamic sizes) are taken to be common to both.
DENSE_PRETRAIN_MFU = 0.41
"""Megatron-LM README ("Performance", NVIDIA/Megatron-LM@d98e8a6): dense GPT pre-training on H100,
bf16, weak-scaled from 2B to 462B parameters: MFU 41% for the smallest model up to 47-48% for the
largest ("larger GEMMs have higher arithmetic intensity"). The smallest model's 41% is the
like-for-like reference for a MoE with ~3B active parameters."""
MOE_PRETRAIN_MFU = 240.5e12 / 989e12
"""Megatron-LM PR #5728 (Qwen3 MoE recipe index, measured with the matching Megatron Bridge recipes,
median of steady-state iterations): Qwen3-30B-A3B pre-training on H100, BF16: 240.5 TFLOP/s per GPU
(234.1 before) = 24.3% of the 989 TFLOP/s peak. Corroborating: Qwen3-235B-A22B on H100 BF16 302.0
TFLOP/s (214.3 before) = 30.5%, i.e. 0.65 of the 47% dense Megatron reaches at that size; a user's
untuned 4 x 8 H100 Qwen3-30B-A3B config ~120 TFLOP/s (Megatron-LM#2762); GPT-OSS-120B BF16 on 64 H100
153-163 TFLOP/s (Megatron Bridge docs/performance-summary-archive.md, 25.11 and later)."""
MOE_TRAIN_EFFICIENCY = MOE_PRETRAIN_MFU / DENSE_PRETRAIN_MFU
"""0.59: the share of a dense model's utilisation a fine-grained MoE keeps in Megatron on H100."""
MOE_TRAIN_MFU = TRAIN_MFU * MOE_TRAIN_EFFICIENCY
"""0.18: training MFU (on active-parameter FLOPs) of a fine-grained MoE. Coarse MoEs (experts at least
as wide as the hidden size, e.g. Mixtral) keep TRAIN_MFU: Megatron trains Mixtral 8x22B at 49.3% MFU
on H100 (MoE Parallel Folding, arXiv 2504.14960) and Mixtral 8x7B at 468 TFLOP/s (Megatron-LM MoE
README, MCore v0.9), dense-level utilisation."""
MOE_LOGPROB_MFU = LOGPROB_MFU * MOE_TRAIN_EFFICIENCY
"""Forward-only log-prob passes of a fine-grained MoE: the same grouped GEMMs and dispatch."""
MOE_DECODE_LAYER_LATENCY_S = 25e-6
"""Decode: the fixed cost one MoE layer adds to a decode step (router top-k, token-to-expert
alignment, two grouped-GEMM launches), on top of DECODE_LAYER_LATENCY_S. vLLM PR #24700's kernel
benchmarks on H100 (benchmark_moe.py, CUDA-graph replay): Mixtral 8x7B TP 2 bf16 takes 144 us at
batch 1 and 483 us at batch 64 (all 8 experts, 1.41 GB: 2.9 TB/s = 87% of HBM peak), so the batch-1
step's 352 MB explain 121 us and ~23 us is fixed; Qwen3-30B-A3B TP 1 (fp8) 40 us at batch 1 and 237
us at batch 64 (595 MB at 2.5 TB/s, 75%), so ~25 us is fixed. The same benchmarks show the expert
weights themselves stream at 75-87% of peak at batch >= 64, no worse than the dense decode GEMMs
(vLLM #19049, Qwen3-30B-A3B bf16 on A100 PCIe: 917 us for 1.19 GB at batch 64 = 84%), so decode
keeps DECODE_BANDWIDTH_EFFICIENCY for the bytes."""


def fine_grained_moe(arch) -> bool:
    """True for an MoE whose routed experts are narrower than the hidden size (Qwen3-MoE, DeepSeek):
    the case Megatron's measurements show at lower utilisation than dense (MOE_TRAIN_EFFICIENCY)."""
    return bool(arch.is_moe and arch.moe_ffn_hidden_size < arch.hidden_size)


def train_mfu(arch) -> float:
    """Training utilisation for this architecture: MOE_TRAIN_MFU for fine-grained MoE, else TRAIN_MFU."""
    return MOE_TRAIN_MFU if fine_grained_moe(arch) else TRAIN_MFU


def logprob_mfu(arch) -> float:
    """Log-prob pass utilisation: MOE_LOGPROB_MFU for fine-grained MoE, else LOGPROB_MFU."""
    return MOE_LOGPROB_MFU if fine_grained_moe(arch) else LOGPROB_MFU


# ---- Switching and weight updates -----------------------------------------------------------------
SWITCH_FIXED_S = 5.6
"""Colocated switching, per rollout, besides the bytes copied: SGLang releases its weights and KV
cache (torch_memory_saver unmaps them: no copy, slime refills the weights by the update) and
resumes them, Megatron pauses and wakes, and the Ray calls between. Fitted to the two published
slime-style switches of Qwen3-4B: row 6 (4 × A6000: sleep 5.3 s + wake 2.2 s = 7.5 s) leaves 5.9 s
after its host copies, row 7 (Relax, 8 × H200, TP 2: 11 s with the 4.4 s update) leaves 5.3 s; 5.6 is
their mean (each within 6%). Row 16's standalone SGLang release (11.8 s for 70.6 GiB) is not this
path: it backs its weights up to host memory, which slime does not (BENCHMARKS.md)."""
HOST_COPY_BYTES_PER_S = 25e9
"""Host <-> GPU copies per GPU: what pinned PCIe 4.0 x16 sustains (NVIDIA bandwidthTest: ~25 of 32
GB/s), conservative for PCIe 5.0 hosts. Used for what Megatron backs up to host memory while it
sleeps (its bf16 weights and its optimizer shard, out and back: switch_s) and for the reference
weights swapped in for the KL pass (REF_SWAP_BYTES_PER_S). Not fitted: rows 6 and 7 copy 18.7 and
15.0 GiB each way, 1.6 s and 1.3 s of their switching at this rate."""
REF_SWAP_BYTES_PER_S = HOST_COPY_BYTES_PER_S
"""With a KL term slime swaps the reference weights from pinned host memory into the actor's
buffers for the reference log-prob pass, and back (megatron_utils actor: weights backuper)."""
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
"""The step-time band of dense models: point ÷ and × this. It contains every published dense step
time (gym.perf.calibration.step_ratio_range: in sample 0.65-1.28, the lowest Relax's row 7; out of
sample 0.95), the untuned slime row 1 (0.06, the report's own worst case) aside; high/low = 2.4.
tests/test_perf.py fails when a recalibration leaves a row outside."""
MOE_STEP_RANGE_FACTOR = 2.0
"""The band of fine-grained MoE models (Qwen3-30B-A3B): NeMo-RL's published steps come out at
0.51-0.83 of measured (out of sample, gym.perf.calibration), outside the dense band; ×/÷ 2.0 contains
them (the slowest, v0.4's 1-step-off row, at 0.51), so high/low = 4: an honest, wide band."""


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
    per_layer = DECODE_LAYER_LATENCY_S + (ENGINE_TP_ALLREDUCE_S if engine_tp > 1 else 0.0)
    if arch.is_moe:
        per_layer += MOE_DECODE_LAYER_LATENCY_S
    latency = arch.num_layers * per_layer
    return max(memory_bound, compute_bound) + latency


def attention_flops_per_token(arch, context: float) -> float:
    """Forward attention FLOPs per token (QK^T and AV, causal: half the context on average)."""
    return 2 * 2 * arch.num_layers * arch.num_attention_heads * arch.kv_channels * context / 2


def expected_longest_response(mean: float, cap: float, samples: int) -> float:
    """The expected longest of a rollout's `samples` responses, in tokens.

    Response lengths are taken to be exponentially distributed and clipped at the cap (a response
    that reaches `rollout_max_response_len` is truncated there), with `mean` the mean of the clipped
    lengths, what a run logs. The scale θ solves θ·(1 − e^(−cap/θ)) = mean, and the expected maximum
    of N clipped lengths is ∫₀^cap 1 − (1 − e^(−x/θ))^N dx (≈ θ·H_N, the N-th harmonic number, when the
    cap is far). Evidence: row 7 of perf-calibration.md (Relax, Qwen3-VL-4B) logged a mean of 1,363 and
    a maximum of 9,324 over 512 samples; the exponential gives 1,363 × H_512 = 9,270 unclipped (0.6% off),
8,640 clipped at that cap (7% low). A mean
    at the cap means every response is truncated: the longest is the cap."""
    if mean >= cap * (1 - 1e-6):
        return float(cap)
    lo, hi = mean, mean * 1e6  # θ·(1 − e^(−cap/θ)) grows from ~mean (θ = mean ≪ cap) towards cap
    for _ in range(100):
        mid = (lo + hi) / 2
        if mid * -math.expm1(-cap / mid) < mean:
            lo = mid
        else:
            hi = mid
    theta, n, steps = (lo + hi) / 2, max(int(samples), 1), 256
    upper = min(cap, theta * (math.log(n) + 30))  # beyond: P(longest > x) < n·e^(−x/θ) ≈ 1e-13
    h = upper / steps

    def survival(x: float) -> float:  # P(longest > x)
        return 1 - (-math.expm1(-x / theta)) ** n

    odd = sum(survival((2 * i - 1) * h) for i in range(1, steps // 2 + 1))
    even = sum(survival(2 * i * h) for i in range(1, steps // 2))
    return min(h / 3 * (survival(0) + 4 * odd + 2 * even + survival(upper)), float(cap))


def generate_s(c, arch, spec, lay, kv_tokens: int, prompt: float, response: float, longest: float) -> dict:
    """Generation time of one rollout and how it runs: seconds, sequences in flight, waves.
    `longest` is the rollout's longest response (expected_longest_response), whose decoding past the
    mean runs nearly alone: the tail."""
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
        swap = 2 * train_parts["weights"] * mem.GIB / REF_SWAP_BYTES_PER_S
    log_probs = passes * fwd / (gpus_flops * logprob_mfu(arch)) + swap
    recompute = 1 if c.recompute_granularity == "full" else 0
    bubble = 1.0
    if lay.pp > 1:  # 1F1B: (PP − 1) idle slots per (micro-batches per DP rank)
        per_gpu = mem.micro_batch_tokens(c, lay, prompt + response)  # mean-length samples
        micro = max(mem.samples_per_rank(c, lay) * (prompt + response) / (per_gpu * lay.cp), 1)
        bubble = 1 + (lay.pp - 1) / micro
    steps = max(samples // max(c.global_batch_size, 1), 1)
    train = (3 + recompute) * fwd * bubble / (gpus_flops * train_mfu(arch)) + steps * STEP_OVERHEAD_S
    if c.optimizer_cpu_offload:
        shard = (train_parts["weights"] / 2) * mem.GIB  # parameters on this GPU
        optimizer_ranks = mem.data_parallel(lay) * lay.cp  # the distributed optimizer's shards
        train += steps * 16 * shard / optimizer_ranks / CPU_ADAM_BYTES_PER_S
    return log_probs, train


def update_weights_s(arch, lay) -> float:
    """Seconds to push new weights to the engines (bucketed conversion sets the rate)."""
    return UPDATE_FIXED_S + 2 * mem.total_params(arch) / UPDATE_BYTES_PER_S


def switch_s(lay, train_parts: dict, rollout_parts: dict) -> float:
    """Colocated: SGLang sleeps and wakes, Megatron backs up its weights and optimizer shard to host
    memory and restores them, once per rollout: SWITCH_FIXED_S + 2 × those bytes / HOST_COPY_BYTES_PER_S.
    SGLang's weights and KV cache are unmapped, not copied (rollout_parts: unused, kept for callers)."""
    if not lay.colocate:
        return 0.0
    backed_up = (train_parts["weights"] + train_parts["optimizer"]) * mem.GIB
    return SWITCH_FIXED_S + 2 * backed_up / HOST_COPY_BYTES_PER_S


def step_s(lay, phases: dict, update_interval: int = 1, overlapped: bool | None = None) -> float:
    """Seconds per rollout from its phases. Placement and schedule are separate choices: slime's
    `train.py` (sync) adds the phases up on any placement; only `train_async.py` (split placement)
    overlaps generating rollout k+1 with training on k, so the slower side sets the pace.
    `overlapped` defaults to "split" (gym's default script for a split placement)."""
    if overlapped is None:
        overlapped = not lay.colocate
    if not overlapped:
        return sum(phases.values()) + ROLLOUT_FIXED_S
    train_side = phases["log_probs"] + phases["train"]
    return max(phases["generate"], train_side) + phases["update_weights"] / max(update_interval, 1) + ROLLOUT_FIXED_S
