"""Stand-in for slime's train.py in scripts/simulate_cluster.py: same argv, no GPUs.

It does what the real entry point needs from its surroundings: every path in the argv exists,
the Ray host IP came from the node's raylet (SLIME_HOST_IP), logs are unbuffered, and it resumes
from Megatron's marker and writes one Megatron-layout checkpoint per saved rollout (a real
torch.distributed.checkpoint folder, `common.pt`, `metadata.json`, then the marker, then
slime's dataset state `rollout/global_dataset_state_dict_<it>.pt`).

    GYM_STANDIN_FAIL=1   fail at once (no checkpoint): the pipeline must not retry
"""

import json
import os
import sys
import time
from pathlib import Path

PATH_FLAGS = ("--hf-checkpoint", "--ref-load", "--prompt-data")


def flag(argv: list[str], name: str, default=None):
    return argv[argv.index(name) + 1] if name in argv else default


def main(argv: list[str]) -> int:
    missing = [f"{f} {flag(argv, f)}" for f in PATH_FLAGS if f in argv and not Path(flag(argv, f)).exists()]
    if "--eval-prompt-data" in argv:
        path = argv[argv.index("--eval-prompt-data") + 2]
        if not Path(path).exists():
            missing.append(f"--eval-prompt-data {path}")
    if missing:
        print(f"standin: missing inputs: {missing}", flush=True)
        return 2
    env = {k: os.environ.get(k) for k in ("SLIME_HOST_IP", "MASTER_ADDR", "PYTHONUNBUFFERED")}
    print(f"standin: environment {json.dumps(env)}", flush=True)
    if not env["SLIME_HOST_IP"] or env["PYTHONUNBUFFERED"] != "1":
        print("standin: SLIME_HOST_IP must come from the raylet and PYTHONUNBUFFERED must be 1", flush=True)
        return 2
    if os.environ.get("GYM_STANDIN_FAIL") == "1":
        print("standin: failing on purpose before the first checkpoint (like a bad flag or an OOM)", flush=True)
        return 1

    import torch
    import torch.distributed.checkpoint as dcp

    save = Path(flag(argv, "--save"))
    num_rollout, interval = int(flag(argv, "--num-rollout")), int(flag(argv, "--save-interval", 1))
    tracker = save / "latest_checkpointed_iteration.txt"
    start = int(tracker.read_text()) + 1 if tracker.is_file() else 0
    print(f"standin: rollouts {start}..{num_rollout - 1}" + (f" (resumed after {start - 1})" if start else ""),
          flush=True)
    for rollout in range(start, num_rollout):
        print(f"standin: rollout {rollout} done", flush=True)
        if (rollout + 1) % interval and rollout != num_rollout - 1:
            continue
        folder = save / f"iter_{rollout:07d}"
        dcp.save({"weights": torch.full((4,), float(rollout))}, checkpoint_id=str(folder))
        torch.save({"rollout_id": rollout}, folder / "common.pt")
        (folder / "metadata.json").write_text(json.dumps({"sharded_backend": "torch_dist"}))
        tracker.write_text(str(rollout))
        state = save / "rollout" / f"global_dataset_state_dict_{rollout}.pt"  # slime: the rollout manager, after
        state.parent.mkdir(exist_ok=True)
        torch.save({"sample_offset": rollout}, state)
        print(f"standin: saved {folder.name}", flush=True)
        time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
