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


# ---- the smoke checklist ---------------------------------------------------------------------------

CHECKLIST = (
    ("launch", "launch accepted"),
    ("pipeline", "pipeline alive across its spawned calls"),
    ("gpu", "GPU request accepted"),
    ("save", "save complete on the volume"),
    ("resume", "resumed stage printed Megatron's override line and saved a new iteration"),
    ("stopped", "every container stopped after cancel or at the end"),
    ("ray", "Ray joined without auth"),
)
"""What only a real run can settle, in the order a run reaches it. The pipeline collects each
item's evidence (pipeline.py `Evidence`) into the run's record, `record["checklist"]`."""
CONFIRMED, FAILED, NOT_REACHED = "confirmed", "failed", "not reached"


def smoke_checklist(evidence: dict) -> list[dict]:
    """The checklist from the evidence collected so far: `evidence[key] = {"ok": bool, "fact": str}`
    (the log line or fact that shows it). An item without evidence is "not reached"."""
    out = []
    for key, item in CHECKLIST:
        seen = evidence.get(key)
        status = NOT_REACHED if not seen else (CONFIRMED if seen.get("ok") else FAILED)
        out.append({"item": item, "status": status, "evidence": (seen or {}).get("fact", "")})
    return out


def format_checklist(checklist: list[dict]) -> str:
    """The checklist as text: one line per item, its status and its evidence."""
    width = max(len(c["item"]) for c in checklist) if checklist else 0
    lines = ["smoke checklist:"]
    for c in checklist:
        lines.append(f"  [{c['status']:>11}] {c['item']:<{width}}" + (f"  | {c['evidence']}" if c["evidence"] else ""))
    return "\n".join(lines)
