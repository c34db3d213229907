"""Inside the training containers: Ray head and workers, then slime as a Ray job.

Rank 0 repairs the checkpoint folder for a resume (checkpoints.prepare_resume), starts the Ray
head, forwards its dashboard (printed, and shown by `Run.status()`), waits with a deadline until
every node has joined, submits the slime command with Ray's job API and follows its logs. If the
log stream drops (a websocket reset), it polls the job status until the job ends and prints the
rest of the logs: a healthy job is never failed for a broken stream. It returns only if the job
SUCCEEDED; otherwise it raises with the job's last log lines, which the pipeline shows.

While the job runs, rank 0 checks every minute that the pipeline which started the attempt still
holds the run's lease and heartbeats; if not (its container died, or the run was cancelled or
taken over) it stops the job, so no attempt trains on unwatched, with nothing bounding its cost.

Other ranks retry `ray start --address=<head>` until the join deadline (the head may be slow to
come up) and then keep their node alive; Modal commits their checkpoint shards in the background
and at shutdown, so no commit loop here (a commit reloads, which fails while a save has files
open). Rank 0 commits once the job has ended.

Everything Modal-specific sits behind `ModalHost` (cluster lookup, volumes, the dashboard tunnel,
the run registry). `scripts/simulate_cluster.py` runs this same code for N local processes with
a host that answers the cluster lookup with a rank and 127.0.0.1 and skips the Modal services.

Secrets (WANDB_API_KEY, HF_TOKEN) are already in this process's environment, from Modal secrets.
Ray workers inherit them from the raylet started here, so they are never put in the job's
runtime_env (which the Ray dashboard shows) nor on the command line.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from gym.secrets import redact

RAY_PORT = 6379
DASHBOARD_PORT = 8265
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED")
TAIL_LINES = 40
"""Job log lines kept for the error of a failed attempt."""
PIPELINE_CHECK_S = 60
"""Rank 0 looks at the run's lease this often while the job runs (see watch_pipeline)."""


@dataclass(frozen=True)
class Node:
    rank: int
    ip: str
    head_ip: str
    size: int


class ModalHost:
    """What a training container asks of Modal."""

    ray_port = RAY_PORT
    dashboard_port = DASHBOARD_PORT

    def node(self, size: int) -> Node:
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

    def ray_args(self, node: Node) -> list[str]:
        return []

    def clear_ray(self) -> None:
        """Remove what a failed `ray start` left running (a half-started raylet holds its ports).
        A container runs nothing else of Ray's, so `ray stop` is safe here."""
        subprocess.run(["ray", "stop", "--force"], capture_output=True)

    def reload(self, volume_names) -> None:
        import modal

        for name in volume_names:
            modal.Volume.from_name(name).reload()

    def commit(self, volume_name: str) -> None:
        import modal

        modal.Volume.from_name(volume_name).commit()

    @contextlib.contextmanager
    def dashboard_tunnel(self, spec: dict):
        """The Ray dashboard on a public URL for the attempt's duration (it has no login: the URL is
        shown only in the run's logs and status, which only your workspace sees)."""
        import modal

        with modal.forward(self.dashboard_port) as tunnel:
            self.publish(spec, tunnel.url)
            yield tunnel.url

    def publish(self, spec: dict, url: str) -> None:
        import modal

        registry = spec.get("registry")
        if registry:
            modal.Dict.from_name(registry["dict"]).put(registry["ray_url_key"], url)

    def log_stream(self, client, job_id: str):
        return client.tail_job_logs(job_id)

    def pipeline_alive(self, spec: dict) -> bool:
        """Whether the run's pipeline still holds the lease and heartbeats (see watch_pipeline)."""
        import modal

        registry, lease = spec.get("registry"), spec.get("lease")
        if not registry or not lease:
            return True
        record = modal.Dict.from_name(registry["dict"]).get(spec["name"])
        return pipeline_holds_lease(record, lease["holder"], time.time())


def pipeline_holds_lease(record: dict | None, holder: str, now: float) -> bool:
    """The attempt's pipeline is alive: its record still names it and is live (heartbeating, not finished)."""
    from gym.launch.runs import is_live

    return bool(record) and record.get("holder") == holder and is_live(record, now)


