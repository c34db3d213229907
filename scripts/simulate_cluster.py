"""Rehearse the training containers' code on this machine: N nodes as N local processes.

    .venv/bin/python scripts/simulate_cluster.py --nodes 2                    # -> "2 nodes joined; job SUCCEEDED"
    .venv/bin/python scripts/simulate_cluster.py --nodes 2 --fail             # exits 1 after one attempt
    .venv/bin/python scripts/simulate_cluster.py --nodes 3 --drop-log-stream  # still SUCCEEDED

Real: the run spec (`gym.launch.app.run_spec` of a real config), every rank's code
(`gym.launch.cluster.run_cluster`: `ray start` head and workers with join retries, the wait for all
nodes, checkpoint repair before resume, job submission with Ray's job API, log following with its
fallback), the pipeline's retry decision (`gym.launch.pipeline.decide`), Ray itself (a head and
N-1 workers on 127.0.0.1, each with its own ports, as Ray's own multi-node tests do).
Replaced: the Modal services a container calls, through `LocalHost`: the cluster lookup answers
with this process's rank and 127.0.0.1; volume reload/commit, the dashboard tunnel and the run
registry are skipped. The container paths (/data, /checkpoints, the HF cache) point into a temp
folder, and `scripts/standin_slime_train.py` takes the place of slime's train script.

Every process (and every Ray process) it starts runs in its own process group and is killed at
the end, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gym.launch.cluster import ModalHost, Node, run_cluster  # noqa: E402

STANDIN = ROOT / "scripts" / "standin_slime_train.py"
ATTEMPT_TIMEOUT_S = 540


class LocalHost(ModalHost):
    """The Modal side of a container, for one local process: rank from the command line, every
    node at 127.0.0.1 with its own Ray ports; no volumes, tunnel or registry."""

    def __init__(self, rank: int, ports: dict, temp_dir: str, drop_log_stream: bool = False):
        self.rank, self.ports, self.temp_dir, self.drop = rank, ports, temp_dir, drop_log_stream
        self.ray_port = ports["gcs"]
        self.dashboard_port = ports["dashboard"]

    def node(self, size: int) -> Node:
        return Node(self.rank, "127.0.0.1", "127.0.0.1", size)

    def ray_args(self, node: Node) -> list[str]:
        p = self.ports["nodes"][node.rank]
        args = [f"--node-manager-port={p}", f"--object-manager-port={p + 1}",
                f"--dashboard-agent-listen-port={p + 2}", f"--dashboard-agent-grpc-port={p + 3}",
                f"--metrics-export-port={p + 4}", f"--runtime-env-agent-port={p + 5}",
                f"--min-worker-port={p + 10}", f"--max-worker-port={p + 59}"]
        if node.rank == 0:
            args += [f"--temp-dir={self.temp_dir}", f"--ray-client-server-port={self.ports['client']}"]
        return args

    def clear_ray(self) -> None:
        """Not `ray stop`: on a shared machine it would stop every Ray on it. Kill this node's
        own Ray processes (they carry its node-manager port on their command line)."""
        port = f"--node_manager_port={self.ports['nodes'][self.rank]}"
        out = subprocess.run(["pgrep", "-f", "--", port], capture_output=True, text=True).stdout.split()
        for pid in out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)

    def reload(self, volume_names) -> None:
        pass

    def pipeline_alive(self, spec: dict) -> bool:
        return True  # no registry here: the pipeline's side is rehearsed by tests/test_launch.py

    def commit(self, volume_name: str) -> None:
        pass

    @contextlib.contextmanager
    def dashboard_tunnel(self, spec: dict):
        yield f"http://127.0.0.1:{self.dashboard_port} (local; on Modal a modal.forward tunnel)"

    def log_stream(self, client, job_id: str):
        stream = client.tail_job_logs(job_id)
        if not self.drop:
            return stream

        async def dropping():
            async for chunk in stream:
                yield chunk
                raise ConnectionResetError("simulated websocket reset after the first log chunk")

        return dropping()


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(nodes: int) -> dict:
    """A free block of ports: GCS, dashboard, client server, then 60 per node."""
    for _ in range(50):
        base = random.randrange(20000, 60000 - 100 * (nodes + 1), 10)
        ports = {"gcs": base, "dashboard": base + 1, "client": base + 2,
                 "nodes": [base + 100 + 100 * i for i in range(nodes)]}
        wanted = [base, base + 1, base + 2] + [p + k for p in ports["nodes"] for k in range(60)]
        if all(_free(p) for p in wanted):
            return ports
    raise RuntimeError("no free block of ports found")


def relocate(value, mapping: dict):
    """Container paths -> paths under the temp folder, everywhere in the spec."""
    if isinstance(value, dict):
        return {k: relocate(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [relocate(v, mapping) for v in value]
    if isinstance(value, str):
        for prefix, local in mapping.items():
            if value == prefix or value.startswith(prefix + "/"):
                return local + value[len(prefix):]
    return value


def make_spec(nodes: int, work: Path, fail: bool) -> dict:
    """The real run spec of a small config, pointed at `work` and the stand-in script."""
    from gym.launch.app import run_spec
    from gym.launch.remote import MARKER
    from gym.launch.shipping import plan_shipment
    from gym.launch.smoke import smoke_config
    from gym.paths import CHECKPOINTS_PATH, DATA_PATH, HF_CACHE_PATH, SLIME_ROOT

    config = smoke_config(num_nodes=nodes).replace(name=f"sim-{nodes}n", num_rollout=3, keep_checkpoints=2)
    resolved = config.resolve()
    spec = run_spec(resolved, plan_shipment(resolved.dataset, None))
    mapping = {HF_CACHE_PATH: str(work / "hf"), DATA_PATH: str(work / "data"),
               CHECKPOINTS_PATH: str(work / "checkpoints"), f"{SLIME_ROOT}/{resolved.train_script}": str(STANDIN)}
    spec = relocate(spec, mapping)
    spec.update(gpus_per_node=0, ray_cpus_per_node=1, join_timeout_s=360)  # a loaded shared machine is slow
    if fail:
        spec["env"]["GYM_STANDIN_FAIL"] = "1"
    for folder in (spec["model"]["dir"], spec["ref_load"]):
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "config.json").write_text("{}")
    (Path(spec["model"]["dir"]) / MARKER).write_text("{}")
    for path in spec["data"]["files"]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("simulated rows\n")
    (Path(spec["data"]["files"][0]).parent / MARKER).write_text("{}")
    Path(spec["checkpoint_dir"]).mkdir(parents=True, exist_ok=True)
    return spec


def node_main(args) -> int:
    """One node's process: the container side, as Modal's `train` function would run it."""
    spec = json.loads(Path(args.spec).read_text())
    host = LocalHost(args.rank, json.loads(args.ports), args.temp_dir, args.drop_log_stream)
    result = run_cluster(spec, host=host)
    print("GYM-RESULT " + json.dumps(result), flush=True)
    return 0


def kill_group(proc: subprocess.Popen) -> None:
    """The process and every Ray process it started (they share its process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            time.sleep(1.0)


RAY_AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
"""Variables through which a caller's Ray token authentication would reach the simulated nodes."""


def run_attempt(spec_path: Path, nodes: int, work: Path, drop: bool) -> tuple[int, str]:
    """Start N node processes, wait for rank 0, kill everything. Returns rank 0's code and output."""
    ports = pick_ports(nodes)
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    # Each node gets a fresh HOME, as a container does. In the caller's HOME, a ~/.ray/auth_token
    # (written by any earlier local `ray.init()`, e.g. gym's local backend) switches `ray start
    # --head` to token authentication (Ray 2.60 authentication_token_setup.py
    # maybe_enable_token_auth_if_token_available), and every later connection fails with
    # "Authentication token is missing or incorrect".
    home = work / "home"
    home.mkdir(exist_ok=True)
    # Nor does a container inherit the caller's Ray auth state: a `ray.init()` in the calling
    # process sets RAY_AUTH_MODE=token in its environment (_enable_token_auth), which children inherit.
    inherited = {k: v for k, v in os.environ.items() if k not in RAY_AUTH_VARS}
    env = {**inherited, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "HOME": str(home),
           "RAY_USAGE_STATS_ENABLED": "0", "RAY_prestart_worker_first_driver": "0"}
    procs = []
    try:
        for rank in range(nodes):
            log = open(work / f"node{rank}.log", "w")
            cmd = [sys.executable, __file__, "--node-rank", str(rank), "--spec", str(spec_path),
                   "--ports", json.dumps(ports), "--temp-dir", temp_dir] + (["--drop-log-stream"] if drop else [])
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                                          start_new_session=True))
        try:
            code = procs[0].wait(timeout=ATTEMPT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = 124
    finally:
        for proc in procs:
            kill_group(proc)
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
    return code, (work / "node0.log").read_text()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--fail", action="store_true", help="the job fails before its first checkpoint")
    parser.add_argument("--drop-log-stream", action="store_true", help="the log stream breaks after one chunk")
    parser.add_argument("--verbose", action="store_true", help="print rank 0's output")
    parser.add_argument("--node-rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--temp-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.node_rank is not None:
        args.rank = args.node_rank
        return node_main(args)

    from gym.launch import checkpoints
    from gym.launch.pipeline import Outcome, decide, failure_message

    with tempfile.TemporaryDirectory(prefix="gym-sim-") as tmp:
        work = Path(tmp)
        spec = make_spec(args.nodes, work, args.fail)
        spec_path = work / "spec.json"
        spec_path.write_text(json.dumps(spec))
        attempts = 0
        while True:
            attempts += 1
            before = checkpoints.latest_iteration(spec["checkpoint_dir"])
            code, output = run_attempt(spec_path, args.nodes, work, args.drop_log_stream)
            if args.verbose:
                print(output)
                if code != 0:
                    for rank in range(1, args.nodes):
                        print(f"---- node {rank} (last lines) ----\n" + "\n".join(
                            (work / f"node{rank}.log").read_text().splitlines()[-15:]))
            after = checkpoints.latest_iteration(spec["checkpoint_dir"])
            result = next((json.loads(line.split(" ", 1)[1]) for line in output.splitlines()
                           if line.startswith("GYM-RESULT ")), None)
            outcome = Outcome(ok=code == 0 and result is not None, error=output[-3000:],
                              checkpoint_before=before, checkpoint_after=after)
            step = decide(outcome, 0, 1, attempts)
            if step == "done":
                joined = f"all {args.nodes} nodes joined the Ray cluster" in output
                if not joined:
                    print(f"rank 0 never saw {args.nodes} nodes:\n{output[-3000:]}", file=sys.stderr)
                    return 1
                print(f"{args.nodes} nodes joined; job {result['status']}")
                return 0
            if step == "fail":
                print(failure_message(outcome, attempts), file=sys.stderr)
                print(f"{attempts} attempt(s); job failed", file=sys.stderr)
                return 1


if __name__ == "__main__":
    sys.exit(main())
