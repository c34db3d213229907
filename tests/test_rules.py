"""Every rule in gym.slime.rules: a config that breaks it, a config that passes it, and its fixes."""

import dataclasses
import math
import textwrap

import pytest

from gym import ConfigError, SlimeConfig, WandbConfig
from gym.datasets import LocalDataset
from gym.models import Qwen3_4B, Qwen3_14B, Qwen3_30B_A3B, Qwen3_32B, SlimePreset
from gym.slime.rules import RULES, nearest_multiples


def rules_hit(config: SlimeConfig, severity: str | None = None) -> set[str]:
    return {p.rule for p in config.problems() if severity is None or p.severity == severity}


@pytest.fixture
def local_rows(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"input": "What is 1 + 1?", "label": "2"}\n')
    return path


@pytest.fixture
def reward_module(tmp_path, monkeypatch):
    (tmp_path / "my_reward.py").write_text(textwrap.dedent("""
        async def score(args, sample, **kwargs):
            return 1.0

        def not_async(args, sample, **kwargs):
            return 1.0
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_reward"


NO_MAX_TOKENS = dataclasses.replace(Qwen3_4B(), slime=SlimePreset(max_tokens_per_gpu=None))

# rule -> (breaking configs, passing configs), as SlimeConfig keyword arguments.
CASES = {
    "check_types": ([dict(num_nodes="4"), dict(colocate=1), dict(lr="1e-6"), dict(extra_args=[1])],
                    [dict(num_nodes=4, colocate=True, lr=1e-6)]),
    "known_model": ([dict(model="Qwen3-5B")], [dict(model="qwen3-4b"), dict(model="Qwen/Qwen3-8B")]),
    "positive_counts": ([dict(num_nodes=0), dict(num_nodes=-2), dict(global_batch_size=0),
                         dict(rollout_batch_size=-1), dict(num_rollout=0)],
                        [dict(num_nodes=1, num_rollout=1)]),
    "non_negative_values": ([dict(lr=0.0), dict(entropy_coef=-0.1), dict(adam_beta2=1.5)], [dict(lr=3e-6)]),
    "gpu_type_known": ([dict(gpu_type="H1OO"), dict(gpu_type="A100-80GB"), dict(gpu_type="h100")],
                       [dict(gpu_type="H100"), dict(gpu_type="H200")]),
    "gpus_per_node_limit": ([dict(gpus_per_node=16), dict(num_nodes=2, gpus_per_node=4)],
                            [dict(gpus_per_node=4), dict(num_nodes=2, gpus_per_node=8)]),
    "colocated_rollout_gpus": ([dict(rollout_num_gpus=4), dict(num_nodes=2, rollout_num_gpus=8), dict(rollout_num_gpus=16)],
                               [dict(rollout_num_gpus=8), dict(num_nodes=2)]),
    "split_rollout_gpus": ([dict(colocate=False, rollout_num_gpus=8),
                            dict(num_nodes=2, colocate=False, rollout_num_gpus=4),
                            dict(num_nodes=2, colocate=False, rollout_num_gpus=0)],
                           [dict(colocate=False), dict(num_nodes=2, colocate=False),
                            dict(colocate=False, rollout_num_gpus=6, global_batch_size=16, rollout_batch_size=16)]),
    "train_script_matches_layout": ([dict(train_script="train_async.py"), dict(train_script="train2.py")],
                                    [dict(colocate=False, train_script="train.py"),
                                     dict(colocate=False, train_script="train_async.py")]),
    "world_divisible": ([dict(gpus_per_node=6, tensor_model_parallel_size=4)],
                        [dict(gpus_per_node=6, tensor_model_parallel_size=2)]),
    "expert_world_divisible": ([dict(model=Qwen3_30B_A3B(), expert_tensor_parallel_size=4)],
                               [dict(model=Qwen3_30B_A3B())]),
    "heads_divisible_by_tp": ([dict(model=Qwen3_14B(), num_nodes=2, tensor_model_parallel_size=16)],
                              [dict(model=Qwen3_14B(), num_nodes=2, tensor_model_parallel_size=8)]),
    "kv_groups_vs_tp": ([dict(tensor_model_parallel_size=3)], [dict(tensor_model_parallel_size=2)]),
    "layers_divisible_by_pp": ([dict(pipeline_model_parallel_size=8)], [dict(pipeline_model_parallel_size=2)]),
    "experts_divisible_by_ep": ([dict(expert_model_parallel_size=2)],
                                [dict(model=Qwen3_30B_A3B(), expert_model_parallel_size=8)]),
    "seq_length_vs_cp": ([dict(gpus_per_node=6, context_parallel_size=3)], [dict(context_parallel_size=2)]),
    "tp_within_node": ([dict(model=Qwen3_32B(), num_nodes=2, tensor_model_parallel_size=16)],
                       [dict(model=Qwen3_32B(), num_nodes=2)]),
    "sequence_parallel_needs_tp": ([dict(sequence_parallel=True)],
                                   [dict(sequence_parallel=True, tensor_model_parallel_size=2)]),
    "global_batch_multiple_of_dp": ([dict(global_batch_size=12), dict(num_nodes=4, colocate=False,
                                                                      global_batch_size=128)],
                                    [dict(global_batch_size=16), dict(num_nodes=4, global_batch_size=128)]),
    "samples_fill_whole_steps": ([dict(rollout_batch_size=3, global_batch_size=16),
                                  dict(rollout_batch_size=1, global_batch_size=16)],
                                 [dict(rollout_batch_size=4, global_batch_size=16)]),
    "dynamic_batch_needs_token_cap": ([dict(model=NO_MAX_TOKENS)],
                                      [dict(model=NO_MAX_TOKENS, max_tokens_per_gpu=8192),
                                       dict(model=NO_MAX_TOKENS, use_dynamic_batch_size=False)]),
    "sample_fits_token_cap": ([dict(max_tokens_per_gpu=2048),
                               dict(rollout_max_prompt_len=6000, max_tokens_per_gpu=9216)],
                              [dict(max_tokens_per_gpu=2048, context_parallel_size=2)]),
    "lr_warmup_within_run": ([dict(num_rollout=2, lr_warmup_iters=8)], [dict(num_rollout=2, lr_warmup_iters=7)]),
    "group_needs_two_samples": ([dict(n_samples_per_prompt=1)], [dict(n_samples_per_prompt=2)]),
    "sample_fits_context": ([dict(rollout_max_response_len=50000)], [dict(rollout_max_response_len=32768)]),
    "engine_fits_nodes": ([dict(rollout_num_gpus_per_engine=3)], [dict(rollout_num_gpus_per_engine=2)]),
    "engines_use_all_rollout_gpus": ([dict(colocate=False, rollout_num_gpus=6, rollout_num_gpus_per_engine=4,
                                           global_batch_size=2, rollout_batch_size=4)],
                                     [dict(colocate=False, rollout_num_gpus=6, rollout_num_gpus_per_engine=2,
                                           global_batch_size=2, rollout_batch_size=4)]),
    "engine_heads_divisible": ([dict(model=Qwen3_14B(), num_nodes=2, rollout_num_gpus_per_engine=16)],
                               [dict(model=Qwen3_14B(), num_nodes=2, rollout_num_gpus_per_engine=8)]),
    "memory_fraction_range": ([dict(sglang_mem_fraction_static=1.2), dict(sglang_mem_fraction_static=0.95)],
                              [dict(sglang_mem_fraction_static=0.8), dict(colocate=False, sglang_mem_fraction_static=0.9)]),
    "memory_fits": ([dict(model=Qwen3_32B(), tensor_model_parallel_size=1, optimizer_cpu_offload=False),
                     dict(max_tokens_per_gpu=131072)],
                    [dict(model=Qwen3_32B()), dict(max_tokens_per_gpu=12288)]),
    "kv_pool_fits": ([dict(model=Qwen3_32B(), rollout_num_gpus_per_engine=1)],
                     [dict(model=Qwen3_32B(), rollout_num_gpus_per_engine=2)]),
    "temperature_positive": ([dict(rollout_temperature=0.0)], [dict(rollout_temperature=0.6)]),
    "weights_interval_only_async": ([dict(update_weights_interval=2)],
                                    [dict(colocate=False, update_weights_interval=2)]),
    "known_choices": ([dict(advantage_estimator="ppo"), dict(kl_loss_type="k4"), dict(lr_decay_style="cos"),
                       dict(recompute_granularity="partial")],
                      [dict(advantage_estimator="gspo", kl_loss_type="k3", lr_decay_style="cosine")]),
    "recompute_settings": ([dict(recompute_granularity="selective", recompute_num_layers=2),
                            dict(recompute_granularity="off", recompute_method="block")],
                           [dict(recompute_granularity="selective"), dict(recompute_granularity="off"),
                            dict(recompute_granularity="full", recompute_method="block", recompute_num_layers=4)]),
    "reinforce_needs_normalization": ([dict(advantage_estimator="reinforce_plus_plus")],
                                      [dict(advantage_estimator="reinforce_plus_plus", normalize_advantages=True)]),
    "kl_exclusive": ([dict(kl_coef=0.1, kl_loss_coef=0.1)], [dict(kl_loss_coef=0.1)]),
    "kl_needs_reference": ([dict(use_kl_loss=True, kl_loss_coef=0.01, ref_load="")],
                           [dict(use_kl_loss=True, kl_loss_coef=0.01)]),
    "kl_loss_zero_coefficient": ([dict(use_kl_loss=True)], [dict(use_kl_loss=True, kl_loss_coef=0.001)]),
    "clip_range": ([dict(eps_clip=0.3, eps_clip_high=0.2), dict(eps_clip=0.0)], [dict(eps_clip_high=0.2)]),
    "lr_decay_not_linear": ([dict(lr_decay_style="linear")], [dict(lr_decay_style="cosine")]),
    "reward_defined": ([dict(rm_type=None), dict(rm_type="dapo_x"), dict(rm_type="remote_rm")],
                       [dict(rm_type="boxed_math"), dict(rm_type="remote_rm", rm_url="http://rm:8000/score")]),
    "run_name_valid": ([dict(name="my run!"), dict(name="x" * 60)], [dict(name="my-run_1.0")]),
    "run_name_one_folder": ([dict(name=".."), dict(name="."), dict(name="a/b")], [dict(name="my-run_1.0"),
                                                                                   dict(name="..x")]),
    "extra_args_known": ([dict(extra_args=["--rollout-num-gpu", "8"]), dict(extra_args=["--wandb-key", "k"]),
                          dict(extra_args=["--global-batch-size", "16"]), dict(extra_args=["--hf-token", "k"]),
                          dict(extra_args=["--sglang-api-key=k"]), dict(extra_args=["--hf-tokn", "k"])],
                         [dict(extra_args=["--rollout-top-k", "20"]), dict(extra_args=["--fim-eod-token", "<eod>"])]),
    "finite_numbers": ([dict(lr=math.nan), dict(rollout_temperature=math.inf), dict(clip_grad=math.nan),
                        dict(entropy_coef=math.inf), dict(weight_decay=-math.inf), dict(eps_clip_high=math.nan),
                        dict(sglang_mem_fraction_static=math.nan)],
                       [dict(lr=3e-6, clip_grad=0.5, entropy_coef=0.01)]),
    "sizes_within_limits": ([dict(rollout_batch_size=10**18), dict(global_batch_size=10**18 + 1),
                             dict(rollout_batch_size=10**18 + 1, n_samples_per_prompt=7),
                             dict(rollout_batch_size=2**30, n_samples_per_prompt=8), dict(num_rollout=2**31)],
                            [dict(rollout_batch_size=2**20, global_batch_size=2**20, num_rollout=2**31 - 1)]),
    "seed_in_range": ([dict(seed=2**32), dict(seed=-1), dict(seed=2**32 - 100, pipeline_model_parallel_size=2)],
                      [dict(seed=0), dict(seed=2**32 - 1)]),
    "cluster_within_modal_limit": ([dict(num_nodes=33), dict(num_nodes=100_000_000_000)], [dict(num_nodes=32)]),
    "no_credentials_in_urls": ([dict(rm_type="remote_rm", rm_url="https://user:pw@rm.example/score",
                                     wandb=WandbConfig(project="p", group="g")),
                                dict(rm_type="remote_rm", rm_url="https://rm.example/score?token=abc",
                                     wandb=WandbConfig(project="p", group="g")),
                                dict(extra_args=["--rollout-buffer-url", "http://u:pw@buffer:8889"],
                                     wandb=WandbConfig(project="p", group="g"))],
                               [dict(rm_type="remote_rm", rm_url="https://user:pw@rm.example/score"),
                                dict(rm_type="remote_rm", rm_url="https://rm.example/score?top_k=3",
                                     wandb=WandbConfig(project="p", group="g"))]),
}


def _configs(kind_index: int):
    for name, cases in CASES.items():
        for i, kwargs in enumerate(cases[kind_index]):
            yield pytest.param(name, kwargs, id=f"{name}-{i}")


@pytest.mark.parametrize("rule_name,kwargs", list(_configs(0)))
def test_rule_fails(rule_name, kwargs):
    config = SlimeConfig(**kwargs)
    assert rule_name in rules_hit(config), config.problems()


@pytest.mark.parametrize("rule_name,kwargs", list(_configs(1)))
def test_rule_passes(rule_name, kwargs):
    config = SlimeConfig(**kwargs)
    assert rule_name not in rules_hit(config), config.problems()


def test_every_rule_has_cases():
    names = {fn.__name__ for fn in RULES}
    local = {"reward_needs_label", "custom_reward_importable", "dataset_files", "eval_needs_data", "wandb_names"}
    assert names - set(CASES) == local  # these need files or objects: tested below


def _fixable_cases():
    """Failing cases whose problem carries a fix (type errors and a few rules state the fix in words)."""
    for param in _configs(0):
        rule_name, kwargs = param.values
        if rule_name in ("check_types", "known_model"):
            continue
        if any(p.fixes for p in SlimeConfig(**kwargs).problems() if p.rule == rule_name):
            yield param


FIXABLE = list(_fixable_cases())


def test_most_rules_suggest_fixes():
    assert len({p.values[0] for p in FIXABLE}) >= 35


@pytest.mark.parametrize("rule_name,kwargs", FIXABLE)
def test_first_fix_repairs_the_rule(rule_name, kwargs):
    """A suggested fix is a real fix: applying it makes that rule hold."""
    config = SlimeConfig(**kwargs)
    problem = next(p for p in config.problems() if p.rule == rule_name and p.fixes)
    fixed = config.replace(**problem.fixes[0].changes)
    assert rule_name not in rules_hit(fixed), (problem, fixed.problems())


def test_label_rule(local_rows):
    unlabelled = LocalDataset(local_rows, input_key="input")
    assert "reward_needs_label" in rules_hit(SlimeConfig(dataset=unlabelled))
    assert "reward_needs_label" not in rules_hit(SlimeConfig(dataset=unlabelled, rm_type="random"))
    labelled = LocalDataset(local_rows, input_key="input", label_key="label")
    assert "reward_needs_label" not in rules_hit(SlimeConfig(dataset=labelled))


def test_custom_reward_rule(reward_module):
    assert "custom_reward_importable" not in rules_hit(SlimeConfig(custom_rm_path="my_reward.score"))
    assert "reward_defined" not in rules_hit(SlimeConfig(rm_type=None, custom_rm_path="my_reward.score"))
    for bad in ("my_reward.not_async", "my_reward.missing", "no_such_module_xyz.score", "score"):
        problems = [p for p in SlimeConfig(custom_rm_path=bad).problems() if p.rule == "custom_reward_importable"]
        assert problems, bad
    msg = str([p for p in SlimeConfig(custom_rm_path="my_reward.not_async").problems()
               if p.rule == "custom_reward_importable"][0])
    assert "async def not_async(args, sample, **kwargs)" in msg


def test_dataset_rules(tmp_path, local_rows):
    assert "dataset_files" in rules_hit(SlimeConfig(dataset=LocalDataset(tmp_path / "missing.jsonl", label_key="l")))
    csv = tmp_path / "rows.csv"
    csv.write_text("input,label\n")
    assert "dataset_files" in rules_hit(SlimeConfig(dataset=LocalDataset(csv, label_key="label")))
    assert "dataset_files" not in rules_hit(SlimeConfig(dataset=LocalDataset(local_rows, label_key="label")))


def test_eval_rule(local_rows):
    no_eval = LocalDataset(local_rows, label_key="label")
    assert "eval_needs_data" in rules_hit(SlimeConfig(dataset=no_eval, eval_interval=5))
    assert "eval_needs_data" not in rules_hit(SlimeConfig(dataset=no_eval))
    with_eval = LocalDataset(local_rows, label_key="label", eval_source=local_rows)
    assert "eval_needs_data" not in rules_hit(SlimeConfig(dataset=with_eval, eval_interval=5))


def test_wandb_rule():
    assert "wandb_names" in rules_hit(SlimeConfig(wandb=WandbConfig(project="p")))
    assert "wandb_names" in rules_hit(SlimeConfig(wandb=WandbConfig(group="g")))
    assert "wandb_names" not in rules_hit(SlimeConfig(wandb=WandbConfig(project="p", group="g")))


def test_warnings_do_not_raise():
    config = SlimeConfig(lr_decay_style="linear", sequence_parallel=True)
    warnings = config.validate()
    assert {w.rule for w in warnings} == {"lr_decay_not_linear", "sequence_parallel_needs_tp"}
    assert all(w.severity == "warning" for w in warnings)


def test_error_lists_every_problem_with_formula_and_fixes():
    config = SlimeConfig(num_nodes=4, colocate=False, global_batch_size=128, rollout_batch_size=64,
                         gpu_type="H1OO", rollout_temperature=0.0)
    with pytest.raises(ConfigError) as info:
        config.validate()
    text = str(info.value)
    assert text.startswith("3 problems in SlimeConfig")
    assert ("global_batch_size=128 must be a multiple of micro_batch_size × DP = 1 × 24; "
            "nearest valid: 96 | 120 | 144") in text
    assert "rollout_batch_size × n_samples_per_prompt = 64 × 8 = 512 must be a multiple of global_batch_size=128" \
        not in text  # 512 = 4 × 128: that rule holds
    assert "gpu_type='H1OO' is not a Modal GPU type" in text
    assert "rollout_temperature=0.0 must be > 0" in text
    assert isinstance(info.value, ValueError)
    assert len([p for p in info.value.problems if p.severity == "error"]) == 3


def test_nearest_multiples():
    assert nearest_multiples(128, 24) == [96, 120, 144]
    assert nearest_multiples(16, 8) == [8, 24, 32]
    assert nearest_multiples(3, 8) == [8, 16, 24]


def test_zero_nodes_does_not_crash_other_rules():
    problems = SlimeConfig(num_nodes=0, gpus_per_node=0).problems()
    assert {"positive_counts"} <= {p.rule for p in problems}


# ---- Issue 18: refuse exactly what slime refuses ------------------------------------------------------

def test_trailing_samples_are_a_warning_and_fewer_than_one_step_an_error():
    # slime/utils/dp_schedule.py: num_steps = samples // global_batch_size, assert num_steps >= 1; the rest
    # is dropped. 3 prompts x 8 = 24 samples at 16 per step: one step, 8 samples dropped (slime runs it).
    trailing = SlimeConfig(rollout_batch_size=3, n_samples_per_prompt=8, global_batch_size=16)
    found = [p for p in trailing.problems() if p.rule == "samples_fill_whole_steps"]
    assert [p.severity for p in found] == ["warning"]
    assert "8 of 24 samples" in found[0].message and "dropped" in found[0].message
    trailing.validate()  # no ConfigError
    short = SlimeConfig(rollout_batch_size=1, n_samples_per_prompt=8, global_batch_size=16)
    found = [p for p in short.problems() if p.rule == "samples_fill_whole_steps"]
    assert [p.severity for p in found] == ["error"] and "at least one optimizer step" in found[0].message


def test_colocated_with_fewer_rollout_gpus_is_a_warning():
    # slime places max(training GPUs, rollout_num_gpus) when colocated (ray/placement_group.py)
    fewer = SlimeConfig(rollout_num_gpus=4)
    found = [p for p in fewer.problems() if p.rule == "colocated_rollout_gpus"]
    assert [p.severity for p in found] == ["warning"] and "4 GPU(s) sit idle" in found[0].message
    more = SlimeConfig(rollout_num_gpus=16)
    assert [p.severity for p in more.problems() if p.rule == "colocated_rollout_gpus"] == ["error"]


def test_group_of_one_says_advantages_are_zero_not_nan():
    # slime/utils/arguments.py: n_samples_per_prompt == 1 turns grpo_std_normalization off, so the
    # advantage is reward - group mean = 0, never a division by an undefined std.
    found = [p for p in SlimeConfig(n_samples_per_prompt=1).problems() if p.rule == "group_needs_two_samples"]
    assert found and "every advantage is 0" in found[0].message and "NaN" not in found[0].message