def watch_pipeline(host, spec: dict, stop_job, done, every_s: float = PIPELINE_CHECK_S) -> bool:
    """Until `done` is set, check every `every_s` that the pipeline which started this attempt is
    alive; if it is not (its container died, or the run was cancelled or taken over), call
    `stop_job` and return True. The pipeline is what bounds the run's cost: without it an attempt
    would train on unwatched until Modal's 24 h limit. A failed look counts as alive."""
    while not done.wait(every_s):
        try:
            alive = host.pipeline_alive(spec)
        except Exception as err:  # a registry blip must not stop a healthy job
            print(f"[gym] could not check the pipeline ({type(err).__name__}: {err})", flush=True)
            continue
        if not alive:
            print("[gym] the run's pipeline is gone (no heartbeat, or the run was cancelled or taken over): "
                  "stopping the job", flush=True)
            stop_job()
            return True
    return False


def set_host_ip(ip: str) -> None:
    """slime and SGLang bind to these; set before `ray start` so every Ray worker inherits them."""
    for var in ("SLIME_HOST_IP", "SGLANG_HOST_IP", "HOST_IP"):
        os.environ[var] = ip


def ray_start_command(node: Node, gpus: int, cpus: int, host) -> list[str]:
    common = [f"--node-ip-address={node.ip}", f"--num-gpus={gpus}", f"--num-cpus={cpus}", "--disable-usage-stats",
              *host.ray_args(node)]
    if node.rank == 0:
        # 0.0.0.0: the dashboard tunnel connects from outside the loopback interface.
        return ["ray", "start", "--head", f"--port={host.ray_port}", "--dashboard-host=0.0.0.0",
                f"--dashboard-port={host.dashboard_port}", *common]
    return ["ray", "start", f"--address={node.head_ip}:{host.ray_port}", *common]


