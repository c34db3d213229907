"""The model's memory verdict: what cannot fit (errors, with the breakdown and fixes that do fit)
and what is close to the limit (warnings above PEAK_WARNING_SHARE of the GPU).

Errors only for what the model says cannot fit:
- training: weights + grads + optimizer alone over the GPU, or the whole peak (with activations
  and the fp32 logits of the largest micro-batch) over it;
- rollout: a KV pool that cannot hold one sample of maximum length (including a negative pool:
  the weights alone exceed the memory fraction), or (colocated) SGLang's share plus Megatron's
  sleeping residual over the GPU.
Non-colocated engines manage their own (1 − fraction) reserve, so only their KV pool is judged.
"""

from __future__ import annotations

from gym.errors import Fix, Problem
from gym.perf import memory as mem

# Refused: a training peak above 100% of the GPU. Warned: from PEAK_WARNING_SHARE (90%) up to 100%.
# No grace above 100%: the static parts (weights, grads, optimizer) match Megatron's
# theoretical_memory_usage within 0.2% and the KV pools SGLang's logs within 1.3% (rows 16, 17), and a
# config the model says exceeds the GPU is one it expects to fail; the warning band below 100% is
# where the derived parts (activations, fp32 logits) leave too little room to be sure it runs.
TRAIN_RULE = "memory_fits"
KV_RULE = "kv_pool_fits"
ROLLOUT_RULE = "memory_fraction_range"
"""Colocated rollout peak verdicts keep the name of the rule they replace (a fixed 0.85 cap)."""


def _breakdown(parts: dict[str, float]) -> str:
    return " + ".join(f"{name} {gib:.1f}" for name, gib in parts.items() if gib >= 0.05)


def memory_problems(r, spec, train: dict, rollout: dict, kv_tokens: int, pool: float, longest: int) -> list[Problem]:
    from gym.perf import PEAK_WARNING_SHARE

    c, lay = r.config, r.layout
    cap = spec.memory_gib
    out: list[Problem] = []
    static = train["weights"] + train["grads"] + train["optimizer"]
    peak = sum(train.values())
    where = f"per training GPU ({spec.name}, {cap:.1f} GiB)"
    if static > cap:
        out.append(Problem(
            ("tensor_model_parallel_size", "optimizer_cpu_offload"),
            f"weights + grads + optimizer = {_breakdown({k: train[k] for k in ('weights', 'grads', 'optimizer')})} = "
            f"{static:.1f} GiB > {cap:.1f} GiB {where}: cannot fit before any activation",
            _fixes(r, "train"), rule=TRAIN_RULE))
    elif peak > cap:
        tokens = mem.micro_batch_tokens(c, lay, longest, mem.logprob_samples_per_rank(c, lay))
        out.append(Problem(
            ("max_tokens_per_gpu", "tensor_model_parallel_size", "recompute_granularity"),
            f"training peak = {_breakdown(train)} = {peak:.1f} GiB > {cap:.1f} GiB {where} (micro-batch of "
            f"{tokens:,} tokens): out of memory", _fixes(r, "train"), rule=TRAIN_RULE))
    elif peak > PEAK_WARNING_SHARE * cap:
        out.append(Problem(
            ("max_tokens_per_gpu", "tensor_model_parallel_size"),
            f"training peak {peak:.1f} GiB is {peak / cap:.0%} of {cap:.1f} GiB {where} ({_breakdown(train)}): "
            "little headroom for fragmentation", _fixes(r, "train", warn=True), severity="warning", rule=TRAIN_RULE))

    if kv_tokens < longest:
        out.append(Problem(
            ("sglang_mem_fraction_static", "rollout_num_gpus_per_engine", "rollout_max_response_len"),
            f"SGLang KV pool = fraction × free − weights = {c.sglang_mem_fraction_static} × "
            f"{cap - mem.CUDA_CONTEXT_GIB:.1f} − {rollout['weights']:.1f} − {mem.SGLANG_LOAD_EXTRA_GIB} = {pool:.1f} GiB "
            f"= {kv_tokens:,} tokens per engine, less than one sample of prompt + response = {longest:,} tokens",
            _fixes(r, "kv"), rule=KV_RULE))
    if lay.colocate:
        rpeak = sum(rollout.values())
        text = (f"colocated rollout peak = {_breakdown(rollout)} (Megatron asleep in 'overhead') = {rpeak:.1f} GiB")
        if rpeak > cap:
            out.append(Problem(("sglang_mem_fraction_static",), f"{text} > {cap:.1f} GiB per GPU: out of memory",
                               _fixes(r, "rollout"), rule=ROLLOUT_RULE))
        elif rpeak > PEAK_WARNING_SHARE * cap:
            out.append(Problem(("sglang_mem_fraction_static",),
                               f"{text} is {rpeak / cap:.0%} of {cap:.1f} GiB per GPU (sglang_mem_fraction_static="
                               f"{c.sglang_mem_fraction_static}): little room for Megatron's residual and SGLang's "
                               "activations", _fixes(r, "rollout", warn=True), severity="warning", rule=ROLLOUT_RULE))
    return out


