"""The smoke run: the cheapest real proof that a launch works end to end.

Qwen3-0.6B (public, no secrets) on GSM8K, 2 rollouts of short responses, eval off, a checkpoint
after every rollout; then the pipeline runs one more rollout as a *resume* of those checkpoints
(`SMOKE_STAGES`), so one launch proves download, prepare, the Ray cluster, training, saving and
resuming. Its price bound is printed before it starts (1 node, 2 GPUs: about $6; multi-node
clusters take whole 8-GPU hosts).

    gym.smoke_config()                      # 1 node, colocated
    gym.smoke_config(num_nodes=2)           # + cluster discovery, Ray joins, RDMA, cross-node saves
    gym.smoke_config(num_nodes=2, colocate=False)

No modal import here: `import gym` stays light.
"""

from __future__ import annotations

SMOKE_PREFIX = "gym-smoke-"
"""Run names of smoke runs (launch() runs a config with this name and 3 rollouts in SMOKE_STAGES)."""
SMOKE_ROLLOUTS = 2
"""Rollouts of the first stage; each one is saved."""
SMOKE_STAGES = (SMOKE_ROLLOUTS, SMOKE_ROLLOUTS + 1)
"""num_rollout of each stage: the second resumes from the first's checkpoint and runs one more."""


def smoke_config(num_nodes: int = 1, colocate: bool = True):
    """The smoke run's SlimeConfig: Qwen3-0.6B, 2 rollouts (+1 resumed), 256-token responses,
    eval off, save every rollout, no W&B. Its name depends only on the layout, so a relaunch
    resumes it."""
    from gym.datasets import GSM8K
    from gym.models import Qwen3_0_6B
    from gym.slime.config import SlimeConfig

    mode = "colo" if colocate else "split"
    return SlimeConfig(
        model=Qwen3_0_6B(), dataset=GSM8K(), name=f"{SMOKE_PREFIX}{num_nodes}n-{mode}",
        num_nodes=num_nodes, colocate=colocate,
        gpus_per_node=2 if num_nodes == 1 else 8,  # one node may take part of a host: 2 GPUs cost a quarter
        rollout_batch_size=8, n_samples_per_prompt=4,  # to keep the smoke run short
        num_rollout=SMOKE_STAGES[-1], rollout_max_response_len=256,
        eval_interval=0, save_interval=1, keep_checkpoints=2)