def wait_for_port(ip: str, port: int, deadline: float, poll_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ip:port before the deadline (time.monotonic)."""
    import socket

    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=2.0):
                return True
        except OSError:
            time.sleep(poll_s)
    return False


def start_ray(node: Node, gpus: int, cpus: int, host, join_timeout_s: float, retry_s: float = 5.0) -> None:
    """Start the head (rank 0), or join it: wait for the head's port, then `ray start`, retrying
    (after clearing the failed try's processes) until the join deadline (workers)."""
    cmd = ray_start_command(node, gpus, cpus, host)
    print("[gym] " + " ".join(cmd), flush=True)
    if node.rank == 0:
        subprocess.run(cmd, check=True)
        return
    deadline = time.monotonic() + join_timeout_s
    wait_for_port(node.head_ip, host.ray_port, deadline)
    tries = 0
    while True:
        tries += 1
        if tries > 1:
            host.clear_ray()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode == 0:
            print(f"[gym] rank {node.rank} joined the Ray head after {tries} tr{'y' if tries == 1 else 'ies'}", flush=True)
            return
        if time.monotonic() + retry_s > deadline:
            raise RuntimeError(f"[gym] rank {node.rank} could not join the Ray head at {node.head_ip}:{host.ray_port} "
                               f"within {join_timeout_s:.0f} s ({tries} tries); last error:\n{done.stderr[-2000:]}")
        time.sleep(retry_s)


def wait_for_nodes(address: str, size: int, timeout_s: float, poll_s: float = 2.0) -> None:
    """Block until `size` Ray nodes are alive; raise naming the missing count at the deadline."""
    import ray

    ray.init(address=address, logging_level="WARNING")
    deadline = time.monotonic() + timeout_s
    alive = 0
    try:
        while time.monotonic() < deadline:
            alive = sum(1 for n in ray.nodes() if n.get("Alive"))
            if alive >= size:
                print(f"[gym] all {size} nodes joined the Ray cluster", flush=True)
                return
            time.sleep(poll_s)
    finally:
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


@dataclass
class JobLog:
    """What has been printed of a job's logs, and its last lines (for the error of a failed attempt)."""

    printed: int = 0
    """Characters printed so far (the logs' prefix)."""
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    def emit(self, text: str) -> None:
        """Print new log text. Megatron prints every argument at start-up (--rm-url too): credentials
        in URLs are masked here, in the Modal log and in a failed attempt's error."""
        if not text:
            return
        self.printed += len(text)
        text = redact(text)
        print(text, end="" if text.endswith("\n") else "\n", flush=True)
        self.tail.extend(text.splitlines())


def follow_job(client, job_id: str, host, poll_s: float = 2.0) -> tuple[str, JobLog]:
    """Stream the job's logs until it ends; if the stream drops, poll its status instead and print
    the logs not yet shown. Returns the final status and the log."""
    import asyncio

    log = JobLog()

    async def stream() -> None:
        async for chunk in host.log_stream(client, job_id):
            log.emit(chunk)

    try:
        asyncio.run(stream())
    except Exception as err:  # a websocket reset must not fail a healthy job
        print(f"\n[gym] the log stream dropped ({type(err).__name__}: {err}); polling the job status instead",
              flush=True)
    status = job_status(client, job_id)
    while status not in TERMINAL_STATES:
        time.sleep(poll_s)
        status = job_status(client, job_id)
    log.emit(client.get_job_logs(job_id)[log.printed:])
    return status, log


def job_status(client, job_id: str) -> str:
    return str(client.get_job_status(job_id)).split(".")[-1]


def submit_job(spec: dict, head_ip: str, host) -> tuple[object, str]:
    """Submit slime as a Ray job; returns the client and the job id."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(f"http://127.0.0.1:{host.dashboard_port}")
    env = {**spec["env"], "MASTER_ADDR": head_ip, "no_proxy": f"127.0.0.1,{head_ip}"}
    entrypoint = "python3 " + " ".join(_quote(a) for a in spec["argv"])
    print(f"[gym] submitting: python3 {' '.join(_quote(a) for a in redact(spec['argv']))}", flush=True)
    print(describe_env(env, spec["required_env"]), flush=True)
    return client, client.submit_job(entrypoint=entrypoint, runtime_env={"env_vars": env})


def describe_env(env: dict[str, str], secret_names: list[str]) -> str:
    """The job environment for the log: values of plain settings, names only for secrets (also
    when a secret's value is in `env`, so a later change to the env cannot print a key)."""
    hidden = set(secret_names) | SECRET_ENV_NAMES
    shown = ", ".join(f"{k}=<secret>" if k in hidden else f"{k}={redact(v)}" for k, v in sorted(env.items()))
    return f"[gym] job environment: {shown}; secrets inherited from the container: {sorted(secret_names)}"


SECRET_ENV_NAMES = {"WANDB_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"}
"""Environment variables whose values are never printed."""


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


class JobFailed(RuntimeError):
    """The slime job ended without SUCCEEDED; the message ends with its last log lines."""


def run_cluster(spec: dict, host=None) -> dict:
    """One container's part of a training attempt (every rank runs this)."""
    from gym.launch import checkpoints

    host = host or ModalHost()
    node = host.node(spec["num_nodes"])
    host.reload(spec["volumes"].values())
    set_host_ip(node.ip)
    start_ray(node, gpus=spec["gpus_per_node"], cpus=spec["ray_cpus_per_node"], host=host,
              join_timeout_s=spec["join_timeout_s"])
    if node.rank != 0:
        while True:  # keep this node in the cluster; Modal ends it when rank 0 returns
            time.sleep(10)
    check_inputs(spec)
    resume = checkpoints.prepare_resume(spec["checkpoint_dir"], checkpoints.saves_data_state(spec["argv"]))
    if resume.changed:
        host.commit(spec["volumes"]["checkpoints"])
    print(f"[gym] {resume}", flush=True)
    wait_for_nodes(f"{node.head_ip}:{host.ray_port}", spec["num_nodes"], spec["join_timeout_s"])
    started = time.time()
    with host.dashboard_tunnel(spec) as url:
        if url:
            print(f"[gym] Ray dashboard: {url}", flush=True)
        client, job_id = submit_job(spec, node.head_ip, host)
        done = threading.Event()
        watcher = threading.Thread(target=watch_pipeline, args=(host, spec, lambda: client.stop_job(job_id), done),
                                   daemon=True)
        watcher.start()
        try:
            status, log = follow_job(client, job_id, host)
        finally:
            done.set()
    host.commit(spec["volumes"]["checkpoints"])  # rank 0's marker and shards, before the pipeline looks
    result = {"status": status, "run": spec["name"], "nodes": spec["num_nodes"],
              "hours": (time.time() - started) / 3600}
    if status != "SUCCEEDED":
        raise JobFailed(f"[gym] slime job ended {status} after {result['hours']:.2f} h; its last log lines:\n"
                        + "\n".join(log.tail))
    return result
