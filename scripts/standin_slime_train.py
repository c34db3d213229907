"""Stand-in for slime's train.py in scripts/simulate_cluster.py: same argv, no GPUs, real Ray.

It does what the real entry point needs from its surroundings: every path in the argv exists,
the Ray host IP came from the node's raylet (SLIME_HOST_IP), logs are unbuffered, and it resumes
from Megatron's marker and writes one Megatron-layout save per saved rollout *from every node*,
as Megatron's ranks do: one Ray actor per simulated container (placed by its `gym_rank_<r>`
resource) writes that node's shard `__<r>_0.distcp` into that container's own view of the
checkpoint volume; the actor on `GYM_SIM_METADATA_NODE` (Megatron's rank 0, which slime places by
node IP, so on any container) then writes `.metadata` (a real torch.distributed.checkpoint
Metadata listing every shard), `common.pt`, `metadata.json` and the marker, and prints Megatron's
"successfully saved checkpoint from iteration" line; slime's rollout manager (the driver here, on
the head) writes `rollout/global_dataset_state_dict_<it>.pt`. A resumed run given
--override-opt_param-scheduler prints Megatron's "> overriding ... value to ..." line.

    GYM_STANDIN_FAIL=1   fail at once (no checkpoint): the pipeline must not retry
"""

import json
import os
import re
import sys
import time
from pathlib import Path

PATH_FLAGS = ("--hf-checkpoint", "--ref-load", "--prompt-data")
VIEW = re.compile(r"/views/[^/]+/")


def flag(argv: list[str], name: str, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


def my_view(path: str) -> Path:
    """`path` in this process's container view (GYM_SIM_VIEW, set by the node before `ray start`)."""
    return Path(VIEW.sub(f"/views/{os.environ['GYM_SIM_VIEW']}/", path, count=1))


def node_writer():
    import ray

    @ray.remote(num_cpus=0)
    class NodeWriter:
        """Megatron's ranks on one container: write this node's part of a save into its own view."""

        def shard(self, folder: str, rank: int, iteration: int) -> int:
            import torch

            path = my_view(folder)
            path.mkdir(parents=True, exist_ok=True)
            torch.save({"weights": torch.full((4,), float(iteration + rank))}, path / f"__{rank}_0.distcp")
            return (path / f"__{rank}_0.distcp").stat().st_size

        def metadata(self, folder: str, save: str, iteration: int, sizes: dict) -> str:
            import pickle

            import torch
            from torch.distributed.checkpoint.metadata import Metadata, MetadataIndex
            from torch.distributed.checkpoint.filesystem import _StorageInfo

            path = my_view(folder)
            path.mkdir(parents=True, exist_ok=True)
            storage = {MetadataIndex(f"weights.rank{r}"): _StorageInfo(f"__{r}_0.distcp", 0, int(size))
                       for r, size in sizes.items()}
            with open(path / ".metadata", "wb") as f:
                pickle.dump(Metadata(state_dict_metadata={}, storage_data=storage), f)
            torch.save({"rollout_id": iteration}, path / "common.pt")
            (path / "metadata.json").write_text(json.dumps({"sharded_backend": "torch_dist"}))
            (my_view(save) / "latest_checkpointed_iteration.txt").write_text(str(iteration))
            # Megatron's rank 0 prints this; returned so that the driver prints it (a forwarded actor
            # print can arrive after the job's end).
            return f"  successfully saved checkpoint from iteration {iteration:7d} to {save}"

        def override(self) -> str:
            return " > overriding learning rate value to 1e-06"

    return NodeWriter


def main(argv: list[str]) -> int:
    missing = [f"{f} {flag(argv, f)}" for f in PATH_FLAGS if f in argv and not Path(flag(argv, f)).exists()]
    if "--eval-prompt-data" in argv:
        path = argv[argv.index("--eval-prompt-data") + 2]
        if not Path(path).exists():
            missing.append(f"--eval-prompt-data {path}")
    if missing:
        print(f"standin: missing inputs: {missing}", flush=True)
        return 2
    env = {k: os.environ.get(k) for k in ("SLIME_HOST_IP", "MASTER_ADDR", "PYTHONUNBUFFERED", "RAY_AUTH_MODE")}
    print(f"standin: environment {json.dumps(env)}", flush=True)
    if not env["SLIME_HOST_IP"] or env["PYTHONUNBUFFERED"] != "1":
        print("standin: SLIME_HOST_IP must come from the raylet and PYTHONUNBUFFERED must be 1", flush=True)
        return 2
    if os.environ.get("GYM_STANDIN_FAIL") == "1":
        print("standin: failing on purpose before the first checkpoint (like a bad flag or an OOM)", flush=True)
        return 1

    import ray
    import torch

    ray.init(address="auto", logging_level="WARNING")
    nodes = int(os.environ["GYM_SIM_NODES"])
    meta_node = int(os.environ.get("GYM_SIM_METADATA_NODE", "0"))
    writers = [node_writer().options(resources={f"gym_rank_{r}": 0.01}).remote() for r in range(nodes)]
    save = flag(argv, "--save")
    num_rollout, interval = int(flag(argv, "--num-rollout")), int(flag(argv, "--save-interval", 1))
    tracker = my_view(save) / "latest_checkpointed_iteration.txt"
    start = int(tracker.read_text()) + 1 if tracker.is_file() else 0
    print(f"standin: rollouts {start}..{num_rollout - 1}" + (f" (resumed after {start - 1})" if start else "")
          + f"; Megatron's rank 0 on container {meta_node}", flush=True)
    if start and "--override-opt_param-scheduler" in argv:
        print(ray.get(writers[meta_node].override.remote()), flush=True)
    for rollout in range(start, num_rollout):
        print(f"standin: rollout {rollout} done", flush=True)
        if (rollout + 1) % interval and rollout != num_rollout - 1:
            continue
        folder = f"{save}/iter_{rollout:07d}"
        sizes = ray.get([w.shard.remote(folder, r, rollout) for r, w in enumerate(writers)])
        print(ray.get(writers[meta_node].metadata.remote(folder, save, rollout, dict(enumerate(sizes)))), flush=True)
        state = my_view(save) / "rollout" / f"global_dataset_state_dict_{rollout}.pt"  # the rollout manager
        state.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"sample_offset": rollout}, state)
        print(f"standin: saved iter_{rollout:07d}", flush=True)
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
