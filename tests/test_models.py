"""The Qwen3 table (reference §5) and every preset × {1, 2, 4} nodes × {colocated, not}."""

import pytest

from gym import ConfigError, SlimeConfig
from gym.models import MODELS, get_model

# (layers, hidden, ffn, heads, kv groups, untied, experts) from slime's scripts/models/qwen3-*.sh
TABLE = {
    "Qwen3-0.6B": (28, 1024, 3072, 16, 8, False, None),
    "Qwen3-1.7B": (28, 2048, 6144, 16, 8, False, None),
    "Qwen3-4B": (36, 2560, 9728, 32, 8, False, None),
    "Qwen3-8B": (36, 4096, 12288, 32, 8, True, None),
    "Qwen3-14B": (40, 5120, 17408, 40, 8, True, None),
    "Qwen3-32B": (64, 5120, 25600, 64, 8, True, None),
    "Qwen3-30B-A3B": (48, 2048, 6144, 32, 4, True, 128),
}


@pytest.mark.parametrize("name", list(TABLE))
def test_architecture_matches_reference(name):
    a = get_model(name).architecture
    assert (a.num_layers, a.hidden_size, a.ffn_hidden_size, a.num_attention_heads, a.num_query_groups,
            a.untie_embeddings_and_output_weights, a.num_experts) == TABLE[name]
    assert (a.kv_channels, a.vocab_size, a.rotary_base, a.norm_epsilon) == (128, 151936, 1_000_000, 1e-6)


def test_param_counts_are_plausible():
    billions = {name: get_model(name).architecture.approx_params() / 1e9 for name in TABLE}
    assert 0.5 < billions["Qwen3-0.6B"] < 0.8
    assert 3.8 < billions["Qwen3-4B"] < 4.5
    assert 7.5 < billions["Qwen3-8B"] < 8.5
    assert 29 < billions["Qwen3-30B-A3B"] < 32
    assert 31 < billions["Qwen3-32B"] < 34


def test_moe_args():
    args = get_model("Qwen3-30B-A3B").architecture.megatron_args()
    assert args[args.index("--num-experts") + 1] == "128"
    assert args[args.index("--moe-router-topk") + 1] == "8"
    assert args[args.index("--moe-layer-freq") + 1] == "[" + ",".join(["1"] * 48) + "]"
    assert "--untie-embeddings-and-output-weights" in args
    assert "--untie-embeddings-and-output-weights" not in get_model("Qwen3-4B").architecture.megatron_args()


@pytest.mark.parametrize("alias", ["Qwen3-4B", "qwen3-4b", "Qwen/Qwen3-4B", "Qwen3_4B"])
def test_model_aliases(alias):
    assert get_model(alias).model_name == "Qwen/Qwen3-4B"


def test_unknown_model_names_nearest():
    with pytest.raises(ConfigError) as info:
        get_model("Qwen3-4")
    assert "Qwen3-4B" in str(info.value)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_preset_validates_as_shipped(name):
    plan = SlimeConfig(model=name).plan()
    assert plan.num_nodes == 1 and plan.gpu_type == "H100"


MATRIX = [(name, nodes, colocate) for name in MODELS for nodes in (1, 2, 4) for colocate in (True, False)]

# What each layout gives, and why: the only failures are 1-node splits of models whose
# TP (or TP·EP) no longer fits the 4 training GPUs left.
EXPECTED_FAILURES = {
    ("Qwen3-32B", 1, False): {"world_divisible", "engines_use_all_rollout_gpus"},  # TP 8, engines of 8 > 4 GPUs
    ("Qwen3-30B-A3B", 1, False): {"expert_world_divisible", "engines_use_all_rollout_gpus"},  # EP 8 > 4 GPUs
}


@pytest.mark.parametrize("name,nodes,colocate", MATRIX)
def test_preset_layout_matrix(name, nodes, colocate):
    config = SlimeConfig(model=name, num_nodes=nodes, colocate=colocate)
    errors = {p.rule for p in config.problems() if p.severity == "error"}
    expected = EXPECTED_FAILURES.get((name, nodes, colocate), set())
    assert errors == expected, [str(p) for p in config.problems()]
    if not expected:
        plan = config.plan()
        assert plan.cluster_gpus == nodes * 8
        assert plan.train_gpus + (0 if colocate else plan.rollout_gpus) == nodes * 8
        assert plan.samples_per_rollout % plan.global_batch_size == 0
        assert plan.global_batch_size % plan.dp == 0
    else:
        with pytest.raises(ConfigError) as info:
            config.validate()
        for p in info.value.problems:
            assert p.fixes
