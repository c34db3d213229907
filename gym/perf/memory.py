"""Memory per GPU, part by part: Megatron training and one SGLang engine's KV pool.

Pure arithmetic on the architecture (gym.models) and the resolved layout; every byte count
says where it comes from. GiB = 2**30 bytes.

Training (Megatron with the distributed optimizer, as slime runs it; cf. Megatron-LM
`megatron/training/theoretical_memory_usage.py`): bf16 weights (2 B) and fp32 main grads
(4 B) per parameter on every rank of a model-parallel group, so ÷ TP·PP (experts ÷
EP·ETP·PP); fp32 master weights + two Adam moments (12 B) sharded over the data-parallel
ranks (÷ DP·CP; experts ÷ W/(EP·ETP·PP)), or in host memory with `optimizer_cpu_offload`.

Rollout (SGLang `model_runner.profile_max_num_token`): the KV pool is
`available_after_load − total·(1 − mem_fraction_static)`, i.e. about
`fraction × free − weights`, divided into tokens of `2 (K,V) × layers × KV heads × head_dim
× 2 B` each (KV heads ÷ engine TP, at least one per GPU).
"""

from __future__ import annotations

import math

GIB = float(1 << 30)

# ---- Constants (each from a measurement) ----------------------------------------------------------
CUDA_CONTEXT_GIB = 0.5
"""CUDA context + cuBLAS workspace of one process before it allocates anything (typical for
Hopper with CUDA 12; SGLang's "total" is measured after it)."""
SGLANG_LOAD_EXTRA_GIB = 0.55
"""What SGLang holds after loading weights besides the weights (sampler, rotary caches, NCCL):
row 16 of perf-calibration.md (Qwen3-32B, H100, fraction 0.90): 0.90 × (79.65 − 0.5) − 61.07 −
pool 9.54 = 0.55 GiB."""
CUDA_GRAPH_BASE_GIB = 1.48
CUDA_GRAPH_PER_LAYER_GIB = 0.0232
"""SGLang's CUDA-graph memory grows with depth: rows 16 (Qwen3-32B, 64 layers: 2.97 GiB) and
17 (Qwen3-8B, 36 layers: 2.32 GiB) fit 1.48 + 0.0232 × layers GiB."""
MEGATRON_SLEEPING_GIB = 1.5
"""What Megatron keeps on a colocated GPU while SGLang generates: its CUDA context and NCCL
communicator buffers (torch_memory_saver releases every tensor it allocated). Derived, not
measured or fitted: the context (CUDA_CONTEXT_GIB, 0.5) plus NCCL's buffers, which it allocates per
communicator and channel (NCCL_BUFFSIZE, 4 MiB by default, per peer per channel: NCCL docs, env.
variables), ~0.25 GiB for a ring of 8 with up to 32 channels, times the ~4 communicators Megatron
holds (TP, DP, PP/embedding, DP with CP): ~1 GiB. The analogous SGLang figure was measured (slime#1951:
a sleeping engine at 3.24 GiB, sglang_sleeping_gib)."""
TRAIN_OVERHEAD_GIB = 2.0
"""Megatron's own CUDA context, NCCL communicators (TP/DP/PP groups) and allocator slack at the
peak. slime#1951's log: 2.06 GiB "reserved by PyTorch but unallocated" at the OOM."""
LOGITS_FP32_COPIES = 2
"""Full-vocabulary fp32 [tokens, vocab/TP] tensors alive at once per micro-batch in the slime gym
pins (nightly 2026-08-10, after slime PRs #2144/#2152, which fused log-prob and entropy): Megatron's
Float16Module upcasts the last stage's output to fp32 (Megatron-LM megatron/core/transformer/
module.py:561-566) and that tensor is the loss's input (slime backends/megatron_utils/loss.py:
536 `assert logits.dtype == torch.float32`); `_VocabParallelLogProbEntropy.forward` then makes one
working buffer `logits - logits_max` that exp_/div_ turn into the softmax in place and that backward
reuses as the gradient (slime utils/ppo_utils.py:219-228, 326). The bf16 output is not kept: neither
the upcast's nor the output layer's backward needs it. Older slime (v0.2.4, slime#1951's trace:
`compute_log_probs(logits.clone(), ...)`) kept 3: a clone each for log-probs and entropy.
See logits_fp32_copies() for the two settings that add one each."""
MEGATRON_VOCAB_DIVISOR = 128
"""Megatron pads the vocabulary to a multiple of make_vocab_size_divisible_by (128) × TP
(megatron/training/vocab_utils.py:58): Qwen3's 151,936 at TP 2 becomes 152,064, i.e. 76,032 per
rank, the shape in slime#1951's OOM trace."""
SGLANG_DEFAULT_META_MIB = 512
"""SGLang's default mem_fraction_static reserve, verified in sgl-project/sglang
python/sglang/srt/server_args.py `_handle_gpu_memory_settings` (v0.5.x; now
srt/arg_groups/memory_hook.py `handle_gpu_memory_settings`): 512 MiB metadata + 1.5 ×
max(chunked_prefill_size, 2048) MiB activations + 2 × cuda_graph_max_bs MiB decode graphs +
TP·PP/8 GiB, at least 10 GiB on GPUs over 60 GiB; chunked_prefill_size 8192 and max_bs 256
(TP < 4) or 512 below 160 GiB, 16384 and 512 above. Newer versions add 8 MiB per prefill
(piecewise) CUDA-graph size, ~0.3 GiB, not modelled. gym always passes a fraction; this
reproduces row 17's default."""