# ---- Fixes: candidate changes, kept only when the model says they fit -----------------------------

def _candidates(r, kind: str) -> list[dict]:
    c, lay, arch = r.config, r.layout, r.model.architecture
    out: list[dict] = []
    if kind == "train":
        for tp in (2, 4, 8):
            if tp > lay.tp and arch.num_attention_heads % tp == 0 and lay.train_gpus % (tp * lay.pp * lay.cp) == 0 \
                    and (arch.num_query_groups % tp == 0 or tp % arch.num_query_groups == 0):
                out.append({"tensor_model_parallel_size": tp, "sequence_parallel": True})
        if not c.optimizer_cpu_offload:
            out.append({"optimizer_cpu_offload": True})
        if c.recompute_granularity != "full":
            out.append({"recompute_granularity": "full", "recompute_method": "uniform", "recompute_num_layers": 1})
        if c.use_dynamic_batch_size and c.max_tokens_per_gpu:
            for tokens in (c.max_tokens_per_gpu * 3 // 4, c.max_tokens_per_gpu // 2, c.max_tokens_per_gpu // 4):
                tokens = max(tokens // 1024 * 1024, 1024)
                if tokens < c.max_tokens_per_gpu:
                    out.append({"max_tokens_per_gpu": tokens})
        for pp in (2, 4):
            if pp > lay.pp and arch.num_layers % pp == 0 and lay.train_gpus % (lay.tp * pp * lay.cp) == 0:
                out.append({"pipeline_model_parallel_size": pp})
    elif kind == "kv":
        for f in (0.7, 0.8, 0.85, 0.9):
            if f > c.sglang_mem_fraction_static:
                out.append({"sglang_mem_fraction_static": f})
        for g in (2, 4, 8):
            if g > lay.engine_gpus and arch.num_attention_heads % g == 0 and lay.rollout_gpus % g == 0:
                out.append({"rollout_num_gpus_per_engine": g})
        out.append({"rollout_max_response_len": max(c.rollout_max_response_len // 2, 256)})
    else:  # rollout peak (colocated)
        for f in (0.8, 0.7, 0.6, 0.5):
            if f < c.sglang_mem_fraction_static:
                out.append({"sglang_mem_fraction_static": f})
    return out


def _fixes(r, kind: str, warn: bool = False) -> tuple[Fix, ...]:
    """Up to three candidate changes after which the model says the config fits (no error, peaks
    within the GPU; for warnings, no problem of this kind at all)."""
    from gym.perf import estimate

    global _searching
    if _searching:  # judging a candidate: its own fixes are not needed
        return ()
    rule = {"train": TRAIN_RULE, "kv": KV_RULE, "rollout": ROLLOUT_RULE}[kind]
    found = []
    _searching = True
    try:
        for changes in _candidates(r, kind):
            try:
                est = estimate(r.config.replace(**changes))
            except Exception:  # a candidate the config itself refuses: not a fix
                continue
            same = [p for p in est.problems if p.rule == rule]
            if est.fits and not any(p.severity == "error" for p in est.problems) and not (warn and same):
                found.append(Fix(changes))
            if len(found) == 3:
                break
    finally:
        _searching = False
    return tuple(found)


_searching = False
