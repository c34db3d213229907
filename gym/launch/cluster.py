"""Inside the training containers: Ray head and workers, slime as a Ray job, and the end of the job.

Every container first reports its start (the run's spend counts a container from then: time
queued for GPUs is not billed) in the run's Dict under `rank_key` (attempt id + rank). Rank 0
starts the Ray head, waits with a deadline until every node has joined, submits the slime command
with Ray's job API and follows its logs. If the log stream drops (a websocket reset), it polls the
job status until the job ends and prints the rest of the logs: a healthy job is never failed for a
broken stream. While it follows, it notes Megatron's lines the pipeline needs: each
"successfully saved checkpoint from iteration N" (printed after the marker is written) and the
resumed scheduler's "> overriding ..." line.

**The end of the job** (every path, also a failure): rank 0 writes the attempt's end entry
(`end_key`: status, the saved iterations, the evidence lines), then every container commits the
checkpoint volume and acknowledges it (`committed` in its rank entry). Megatron's rank 0 (the
writer of `.metadata`, `common.pt`, `metadata.json` and the marker) can be on any container,
since slime places its actors by node IP, and each container sees only its own writes until it
commits: so *every* container commits, and says so. Modal's exit commit runs in a `finally` of its
entrypoint and a killed container never runs it, so it is not relied on. Workers watch the end
entry and the head (its GCS port): when the job is over, or the head is gone, they commit,
acknowledge and return. Rank 0 waits (up to ACK_WAIT_S) for the others' acknowledgements before
it returns, and the pipeline waits for all of them, then ends the call
(`cancel(terminate_containers=True)`), so no container outlives its job.

While the job runs, rank 0 checks every minute that the pipeline which started the attempt still
holds the run's lease and heartbeats, and that it has not asked the attempt to stop (`stop_key`,
the budget); if so it stops the job, and the end of the job above runs as usual.

No public door: the Ray dashboard (and its job API, which runs any code inside a container that
holds the HF and W&B secrets) binds 127.0.0.1 and is not forwarded; progress is shown by
`Run.status()` and `Run.logs()`. Ray runs with `RAY_AUTH_MODE=disabled` (`RAY_ENV`), so that a
newer Ray in the image cannot switch token authentication on by default (Ray 2.60
authentication_token_setup.py: a token file or RAY_AUTH_MODE=token turns it on), and the
workers and the job's driver join without a token; no port is reachable from outside the
cluster's private network.

Everything Modal-specific sits behind `ModalHost` (cluster lookup, volumes, the run's Dict).
`scripts/simulate_cluster.py` runs this same code for N local processes with a host that answers
the cluster lookup with a rank and 127.0.0.1, gives each container its own view of the
checkpoint volume and a file-backed Dict.

Secrets (WANDB_API_KEY, HF_TOKEN) are already in this process's environment, from Modal secrets.
Ray workers inherit them from the raylet started here, so they are never put in the job's
runtime_env nor on the command line.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from gym.secrets import redact

RAY_PORT = 6379
DASHBOARD_PORT = 8265
DASHBOARD_HOST = "127.0.0.1"
"""The dashboard (and its job API) listens on loopback only: rank 0 submits the job from the same
container, and nothing else may reach it."""
RAY_ENV = {"RAY_AUTH_MODE": "disabled"}
"""Set for `ray start` (head and workers), so for every raylet and Ray worker, and in the job's
environment: Ray 2.60 switches token auth on when RAY_AUTH_MODE=token or a token file exists
(authentication_token_setup.py `maybe_enable_token_auth_if_token_available`); an explicit value
is respected as is."""
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED")
TAIL_LINES = 40
"""Job log lines kept for the error of a failed attempt."""
PIPELINE_CHECK_S = 60
"""Rank 0 looks at the run's lease (and the pipeline's stop request) this often while the job runs."""
END_CHECK_S = 10
"""Workers look for the end of the job (the end entry, the head's port) this often."""
HEAD_GONE_LOOKS = 3
"""Consecutive looks that find the head's GCS port closed before a worker counts the head gone
(the job's end entry normally comes first)."""
ACK_WAIT_S = 15 * 60
"""How long rank 0 (and, after the call ended, the pipeline) waits for every container's commit
acknowledgement: a node's share of a Qwen3-4B save (~56 GB, a quarter per node on 4 nodes) can take
minutes to commit. `spec["ack_wait_s"]` overrides it (the rehearsal and tests)."""
SAVED_LINE = re.compile(r"successfully saved checkpoint from iteration\s+(\d+)")
"""Megatron, after writing the marker: `print_rank_0('  successfully saved checkpoint from iteration
{:7d} to {}')` (megatron/training/checkpointing.py `save_checkpoint`, iter_finalize_fn)."""
OVERRIDE_LINE = re.compile(r"> overriding .+ value to ")
"""Megatron's resumed scheduler with --override-opt_param-scheduler: `" > overriding {name} value to
{cls_value}"` (megatron/core/optimizer_param_scheduler.py `_check_and_set`)."""


def rank_key(name: str, attempt_id: str, rank: int) -> str:
    """A container's entry in the run's Dict: {"rank", "started", then "committed" or "error"}."""
    return f"{name}#attempt#{attempt_id}#rank{rank}"


def end_key(name: str, attempt_id: str) -> str:
    """Rank 0's entry when the job has ended: status, saved iterations, evidence lines."""
    return f"{name}#attempt#{attempt_id}#end"


def stop_key(name: str, attempt_id: str) -> str:
    """The pipeline's request to stop the job (budget reached): rank 0 stops it, the end runs as usual."""
    return f"{name}#attempt#{attempt_id}#stop"


def attempt_keys(name: str, attempt_id: str, size: int) -> list[str]:
    return [end_key(name, attempt_id), stop_key(name, attempt_id), *(rank_key(name, attempt_id, r) for r in range(size))]


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
    end_check_s = END_CHECK_S

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
        subprocess.run(["ray", "stop", "--force"], capture_output=True, env=ray_env())

    def reload(self, volume_names) -> None:
        import modal

        for name in volume_names:
            modal.Volume.from_name(name).reload()

    def commit(self, volume_name: str) -> None:
        import modal

        modal.Volume.from_name(volume_name).commit()

    def store(self, spec: dict):
        """The run's Dict (the registry), where the attempt's entries live; None outside a pipeline."""
        registry = spec.get("registry")
        if not registry or not spec.get("attempt"):
            return None
        import modal

        return modal.Dict.from_name(registry["dict"])

    def head_alive(self, node: Node) -> bool:
        return port_open(node.head_ip, self.ray_port)

    def log_stream(self, client, job_id: str):
        return client.tail_job_logs(job_id)

    def pipeline_alive(self, spec: dict) -> bool:
        """Whether the run's pipeline still holds the lease, heartbeats and wants the job to go on."""
        lease = spec.get("lease")
        store = self.store(spec)
        if store is None or not lease:  # not started by a pipeline: nothing to watch
            return True
        if spec.get("attempt") and store.get(stop_key(spec["name"], spec["attempt"]["id"])) is not None:
            return False
        from gym.launch.runs import read_record

        # read_record: a cancel's final record wins over a heartbeat that overwrote the main one.
        return pipeline_holds_lease(read_record(store, spec["name"]), lease["holder"], time.time())


def pipeline_holds_lease(record: dict | None, holder: str, now: float) -> bool:
    """The attempt's pipeline is alive: its record still names it and is live (heartbeating, not finished)."""
    from gym.launch.runs import is_live

    return bool(record) and record.get("holder") == holder and is_live(record, now)


def watch_pipeline(host, spec: dict, stop_job, done, every_s: float = PIPELINE_CHECK_S) -> bool:
    """Until `done` is set, check every `every_s` that the pipeline which started this attempt is
    alive and has not asked it to stop; if not (its container died, the run was cancelled or taken
    over, or the budget is reached), call `stop_job` and return True. The pipeline is what bounds
    the run's cost: without it an attempt would train on unwatched until Modal's 24 h limit. A
    failed look counts as alive."""
    while not done.wait(every_s):
        try:
            alive = host.pipeline_alive(spec)
        except Exception as err:  # a registry blip must not stop a healthy job
            print(f"[gym] could not check the pipeline ({type(err).__name__}: {err})", flush=True)
            continue
        if not alive:
            print("[gym] the run's pipeline is gone or asked to stop (no heartbeat, cancelled, taken over, "
                  "or the budget is reached): stopping the job", flush=True)
            stop_job()
            return True
    return False


def set_host_ip(ip: str) -> None:
    """slime and SGLang bind to these; set before `ray start` so every Ray worker inherits them.
    RAY_ENV too: this process's own Ray clients (ray.init, the job client) must agree with the raylet."""
    for var in ("SLIME_HOST_IP", "SGLANG_HOST_IP", "HOST_IP"):
        os.environ[var] = ip
    os.environ.update(RAY_ENV)


def ray_env() -> dict[str, str]:
    """The environment of `ray start` (head and workers): this container's, plus RAY_ENV."""
    return {**os.environ, **RAY_ENV}


def ray_start_command(node: Node, gpus: int, cpus: int, host) -> list[str]:
    common = [f"--node-ip-address={node.ip}", f"--num-gpus={gpus}", f"--num-cpus={cpus}", "--disable-usage-stats",
              *host.ray_args(node)]
    if node.rank == 0:
        return ["ray", "start", "--head", f"--port={host.ray_port}", f"--dashboard-host={DASHBOARD_HOST}",
                f"--dashboard-port={host.dashboard_port}", *common]
    return ["ray", "start", f"--address={node.head_ip}:{host.ray_port}", *common]


def port_open(ip: str, port: int, timeout_s: float = 2.0) -> bool:
    import socket

    try:
        with socket.create_connection((ip, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_for_port(ip: str, port: int, deadline: float, poll_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ip:port before the deadline (time.monotonic)."""
    while time.monotonic() < deadline:
        if port_open(ip, port):
            return True
        time.sleep(poll_s)
    return False


def start_ray(node: Node, gpus: int, cpus: int, host, join_timeout_s: float, retry_s: float = 5.0) -> None:
    """Start the head (rank 0), or join it: wait for the head's port, then `ray start`, retrying
    (after clearing the failed try's processes) until the join deadline (workers)."""
    cmd = ray_start_command(node, gpus, cpus, host)
    print("[gym] " + " ".join(f"{k}={v}" for k, v in RAY_ENV.items()) + " " + " ".join(cmd), flush=True)
    if node.rank == 0:
        subprocess.run(cmd, check=True, env=ray_env())
        return
    deadline = time.monotonic() + join_timeout_s
    wait_for_port(node.head_ip, host.ray_port, deadline)
    tries = 0
    while True:
        tries += 1
        if tries > 1:
            host.clear_ray()
        done = subprocess.run(cmd, capture_output=True, text=True, env=ray_env())
        if done.returncode == 0:
            print(f"[gym] rank {node.rank} joined the Ray head after {tries} tr{'y' if tries == 1 else 'ies'} "
                  f"(RAY_AUTH_MODE={RAY_ENV['RAY_AUTH_MODE']})", flush=True)
            return
        if time.monotonic() + retry_s > deadline:
            raise RuntimeError(f"[gym] rank {node.rank} could not join the Ray head at {node.head_ip}:{host.ray_port} "
                               f"within {join_timeout_s:.0f} s ({tries} tries); last error:\n{done.stderr[-2000:]}")
        time.sleep(retry_s)


def wait_for_nodes(address: str, size: int, timeout_s: float, poll_s: float = 2.0) -> str:
    """Block until `size` Ray nodes are alive; raise naming the missing count at the deadline.
    Returns the line it printed (evidence for the smoke checklist)."""
    import ray

    ray.init(address=address, logging_level="WARNING")
    deadline = time.monotonic() + timeout_s
    alive = 0
    try:
        while time.monotonic() < deadline:
            alive = sum(1 for n in ray.nodes() if n.get("Alive"))
            if alive >= size:
                line = (f"[gym] all {size} nodes joined the Ray cluster "
                        f"(RAY_AUTH_MODE={os.environ.get('RAY_AUTH_MODE', 'unset')})")
                print(line, flush=True)
                return line
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
    """What has been printed of a job's logs, its last lines (for the error of a failed attempt),
    and the Megatron lines the pipeline needs: the iterations saved, the scheduler override."""

    printed: int = 0
    """Characters printed so far (the logs' prefix)."""
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    saved: list = field(default_factory=list)
    """Iterations Megatron reported saving (SAVED_LINE), in order."""
    override_line: str = ""
    """The first OVERRIDE_LINE seen."""

    def emit(self, text: str) -> None:
        """Print new log text. Megatron prints every argument at start-up (--rm-url too): credentials
        in URLs are masked here, in the Modal log and in a failed attempt's error."""
        if not text:
            return
        self.printed += len(text)
        text = redact(text)  # after counting: `printed` is an offset into the job's real logs
        print(text, end="" if text.endswith("\n") else "\n", flush=True)
        lines = text.splitlines()
        self.tail.extend(lines)
        for line in lines:
            if m := SAVED_LINE.search(line):
                self.saved.append(int(m.group(1)))
            if not self.override_line and OVERRIDE_LINE.search(line):
                self.override_line = line.strip()[-300:]


def follow_job(client, job_id: str, host, poll_s: float = 2.0, log: JobLog | None = None) -> tuple[str, JobLog]:
    """Stream the job's logs until it ends; if the stream drops, poll its status instead and print
    the logs not yet shown. Returns the final status and the log."""
    import asyncio

    log = log if log is not None else JobLog()

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


def job_env(spec: dict, head_ip: str) -> dict[str, str]:
    """The job's runtime environment: the spec's plain settings, the head, and RAY_ENV."""
    return {**spec["env"], **RAY_ENV, "MASTER_ADDR": head_ip, "no_proxy": f"127.0.0.1,{head_ip}"}


def submit_job(spec: dict, head_ip: str, host) -> tuple[object, str]:
    """Submit slime as a Ray job; returns the client and the job id."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(f"http://127.0.0.1:{host.dashboard_port}")
    env = job_env(spec, head_ip)
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


# ---- the end of the job ------------------------------------------------------------------------------

def _put(store, key: str, value: dict) -> None:
    if store is not None:
        try:
            store[key] = value
        except Exception as err:  # the pipeline then names this rank as unacknowledged
            print(f"[gym] could not write {key} ({type(err).__name__}: {err})", flush=True)


def commit_and_acknowledge(host, spec: dict, store, node: Node, why: str, started: float) -> bool:
    """Commit this container's writes to the checkpoint volume, then say so in its rank entry."""
    entry = {"rank": node.rank, "started": started, "why": why}
    try:
        host.commit(spec["volumes"]["checkpoints"])
        entry["committed"] = time.time()
        print(f"[gym] rank {node.rank}: committed the checkpoint volume ({why})", flush=True)
    except Exception as err:
        entry["error"] = f"commit failed: {type(err).__name__}: {err}"[:500]
        print(f"[gym] rank {node.rank}: {entry['error']}", flush=True)
    if store is not None:
        _put(store, rank_key(spec["name"], spec["attempt"]["id"], node.rank), entry)
    return "committed" in entry


def wait_for_end(host, spec: dict, store, node: Node) -> str:
    """A worker's wait: until rank 0's end entry appears or the head is gone. Returns why it ended."""
    misses = 0
    while True:
        if store is not None:
            try:
                end = store.get(end_key(spec["name"], spec["attempt"]["id"]))
            except Exception:  # a registry blip: the head check below still ends the wait
                end = None
            if end is not None:
                return f"the job ended ({end.get('status', '?')})"
        if host.head_alive(node):
            misses = 0
        else:
            misses += 1
            if misses >= HEAD_GONE_LOOKS:
                return "the Ray head is gone"
        time.sleep(host.end_check_s)


def wait_for_acks(store, spec: dict, size: int, timeout_s: float, poll_s: float = 2.0) -> list[int]:
    """Ranks whose commit is not acknowledged after up to `timeout_s` ([] once all are)."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = [r for r in range(size)
                   if not (store.get(rank_key(spec["name"], spec["attempt"]["id"], r)) or {}).get("committed")]
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(poll_s)


def run_cluster(spec: dict, host=None) -> dict:
    """One container's part of a training attempt (every rank runs this)."""
    host = host or ModalHost()
    node = host.node(spec["num_nodes"])
    started = time.time()
    store = host.store(spec)
    if store is not None:  # the spend counts this container from now
        _put(store, rank_key(spec["name"], spec["attempt"]["id"], node.rank), {"rank": node.rank, "started": started})
    host.reload(spec["volumes"].values())
    set_host_ip(node.ip)
    if node.rank != 0:
        why = "the Ray join failed"
        try:
            start_ray(node, gpus=spec["gpus_per_node"], cpus=spec["ray_cpus_per_node"], host=host,
                      join_timeout_s=spec["join_timeout_s"])
            why = wait_for_end(host, spec, store, node)
        finally:
            commit_and_acknowledge(host, spec, store, node, why, started)
        print(f"[gym] rank {node.rank} exits: {why}", flush=True)
        return {"rank": node.rank, "why": why}
    return _run_head(spec, host, node, store, started)


def _run_head(spec: dict, host, node: Node, store, started: float) -> dict:
    """Rank 0: the Ray head, the job, then the end of the job (see the module docstring)."""
    end = {"status": "ERROR", "saved": [], "override_line": "", "joined_line": ""}
    log = JobLog()
    try:
        start_ray(node, gpus=spec["gpus_per_node"], cpus=spec["ray_cpus_per_node"], host=host,
                  join_timeout_s=spec["join_timeout_s"])
        check_inputs(spec)
        end["joined_line"] = wait_for_nodes(f"{node.head_ip}:{host.ray_port}", spec["num_nodes"],
                                            spec["join_timeout_s"])
        client, job_id = submit_job(spec, node.head_ip, host)
        done = threading.Event()
        watcher = threading.Thread(target=watch_pipeline, args=(host, spec, lambda: client.stop_job(job_id), done),
                                   daemon=True)
        watcher.start()
        try:
            status, log = follow_job(client, job_id, host, log=log)
        finally:
            done.set()
        end["status"] = status
    except BaseException as err:
        end["error"] = f"{type(err).__name__}: {err}"[:2000]
        raise
    finally:
        end.update(saved=list(log.saved), override_line=log.override_line, ended=time.time())
        if store is not None:  # tells the workers the job is over: they commit and acknowledge
            _put(store, end_key(spec["name"], spec["attempt"]["id"]), end)
        commit_and_acknowledge(host, spec, store, node, f"the job ended ({end['status']})", started)
        if store is not None and spec["num_nodes"] > 1:
            wait_s = float(spec.get("ack_wait_s", ACK_WAIT_S))
            missing = wait_for_acks(store, spec, spec["num_nodes"], wait_s)
            print("[gym] every container committed the checkpoint volume" if not missing else
                  f"[gym] ranks {missing} did not acknowledge their commit within {wait_s:.0f} s", flush=True)
    hours = (time.time() - started) / 3600
    result = {"status": end["status"], "run": spec["name"], "nodes": spec["num_nodes"], "hours": hours,
              "saved": end["saved"]}
    if end["status"] != "SUCCEEDED":
        raise JobFailed(f"[gym] slime job ended {end['status']} after {hours:.2f} h; its last log lines:\n"
                        + "\n".join(log.tail))
    return result