# ---- Parameters (counted once, on the architecture: gym.models.ModelArchitecture) -----------------

def attention_params(arch) -> float:
    return arch.attention_params()


def mlp_params(arch) -> float:
    return arch.mlp_params()


def expert_params(arch) -> float:
    return arch.expert_params()


def embedding_params(arch) -> float:
    return arch.embedding_params()


def total_params(arch) -> float:
    return arch.total_params()


def active_params(arch) -> float:
    return arch.active_params()


def kv_bytes_per_token(arch, engine_tp: int = 1) -> float:
    """KV-cache bytes one token takes on one GPU of an engine: 2 × layers × KV heads/TP × head_dim × 2 B.
    KV heads are replicated when the engine has more GPUs than KV heads."""
    heads = max(arch.num_query_groups / engine_tp, 1)
    return 2 * arch.num_layers * heads * arch.kv_channels * 2


# ---- Training -------------------------------------------------------------------------------------

def train_shard_params(arch, lay) -> tuple[float, float]:
    """(dense, expert) parameters on the most loaded training GPU (the first/last pipeline stage)."""
    layers = arch.num_layers / lay.pp
    embed = embedding_params(arch) if lay.pp == 1 else arch.vocab_size * arch.hidden_size
    dense = (layers * (attention_params(arch) + mlp_params(arch) + 2 * arch.hidden_size) + embed) / lay.tp
    expert = layers * expert_params(arch) / (lay.ep * lay.etp)
    return dense, expert


def data_parallel(lay) -> int:
    """Megatron's data-parallel size, Layout.dp = W / (TP·PP·CP); 1 when that is not a whole
    number (an invalid layout still gets numbers; its own rule reports it)."""
    return lay.dp or 1


def samples_per_rank(c, lay) -> int:
    """Samples one data-parallel rank trains on per optimizer step: ceil(global_batch_size / DP)."""
    return max(math.ceil(c.global_batch_size / data_parallel(lay)), 1)


def logprob_samples_per_rank(c, lay) -> int:
    """Samples one data-parallel rank runs the log-prob passes over: the whole rollout's share,
    ceil(rollout_batch_size × n_samples_per_prompt / DP) (slime computes log-probs for the rollout
    before its optimizer steps)."""
    return max(math.ceil(c.rollout_batch_size * c.n_samples_per_prompt / data_parallel(lay)), 1)


def micro_batch_tokens(c, lay, sample_tokens: float, samples: int | None = None) -> int:
    """Tokens one training GPU holds in one micro-batch of samples of `sample_tokens` (prompt +
    response; the longest sample for memory, the mean one for time). The one formula for it.

    A context-parallel group of CP GPUs shares each sample, so one GPU holds ceil(sample / CP) of
    it. Dynamic batching packs samples first-fit into bins of max_tokens_per_gpu per GPU
    (max_tokens_per_gpu × CP per group, split over its CP ranks), and a sample longer than that
    lands alone in a bin of its own, the only bin allowed over the cap (slime utils/dp_schedule.py:
    28-32, 119-120); without it a micro-batch is micro_batch_size samples. Either way a micro-batch
    cannot hold more than the `samples` the rank has for the pass (default: one optimizer step's,
    samples_per_rank; the log-prob passes: logprob_samples_per_rank), so a huge max_tokens_per_gpu is
    bounded by the data, not the cap. Log-prob passes use --log-probs-max-tokens-per-gpu, which
    defaults to the same value (slime utils/arguments.py:1869-1870) and which gym does not set."""
    per_gpu = max(math.ceil(sample_tokens / lay.cp), 1)
    if c.use_dynamic_batch_size and c.max_tokens_per_gpu:
        tokens = max(c.max_tokens_per_gpu, per_gpu)
    else:
        tokens = c.micro_batch_size * per_gpu
    samples = samples_per_rank(c, lay) if samples is None else max(int(samples), 1)
    return int(max(min(tokens, samples * per_gpu), per_gpu))


