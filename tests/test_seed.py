"""The seed tutorial's code, with only its import lines changed, does what its text says."""

import pytest

from gym.datasets import HuggingFaceDataset
from gym.models import Qwen3_4B
from gym.slime import DATA_PATH, SlimeConfig
from gym.wandb import WandbConfig


class GSM8KDataset(HuggingFaceDataset):
    hf_repo = "zhuzilin/gsm8k"
    input_key = "messages"
    label_key = "label"

    def __init__(self, data_root):
        super().__init__(data_root)
        test_path = self.prompt_data.replace("train.parquet", "test.parquet")
        self.eval_prompt_data = ["gsm8k", test_path]

    def prepare(self):
        from datasets import load_dataset

        super().prepare()
        test_path = self.prompt_data.replace("train.parquet", "test.parquet")
        ds = load_dataset(self.hf_repo, split="test")
        ds.to_parquet(test_path)


def seed_run() -> SlimeConfig:
    base_model = Qwen3_4B()
    return SlimeConfig(
        model=base_model, dataset=GSM8KDataset(DATA_PATH),
        wandb=WandbConfig(project="slime-grpo", group="qwen3-4b-scaled"),
        ref_load=base_model.model_name,
        actor_num_nodes=4, global_batch_size=128, num_rollout=3000,
        n_samples_per_prompt=8, rollout_batch_size=64,
    )


def flag(argv: list[str], name: str, count: int = 1):
    i = argv.index(name)
    return argv[i + 1] if count == 1 else argv[i + 1:i + 1 + count]


def test_seed_production_plan():
    plan = seed_run().plan()
    assert (plan.num_nodes, plan.gpus_per_node, plan.cluster_gpus) == (4, 8, 32)
    assert plan.colocate and plan.train_gpus == 32 and plan.rollout_gpus == 32
    assert plan.dp == 32
    assert plan.samples_per_rollout == 512 and plan.global_batch_size == 128
    assert plan.steps_per_rollout == 4 and plan.total_steps == 12000
    assert plan.train_script == "train.py"
    assert plan.derived.keys() >= {"name", "rollout_num_gpus"}
    assert not plan.derived.keys() & {"global_batch_size", "rollout_batch_size", "num_rollout",
                                      "n_samples_per_prompt"}


def test_seed_production_argv():
    argv = seed_run().slime_argv()
    assert argv[0] == "/root/slime/train.py"
    assert flag(argv, "--actor-num-nodes") == "4"
    assert flag(argv, "--actor-num-gpus-per-node") == "8"
    assert "--colocate" in argv
    assert flag(argv, "--global-batch-size") == "128"
    assert flag(argv, "--rollout-batch-size") == "64"
    assert flag(argv, "--n-samples-per-prompt") == "8"
    assert flag(argv, "--num-rollout") == "3000"
    assert flag(argv, "--prompt-data") == "/data/zhuzilin_gsm8k/train.parquet"
    assert flag(argv, "--eval-prompt-data", 2) == ["gsm8k", "/data/zhuzilin_gsm8k/test.parquet"]
    assert flag(argv, "--input-key") == "messages" and flag(argv, "--label-key") == "label"
    assert flag(argv, "--ref-load") == "/root/.cache/huggingface/gym-models/Qwen/Qwen3-4B"
    assert flag(argv, "--wandb-project") == "slime-grpo" and flag(argv, "--wandb-group") == "qwen3-4b-scaled"


def test_seed_production_build_app():
    app = seed_run().build_app()
    assert app.name == "gym-" + seed_run().resolve().name  # the run's own deployed app (launch/app.py)
    info = app.train.info()
    assert info.gpus == [("H100", 8)]
    assert info.cluster_info.size == 4 and info.cluster_info.rdma


def test_seed_non_colocated_snippet():
    """"Non-colocated: 3 nodes train, 1 node rolls out; rollout_num_gpus auto-derived from spare nodes"."""
    run = SlimeConfig(model=Qwen3_4B(), actor_num_nodes=4, colocate=False)
    plan = run.plan()
    assert plan.num_nodes == 4 and plan.cluster_gpus == 32
    assert plan.train_gpus == 24 and plan.rollout_gpus == 8
    assert plan.actor_num_nodes == 3 and plan.train_script == "train_async.py"
    assert "rollout_num_gpus" in plan.derived
    assert any("--actor-num-nodes counts training nodes only: 3" in note for note in plan.notes)
    argv = run.slime_argv()
    assert flag(argv, "--actor-num-nodes") == "3"
    assert flag(argv, "--rollout-num-gpus") == "8"
    assert "--colocate" not in argv
    assert argv[0].endswith("train_async.py")
    info = run.build_app().train.info()
    assert info.cluster_info.size == 4  # not 8: the anchor silently doubled this


@pytest.mark.parametrize("nodes,gbs,rollouts", [(1, 16, 50), (2, 64, 200), (4, 128, 3000)])
def test_seed_scaling_table_is_the_derived_default(nodes, gbs, rollouts):
    plan = SlimeConfig(model=Qwen3_4B(), num_nodes=nodes).plan()
    assert (plan.global_batch_size, plan.num_rollout) == (gbs, rollouts)
    assert {"global_batch_size", "num_rollout", "rollout_batch_size"} <= plan.derived.keys()
    assert plan.samples_per_rollout % plan.global_batch_size == 0


def test_user_values_are_checked_never_changed():
    run = seed_run().replace(colocate=False)
    resolved = run.resolve()
    assert resolved.config.global_batch_size == 128  # kept, then reported
    assert "global_batch_size" not in resolved.derived
    assert any(p.rule == "global_batch_multiple_of_dp" for p in run.problems())


def test_num_nodes_and_actor_num_nodes_conflict():
    with pytest.raises(ValueError, match="both set the cluster size"):
        SlimeConfig(num_nodes=2, actor_num_nodes=4)
