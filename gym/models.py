"""The Qwen3 family: each model's architecture (as Megatron flags) and a slime preset.

Data, not logic. Architectures follow slime's `scripts/models/qwen3-*.sh` (identical at
the pinned image and slime HEAD; see ../shared/reference/slime-and-modal.md §5), which
match the Hugging Face `config.json` of each model. Presets are starting points that
pass validation on Modal H100 nodes; every field can be overridden on `SlimeConfig`.

Usage::

    from gym.models import Qwen3_4B
    model = Qwen3_4B()
    model.model_name            # "Qwen/Qwen3-4B"
    model.slime.num_nodes       # 1
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from gym.errors import ConfigError, Fix, Problem


@dataclass(frozen=True)
class ModelArchitecture:
    """A transformer's shape, in Megatron's vocabulary. Counts are plain integers."""

    num_layers: int
    hidden_size: int
    ffn_hidden_size: int
    """Dense MLP width (unused by MoE layers)."""
    num_attention_heads: int
    num_query_groups: int
    """Key/value heads (grouped-query attention)."""
    kv_channels: int = 128
    """Per-head dimension. Qwen3-0.6B has hidden/heads = 64, so this must be explicit."""
    vocab_size: int = 151936
    rotary_base: int = 1_000_000
    norm_epsilon: float = 1e-6
    untie_embeddings_and_output_weights: bool = False
    """True when the output projection is not the input embedding (HF tie_word_embeddings=False)."""
    max_position_embeddings: int = 40960
    """Longest context the model supports, in tokens (prompt + response)."""
    num_experts: int | None = None
    """Routed experts per MoE layer; None for dense models."""
    moe_router_topk: int | None = None
    moe_ffn_hidden_size: int | None = None

    @property
    def is_moe(self) -> bool:
        return self.num_experts is not None

    # ---- Parameter counts: the one place they are computed (gym.perf reads them from here) ----------
    def attention_params(self) -> float:
        """Q, K, V and output projections of one layer (no biases: --disable-bias-linear)."""
        return self.hidden_size * self.kv_channels * (2 * self.num_attention_heads + 2 * self.num_query_groups)

    def mlp_params(self) -> float:
        """Dense SwiGLU MLP of one layer (gate, up, down), or the router of an MoE layer."""
        if self.is_moe:
            return self.hidden_size * self.num_experts
        return 3 * self.hidden_size * self.ffn_hidden_size

    def expert_params(self) -> float:
        """All routed experts of one MoE layer (0 for dense models)."""
        return 3 * self.hidden_size * self.moe_ffn_hidden_size * self.num_experts if self.is_moe else 0.0

    def embedding_params(self) -> float:
        """Input embedding, plus the output layer when it is not tied."""
        return self.vocab_size * self.hidden_size * (2 if self.untie_embeddings_and_output_weights else 1)

    def total_params(self) -> float:
        """Every parameter: per layer attention + MLP (or router) + experts + two RMSNorm weights,
        plus the embedding(s). Qwen3-4B: 4,022,456,320."""
        return (self.num_layers * (self.attention_params() + self.mlp_params() + self.expert_params()
                                   + 2 * self.hidden_size) + self.embedding_params())

    def active_params(self) -> float:
        """Parameters one token passes through (MoE: the router's top-k experts only)."""
        if not self.is_moe:
            return self.total_params()
        return self.total_params() - self.num_layers * self.expert_params() * (1 - self.moe_router_topk / self.num_experts)

    def approx_params(self) -> float:
        """Parameter count, in parameters: total_params() (kept under its older name)."""
        return self.total_params()

    def megatron_args(self) -> list[str]:
        """The model flags slime's `scripts/models/qwen3-*.sh` passes, in that order."""
        args = [
            "--swiglu",
            "--num-layers", str(self.num_layers),
            "--hidden-size", str(self.hidden_size),
            "--ffn-hidden-size", str(self.ffn_hidden_size),
            "--num-attention-heads", str(self.num_attention_heads),
            "--group-query-attention",
            "--num-query-groups", str(self.num_query_groups),
            "--use-rotary-position-embeddings",
            "--disable-bias-linear",
            "--normalization", "RMSNorm",
            "--norm-epsilon", f"{self.norm_epsilon:g}",
            "--rotary-base", str(self.rotary_base),
            "--vocab-size", str(self.vocab_size),
            "--kv-channels", str(self.kv_channels),
            "--qk-layernorm",
        ]
        if self.untie_embeddings_and_output_weights:
            args.append("--untie-embeddings-and-output-weights")
        if self.is_moe:
            args += [
                "--num-experts", str(self.num_experts),
                "--moe-router-topk", str(self.moe_router_topk),
                "--moe-ffn-hidden-size", str(self.moe_ffn_hidden_size),
                "--moe-layer-freq", "[" + ",".join("1" * self.num_layers) + "]",
                "--moe-router-score-function", "softmax",
                "--moe-token-dispatcher-type", "alltoall",
                "--moe-grouped-gemm",
                "--moe-token-drop-policy", "probs",
                "--moe-router-dtype", "fp32",
                "--moe-permute-fusion",
                "--moe-aux-loss-coeff", "0",
            ]
        return args


@dataclass(frozen=True)
class SlimePreset:
    """Where and how a model trains by default. Every field is a `SlimeConfig` field too.

    `num_nodes` is the size of the Modal cluster (what you pay for), not slime's
    `--actor-num-nodes` (training nodes only); the two differ when rollout has its own GPUs.
    """

    gpu_type: str = "H100"
    num_nodes: int = 1
    """Nodes in the Modal cluster (containers of `gpus_per_node` GPUs)."""
    gpus_per_node: int = 8
    """GPUs per container; Modal clusters need all 8 GPUs of a host per container."""
    colocate: bool = True
    """True: training and rollout take turns on the same GPUs (slime `train.py --colocate`)."""
    tensor_model_parallel_size: int = 1
    sequence_parallel: bool = False
    pipeline_model_parallel_size: int = 1
    context_parallel_size: int = 1
    expert_model_parallel_size: int = 1
    expert_tensor_parallel_size: int | None = None
    """None means Megatron's default (= TP)."""
    rollout_num_gpus_per_engine: int = 1
    """GPUs per SGLang engine (the engine's tensor parallelism)."""
    sglang_mem_fraction_static: float = 0.7
    """Share of each rollout GPU's memory SGLang takes for weights + KV cache."""
    use_dynamic_batch_size: bool = True
    max_tokens_per_gpu: int = 9216
    """Token budget per GPU per micro-batch with dynamic batching (tokens)."""
    recompute_granularity: str | None = "full"
    recompute_method: str | None = "uniform"
    recompute_num_layers: int | None = 1
    optimizer_cpu_offload: bool = False
    """Keep Adam states in host memory (large models on one node)."""
    n_samples_per_prompt: int = 8
    rollout_max_response_len: int = 4096
    """Longest generated response, in tokens."""


@dataclass(frozen=True)
class ModelConfig:
    """A base model: its Hugging Face id, architecture and slime preset."""

    model_name: str = ""
    """Hugging Face repo id, e.g. "Qwen/Qwen3-4B"."""
    architecture: ModelArchitecture | None = None
    slime: SlimePreset = field(default_factory=SlimePreset)
    revision: str | None = None
    """Hugging Face revision (branch, tag or commit) to download; None means "main"."""
    hf_secret: str | None = None
    """Modal secret holding HF_TOKEN, for gated or private repos; None for public models."""

    @property
    def short_name(self) -> str:
        """"Qwen3-4B" for "Qwen/Qwen3-4B"."""
        return self.model_name.rsplit("/", 1)[-1]


def _dense(num_layers, hidden, ffn, heads, untie) -> ModelArchitecture:
    return ModelArchitecture(num_layers=num_layers, hidden_size=hidden, ffn_hidden_size=ffn,
                             num_attention_heads=heads, num_query_groups=8,
                             untie_embeddings_and_output_weights=untie)


@dataclass(frozen=True)
class Qwen3_0_6B(ModelConfig):
    model_name: str = "Qwen/Qwen3-0.6B"
    architecture: ModelArchitecture = _dense(28, 1024, 3072, 16, untie=False)
    slime: SlimePreset = SlimePreset()


@dataclass(frozen=True)
class Qwen3_1_7B(ModelConfig):
    model_name: str = "Qwen/Qwen3-1.7B"
    architecture: ModelArchitecture = _dense(28, 2048, 6144, 16, untie=False)
    slime: SlimePreset = SlimePreset()


@dataclass(frozen=True)
class Qwen3_4B(ModelConfig):
    """The course's model. Preset as in the seed tutorial: one node, colocated, TP 1."""

    model_name: str = "Qwen/Qwen3-4B"
    architecture: ModelArchitecture = _dense(36, 2560, 9728, 32, untie=False)
    slime: SlimePreset = SlimePreset()


@dataclass(frozen=True)
class Qwen3_8B(ModelConfig):
    model_name: str = "Qwen/Qwen3-8B"
    architecture: ModelArchitecture = _dense(36, 4096, 12288, 32, untie=True)
    slime: SlimePreset = SlimePreset(tensor_model_parallel_size=2, sequence_parallel=True,
                                     rollout_num_gpus_per_engine=2)


@dataclass(frozen=True)
class Qwen3_14B(ModelConfig):
    model_name: str = "Qwen/Qwen3-14B"
    architecture: ModelArchitecture = _dense(40, 5120, 17408, 40, untie=True)
    slime: SlimePreset = SlimePreset(tensor_model_parallel_size=4, sequence_parallel=True,
                                     rollout_num_gpus_per_engine=4, max_tokens_per_gpu=16384,
                                     optimizer_cpu_offload=True)


@dataclass(frozen=True)
class Qwen3_32B(ModelConfig):
    """Preset follows slime's scripts/run-qwen3-32B.sh: TP 8, one engine per node, CPU Adam."""

    model_name: str = "Qwen/Qwen3-32B"
    architecture: ModelArchitecture = _dense(64, 5120, 25600, 64, untie=True)
    slime: SlimePreset = SlimePreset(tensor_model_parallel_size=8, sequence_parallel=True,
                                     rollout_num_gpus_per_engine=8, max_tokens_per_gpu=20480,
                                     optimizer_cpu_offload=True)


@dataclass(frozen=True)
class Qwen3_30B_A3B(ModelConfig):
    """MoE, 128 experts, 8 active. Preset follows slime's scripts/run-qwen3-30B-A3B.sh:
    TP 4, EP 8, expert TP 1 (so ETP·EP·PP = 8 divides 8 GPUs), one engine per node."""

    model_name: str = "Qwen/Qwen3-30B-A3B"
    architecture: ModelArchitecture = ModelArchitecture(
        num_layers=48, hidden_size=2048, ffn_hidden_size=6144, num_attention_heads=32,
        num_query_groups=4, untie_embeddings_and_output_weights=True,
        num_experts=128, moe_router_topk=8, moe_ffn_hidden_size=768)
    slime: SlimePreset = SlimePreset(tensor_model_parallel_size=4, sequence_parallel=True,
                                     expert_model_parallel_size=8, expert_tensor_parallel_size=1,
                                     rollout_num_gpus_per_engine=8, max_tokens_per_gpu=20480,
                                     optimizer_cpu_offload=True)


MODELS: dict[str, type[ModelConfig]] = {
    cls().short_name: cls
    for cls in (Qwen3_0_6B, Qwen3_1_7B, Qwen3_4B, Qwen3_8B, Qwen3_14B, Qwen3_32B, Qwen3_30B_A3B)
}
"""Every bundled model by its short name ("Qwen3-4B")."""


def _key(name: str) -> str:
    return name.rsplit("/", 1)[-1].lower().replace("_", "-").replace(".", "-")


def get_model(name: str) -> ModelConfig:
    """A bundled model by name: "Qwen3-4B", "qwen3-4b", "Qwen/Qwen3-4B" or "Qwen3_4B".

    Raises ConfigError naming the closest bundled models for an unknown name.
    """
    by_key = {_key(short): cls for short, cls in MODELS.items()}
    cls = by_key.get(_key(str(name)))
    if cls is not None:
        return cls()
    close = difflib.get_close_matches(_key(str(name)), list(by_key), n=3, cutoff=0.3)
    names = {_key(short): short for short in MODELS}
    raise ConfigError([Problem(
        fields=("model",),
        message=f"model={name!r} is not a bundled model; known: {', '.join(MODELS)}",
        fixes=tuple(Fix({"model": names[k]}) for k in close),
        rule="known_model")], subject="model")