def activation_bytes_per_token_layer(arch, tp: int, sp: bool) -> float:
    """bf16 activations one layer saves for backward per token, derived for Qwen3's block
    (RMSNorm, QK-norm, flash attention, SwiGLU, no dropout, no biases):
    norm inputs 2h + QKV and out-proj inputs h + h_q + attention Q,K,V (h_q + 2kv) + QK-norm
    inputs (h_q + kv) + attention output h_q + fc1 input h + gate/up outputs 2f + SwiGLU out f,
    × 2 bytes. The Korthikanti 34·s·h counts a GELU MLP with dropout instead.
    TP shards the head and MLP parts; sequence parallelism also shards the h-sized ones."""
    h, hq = arch.hidden_size, arch.num_attention_heads * arch.kv_channels
    kv = arch.num_query_groups * arch.kv_channels
    f = arch.moe_ffn_hidden_size * arch.moe_router_topk if arch.is_moe else arch.ffn_hidden_size
    hidden_sized = 4 * h
    sharded = 3 * hq + 3 * kv + 3 * f
    return 2 * (hidden_sized / (tp if sp else 1) + sharded / tp)


def activation_gib(c, arch, lay, tokens: int) -> float:
    """Peak activation memory of one training GPU for a micro-batch of `tokens`, by recompute setting.
    1F1B keeps PP micro-batches in flight on the first stage: PP × layers/PP = all layers' worth."""
    sp = bool(c.sequence_parallel) and lay.tp > 1
    per_layer = activation_bytes_per_token_layer(arch, lay.tp, sp) * tokens
    layers_in_flight = arch.num_layers  # (layers / PP) × PP micro-batches in flight
    if c.recompute_granularity == "full":
        # Layer inputs only (2 B × h per token, ÷ TP with SP), every `recompute_num_layers` layers,
        # plus one recomputed block's working set and its gradients during backward.
        every = max(c.recompute_num_layers or 1, 1)
        stored = 2 * arch.hidden_size / (lay.tp if sp else 1) * tokens * layers_in_flight / every
        return (stored + 2 * per_layer * every) / GIB
    # "selective" recomputes only the attention core, which flash attention never stores: as "off".
    return per_layer * layers_in_flight / GIB


