"""Inside the training containers: Ray head and workers, then slime as a Ray job.

Rank 0 starts the Ray head, waits (with a deadline) until every node has joined, submits
the slime command with `ray job submit`'s Python API, streams its logs and fails the Modal
function unless the job SUCCEEDED. Other ranks join the head and keep their node alive,
committing the checkpoint volume so that shards they write survive a preemption.

Secrets (WANDB_API_KEY, HF_TOKEN) are already in this process's environment, from Modal
secrets. Ray workers inherit them from the raylet started here, so they are never put in
the job's runtime_env (which the Ray dashboard shows) nor on the command line.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

RAY_PORT = 6379
DASHBOARD_PORT = 8265
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED")


@dataclass(frozen=True)
class Node:
    rank: int
    ip: str
    head_ip: str
    size: int


def cluster_node(size: int) -> Node:
    """This container's rank and IPv4 addresses. A 1-node run is not clustered (no cluster context)."""
    if size == 1:
        return Node(0, "127.0.0.1", "127.0.0.1", 1)
    import modal

    cluster = modal.Cluster.from_context()
    ips = cluster.container_ips(family="ipv4")
    if len(ips) != size:
        raise RuntimeError(f"[gym] expected {size} containers in the cluster, Modal reports {len(ips)}: {ips}")
    rank = cluster.container_rank()
    return Node(rank, ips[rank], ips[0], size)


def set_host_ip(ip: str) -> None:
    """slime and SGLang bind to these; set before `ray start` so every Ray worker inherits them."""
    for var in ("SLIME_HOST_IP", "SGLANG_HOST_IP", "HOST_IP"):
        os.environ[var] = ip


def start_ray(node: Node, gpus: int, cpus: int) -> None:
    common = [f"--node-ip-address={node.ip}", f"--num-gpus={gpus}", f"--num-cpus={cpus}", "--disable-usage-stats"]
    if node.rank == 0:
        cmd = ["ray", "start", "--head", f"--port={RAY_PORT}", "--dashboard-host=127.0.0.1",
               f"--dashboard-port={DASHBOARD_PORT}", *common]
    else:
        cmd = ["ray", "start", f"--address={node.head_ip}:{RAY_PORT}", *common]
    print("[gym] " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def wait_for_nodes(size: int, timeout_s: float, poll_s: float = 2.0) -> None:
    """Block until `size` Ray nodes are alive; raise naming the missing count at the deadline."""
    import ray

    ray.init(address="auto", logging_level="WARNING")
    deadline = time.monotonic() + timeout_s
    alive = 0
    while time.monotonic() < deadline:
        alive = sum(1 for n in ray.nodes() if n.get("Alive"))
        if alive >= size:
            print(f"[gym] all {size} nodes joined the Ray cluster", flush=True)
            ray.shutdown()
            return
        time.sleep(poll_s)
    ray.shutdown()
    raise TimeoutError(f"[gym] only {alive} of {size} nodes joined the Ray cluster within {timeout_s:.0f} s; "
                       "the missing containers never reached `ray start` (check their logs in the Modal dashboard)")


def check_inputs(spec: dict) -> None:
    """Cheap checks inside the container before any GPU work: the files slime will read exist."""
    from pathlib import Path

    from gym.launch.remote import MARKER

    problems = []
    if not (Path(spec["model"]["dir"]) / MARKER).is_file():
        problems.append(f"model not downloaded to {spec['model']['dir']}: run download_model first")
    data_dir = Path(spec["data"]["files"][0]).parent
    if not (data_dir / MARKER).is_file():
        problems.append(f"dataset not prepared in {data_dir}: run prepare_dataset first")
    ref = spec["ref_load"]
    if not Path(ref).exists() or not any(Path(ref).iterdir()):
        problems.append(f"ref_load {ref} is missing or empty")
    missing_env = [name for name in spec["required_env"] if not os.environ.get(name)]
    if missing_env:
        problems.append(f"environment variables {missing_env} are not set: check the Modal secrets")
    if problems:
        raise RuntimeError("[gym] cannot start training:\n  - " + "\n  - ".join(problems))


def submit_and_follow(spec: dict, head_ip: str) -> str:
    """Submit slime as a Ray job, stream its logs, return its final status."""
    import asyncio

    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(f"http://127.0.0.1:{DASHBOARD_PORT}")
    env = {**spec["env"], "MASTER_ADDR": head_ip, "no_proxy": f"127.0.0.1,{head_ip}"}
    entrypoint = "python3 " + " ".join(_quote(a) for a in spec["argv"])
    print(f"[gym] submitting: {entrypoint}", flush=True)
    print(describe_env(env, spec["required_env"]), flush=True)
    job_id = client.submit_job(entrypoint=entrypoint, runtime_env={"env_vars": env})

    async def follow() -> None:
        async for lines in client.tail_job_logs(job_id):
            print(lines, end="", flush=True)

    asyncio.run(follow())
    status = str(client.get_job_status(job_id)).split(".")[-1]
    while status not in TERMINAL_STATES:
        time.sleep(2)
        status = str(client.get_job_status(job_id)).split(".")[-1]
    return status


def describe_env(env: dict[str, str], secret_names: list[str]) -> str:
    """The job environment for the log: values of plain settings, names only for secrets (also
    when a secret's value is in `env`, so a later change to the env cannot print a key)."""
    hidden = set(secret_names) | SECRET_ENV_NAMES
    shown = ", ".join(f"{k}=<secret>" if k in hidden else f"{k}={v}" for k, v in sorted(env.items()))
    return f"[gym] job environment: {shown}; secrets inherited from the container: {sorted(secret_names)}"


SECRET_ENV_NAMES = {"WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"}
"""Environment variables whose values are never printed."""


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def keep_committing(volume_name: str, every_s: float = 60.0) -> None:
    """Worker ranks: keep the node up, committing checkpoint shards this node wrote."""
    import modal

    volume = modal.Volume.from_name(volume_name)
    while True:
        time.sleep(every_s)
        try:
            volume.commit()
        except Exception as err:  # a failed commit must not take the node (and the run) down
            print(f"[gym] checkpoint volume commit failed, will retry: {err}", flush=True)


def run_cluster(spec: dict) -> dict:
    node = cluster_node(spec["num_nodes"])
    for name in spec["volumes"].values():
        import modal

        modal.Volume.from_name(name).reload()
    set_host_ip(node.ip)
    start_ray(node, gpus=spec["gpus_per_node"], cpus=spec["ray_cpus_per_node"])
    if node.rank != 0:
        keep_committing(spec["volumes"]["checkpoints"])
        return {}
    check_inputs(spec)
    wait_for_nodes(spec["num_nodes"], spec["join_timeout_s"])
    started = time.time()
    status = submit_and_follow(spec, node.head_ip)
    import modal

    modal.Volume.from_name(spec["volumes"]["checkpoints"]).commit()
    result = {"status": status, "run": spec["name"], "hours": (time.time() - started) / 3600}
    if status != "SUCCEEDED":
        raise RuntimeError(f"[gym] slime job ended {status} after {result['hours']:.2f} h; see the logs above")
    return result
