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


# ---- config ergonomics: preset values follow the user, slime's names point to gym's ----------------

def test_preset_sequence_parallel_follows_the_users_tp():
    """Qwen3-30B-A3B's preset turns sequence parallelism on for its TP 4; with the user's TP=1 it is
    derived off (a note in the plan), not a problem the user did not cause."""
    from gym.models import Qwen3_30B_A3B
    from gym.slime.argv import build_argv

    config = SlimeConfig(model=Qwen3_30B_A3B(), tensor_model_parallel_size=1)
    assert [p.rule for p in config.problems()] == []
    resolved = config.resolve()
    assert resolved.config.sequence_parallel is False and "sequence_parallel" in resolved.derived
    assert "--sequence-parallel" not in build_argv(resolved)
    assert SlimeConfig(model=Qwen3_30B_A3B()).resolve().config.sequence_parallel is True  # preset's TP: kept
    # set by the user, the value stays theirs, and so does the warning
    explicit = SlimeConfig(model=Qwen3_30B_A3B(), tensor_model_parallel_size=1, sequence_parallel=True)
    assert [p.rule for p in explicit.problems()] == ["sequence_parallel_needs_tp"]


@pytest.mark.parametrize("kwargs,fields,text", [
    (dict(actor_num_gpus_per_node=4), ("actor_num_gpus_per_node", "gpus_per_node"),
     "actor_num_gpus_per_node=4 is slime's --actor-num-gpus-per-node, not a SlimeConfig field: set gpus_per_node"),
    (dict(rollout_num_gpu=8), ("rollout_num_gpu",), "rollout_num_gpu is not a SlimeConfig field (did you mean "
                                                    "rollout_num_gpus?)"),
    (dict(prompt_data="/data/x.jsonl"), ("prompt_data", "dataset"), "set dataset instead (e.g. dataset=gym.LocalDataset("),
    (dict(eval_max_context_len=100), ("eval_max_context_len", "extra_args"),
     "slime's --eval-max-context-len, which SlimeConfig has no field for: pass it verbatim"),
])
def test_slime_flag_names_are_config_errors_naming_gyms_field(kwargs, fields, text):
    with pytest.raises(ConfigError) as info:
        SlimeConfig(model="Qwen3-4B", **kwargs)
    (problem,) = info.value.problems
    assert problem.fields == fields
    assert text in str(info.value)
    with pytest.raises(ConfigError):  # replace() takes the same path
        SlimeConfig().replace(**kwargs)


def test_several_unknown_names_are_one_error_and_fixes_apply():
    with pytest.raises(ConfigError) as info:
        SlimeConfig(actor_num_gpus_per_node=8, rollout_num_gpu=4)
    assert len(info.value.problems) == 2
    fixed = {k: v for p in info.value.problems for k, v in p.fixes[0].changes.items()}
    assert fixed == {"gpus_per_node": 8, "rollout_num_gpus": 4}
    assert SlimeConfig(**fixed, num_nodes=1, colocate=False).resolve().layout.rollout_gpus == 4