def padded_vocab(arch, tp: int) -> int:
    multiple = MEGATRON_VOCAB_DIVISOR * max(tp, 1)
    return -(-arch.vocab_size // multiple) * multiple


def logits_fp32_copies(c) -> int:
    """fp32 logits copies alive at the peak of one training micro-batch (LOGITS_FP32_COPIES), plus one
    when `rollout_temperature` ≠ 1 (slime loss.py:541-543 divides out of place: `logits / T`), plus
    one when `entropy_coef` ≠ 0 (the entropy gradient keeps the logits for backward and allocates
    `sum_softmax_times_logits - logits`, ppo_utils.py:287, 321)."""
    return (LOGITS_FP32_COPIES + (getattr(c, "rollout_temperature", 1.0) != 1.0)
            + (bool(getattr(c, "entropy_coef", 0.0))))


def logits_gib(arch, lay, tokens: int, copies: int = LOGITS_FP32_COPIES) -> float:
    """fp32 logits copies of one micro-batch on the last stage, padded vocab ÷ TP."""
    per_copy = tokens * padded_vocab(arch, lay.tp) / lay.tp
    return per_copy * 4 * copies / GIB


def train_memory(c, arch, lay, prompt_max: int) -> dict[str, float]:
    """Training memory of the most loaded GPU, GiB by part (weights, grads, optimizer, activations,
    logits, reference, overhead)."""
    dense, expert = train_shard_params(arch, lay)
    # The distributed optimizer shards over the data-parallel group including CP (DP × CP ranks);
    # expert weights over the expert data-parallel group W / (EP·ETP·PP).
    optimizer_ranks = data_parallel(lay) * lay.cp
    expert_dp = max(lay.train_gpus // max(lay.ep * lay.etp * lay.pp, 1), 1)
    optimizer = 0.0 if c.optimizer_cpu_offload else 12 * (dense / optimizer_ranks + expert / expert_dp)
    longest = prompt_max + c.rollout_max_response_len
    tokens = micro_batch_tokens(c, lay, longest)
    # The fp32 logits peak in whichever pass forms the larger micro-batch: a training step's, or a
    # log-prob pass over the rollout's share (no stored activations there; counting the training
    # activations with the larger logits is a slight over-estimate when the log-prob one is larger).
    logits_tokens = max(tokens, micro_batch_tokens(c, lay, longest, logprob_samples_per_rank(c, lay)))
    return {
        "weights": 2 * (dense + expert) / GIB,
        "grads": 4 * (dense + expert) / GIB,
        "optimizer": optimizer / GIB,
        "activations": activation_gib(c, arch, lay, tokens),
        "logits": logits_gib(arch, lay, logits_tokens, logits_fp32_copies(c)),
        # slime keeps the reference weights in host memory and swaps them into the actor's own
        # buffers for the ref log-prob pass (megatron_utils actor: weights backuper): no GPU copy.
        "reference": 0.0,
        "overhead": TRAIN_OVERHEAD_GIB + CUDA_CONTEXT_GIB + (sglang_sleeping_gib(arch) if lay.colocate else 0.0),
    }


def sglang_sleeping_gib(arch) -> float:
    """What a sleeping SGLang engine keeps on a colocated GPU during training: its context, load
    extras and CUDA graphs (release_memory_occupation frees weights and KV only). For Qwen3-4B
    this is 3.35 GiB; slime#1951's OOM log (Qwen3-4B, 4 × H200 colocated) measured the sleeping
    engine at "3.24 GiB memory in use"."""
    return CUDA_CONTEXT_GIB + SGLANG_LOAD_EXTRA_GIB + cuda_graph_gib(arch)


# ---- Rollout --------------------------------------------------------------------------------------

def cuda_graph_gib(arch) -> float:
    return CUDA_GRAPH_BASE_GIB + CUDA_GRAPH_PER_LAYER_GIB * arch.num_layers


def sglang_default_fraction(gpu_memory_gib: float, engine_tp: int) -> float:
    """SGLang's own mem_fraction_static when none is given (v0.5 server_args), for comparisons."""
    mib = gpu_memory_gib * 1024
    if mib < 90 * 1024:
        chunk, graph_bs = 8192, 256 if engine_tp < 4 else 512
    elif mib < 160 * 1024:
        chunk, graph_bs = 8192, 256 if engine_tp < 4 else 512
    else:
        chunk, graph_bs = 16384, 512
    reserved = SGLANG_DEFAULT_META_MIB + 1.5 * chunk + 2 * graph_bs + engine_tp / 8 * 1024
    if mib > 60 * 1024:  # a 10 GiB floor on large GPUs (binding only for small chunked prefill)
        reserved = max(reserved, 10 * 1024)
    return round((mib - reserved) / mib, 3)


def rollout_memory(c, arch, lay, gpu_memory_gib: float) -> tuple[dict[str, float], int, float]:
    """One engine GPU during rollout: (GiB by part: weights, kv_cache, cuda_graphs, overhead;
    tokens the engine's KV pool holds; the pool in GiB before clipping at 0, negative when the
    weights alone exceed the fraction)."""
    g = lay.engine_gpus
    weights = 2 * total_params(arch) / g / GIB
    free = gpu_memory_gib - CUDA_CONTEXT_GIB
    pool = c.sglang_mem_fraction_static * free - weights - SGLANG_LOAD_EXTRA_GIB
    tokens = max(pool, 0.0) * GIB / kv_bytes_per_token(arch, g)
    parts = {
        "weights": weights,
        "kv_cache": max(pool, 0.0),
        "cuda_graphs": cuda_graph_gib(arch),
        "overhead": CUDA_CONTEXT_GIB + SGLANG_LOAD_EXTRA_GIB + (MEGATRON_SLEEPING_GIB if lay.colocate else 0.0),
    }
    return parts, int(tokens), pool
