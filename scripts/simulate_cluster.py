"""Rehearse a run's Modal side on this machine: the real pipeline, N containers as N local processes.

    .venv/bin/python scripts/simulate_cluster.py --nodes 2 --metadata-node 1  # job SUCCEEDED, saves complete
    .venv/bin/python scripts/simulate_cluster.py --nodes 2 --fail             # exits 1 after one attempt
    .venv/bin/python scripts/simulate_cluster.py --nodes 3 --drop-log-stream  # still SUCCEEDED
    .venv/bin/python scripts/simulate_cluster.py --nodes 2 --handover-after 5 # the pipeline hands over

Real: the run spec (`gym.launch.app.run_spec` of a real config), the pipeline
(`gym.launch.pipeline.run_pipeline`: the smoke run's two stages, resume repair, the end-of-job
protocol, spend, handover, the smoke checklist), every container's code
(`gym.launch.cluster.run_cluster`: `ray start` head and workers with join retries, the wait for
all nodes, job submission with Ray's job API, log following with its fallback, the commit and
acknowledgement of every container, workers watching the head), Ray itself (a head and N-1
workers on 127.0.0.1, each with its own ports, as Ray's own multi-node tests do), real files.
Modelled: Modal's services. `LocalVolume` gives every container (and the pipeline) its *own view*
of the checkpoint volume: its writes are invisible to the others until it commits, a container
that never commits loses them, reload pulls the others' commits. `FileDict` is the run's Dict
(a folder of JSON files, atomic). A training call is N processes (`LocalCluster`); ending it
(`cancel(terminate_containers=True)`) kills them, as Modal stops containers. A pipeline call is a
thread. `scripts/standin_slime_train.py` takes the place of slime's train script: one Ray actor
per container writes that container's shard into its own view, and the one on `--metadata-node K`
(Megatron's rank 0) writes `.metadata`, `common.pt`, `metadata.json` and the marker.

It prints, as a contract (checks outside this repository read these phrases): `job SUCCEEDED`,
`checkpoint iter_<N> complete on the volume` (the pipeline, after every container acknowledged)
and `all <N> containers stopped` (per attempt, once every container process has ended), then the
smoke checklist. Every process (and every Ray process) it starts runs in its own process group
and is killed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gym.launch.cluster import ModalHost, Node, run_cluster  # noqa: E402

STANDIN = ROOT / "scripts" / "standin_slime_train.py"
ATTEMPT_TIMEOUT_S = 540
SIM_POLL_S = 1.0
"""The pipeline's look interval here (30 s on Modal)."""


class FileDict:
    """The run's modal.Dict for local processes: one JSON file per key, written atomically."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.folder / urllib.parse.quote(key, safe="")

    def get(self, key: str, default=None):
        try:
            return json.loads(self._path(key).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return default

    def _tmp(self, value) -> Path:
        tmp = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}-{random.random()}"
        tmp.write_text(json.dumps(value))
        return tmp

    def __setitem__(self, key: str, value) -> None:
        os.replace(self._path(key).parent / self._tmp(value).name, self._path(key))

    def __getitem__(self, key: str):
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def put(self, key: str, value, skip_if_exists: bool = False) -> bool:
        if not skip_if_exists:
            self[key] = value
            return True
        tmp = self._tmp(value)
        try:
            os.link(tmp, self._path(key))  # atomic put-if-absent
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink()

    def pop(self, key: str, *default):
        value = self.get(key)
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            if default:
                return default[0]
            raise KeyError(key) from None
        return value


class LocalVolume:
    """One container's view of a Modal Volume: `view` is what it reads and writes; `volume` holds
    the committed state. reload() replaces the view with the committed state; commit() publishes
    the view's changes since its last reload (new and changed files, deletions), file by file:
    the last commit wins."""

    def __init__(self, volume: Path, view: Path):
        self.volume, self.view = Path(volume), Path(view)
        self.volume.mkdir(parents=True, exist_ok=True)
        self.seen: dict[str, tuple] = {}

    @staticmethod
    def _files(root: Path) -> dict[str, tuple]:
        return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
                for p in root.rglob("*") if p.is_file()}

    def reload(self) -> None:
        shutil.rmtree(self.view, ignore_errors=True)
        shutil.copytree(self.volume, self.view)
        self.seen = self._files(self.view)

    def commit(self) -> None:
        now = self._files(self.view)
        for rel, stamp in now.items():
            if self.seen.get(rel) != stamp:
                target = self.volume / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.commit-{os.getpid()}")
                shutil.copy2(self.view / rel, tmp)
                os.replace(tmp, target)
        for rel in set(self.seen) - set(now):
            (self.volume / rel).unlink(missing_ok=True)
        for folder in sorted((p for p in self.volume.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                if not any(folder.iterdir()) and not (self.view / folder.relative_to(self.volume)).exists():
                    folder.rmdir()
        self.seen = now


class LocalHost(ModalHost):
    """The Modal side of a container, for one local process: rank from the command line, every
    node at 127.0.0.1 with its own Ray ports (and a `gym_rank_<r>` resource the stand-in places
    its actors by), its own view of the checkpoint volume, the run's Dict as files."""

    end_check_s = 1.0

    def __init__(self, rank: int, ports: dict, temp_dir: str, work: Path, drop_log_stream: bool = False):
        self.rank, self.ports, self.temp_dir, self.drop = rank, ports, temp_dir, drop_log_stream
        self.ray_port = ports["gcs"]
        self.dashboard_port = ports["dashboard"]
        self.work = Path(work)
        self.volume = LocalVolume(self.work / "volume" / "checkpoints", self.work / "views" / f"r{rank}" / "checkpoints")

    def node(self, size: int) -> Node:
        return Node(self.rank, "127.0.0.1", "127.0.0.1", size)

    def ray_args(self, node: Node) -> list[str]:
        p = self.ports["nodes"][node.rank]
        args = [f"--node-manager-port={p}", f"--object-manager-port={p + 1}",
                f"--dashboard-agent-listen-port={p + 2}", f"--dashboard-agent-grpc-port={p + 3}",
                f"--metrics-export-port={p + 4}", f"--runtime-env-agent-port={p + 5}",
                f"--min-worker-port={p + 10}", f"--max-worker-port={p + 59}",
                f"--resources={json.dumps({f'gym_rank_{node.rank}': 1})}"]
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
        self.volume.reload()  # the checkpoints; the model and data folders are read-only and shared

    def commit(self, volume_name: str) -> None:
        self.volume.commit()

    def store(self, spec: dict):
        return FileDict(self.work / "dict") if spec.get("attempt") else None

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


def make_spec(nodes: int, work: Path, fail: bool, metadata_node: int, handover_after_s: float | None) -> dict:
    """The real run spec of the smoke run's layout on `nodes` nodes (two stages: 2 rollouts, then
    one more resumed), pointed at `work` and the stand-in script, with the pipeline's view of the
    checkpoint volume."""
    from gym.launch.app import run_spec
    from gym.launch.remote import MARKER
    from gym.launch.shipping import plan_shipment
    from gym.launch.smoke import SMOKE_STAGES, smoke_config
    from gym.paths import CHECKPOINTS_PATH, DATA_PATH, HF_CACHE_PATH, SLIME_ROOT

    config = smoke_config(num_nodes=nodes).replace(name=f"sim-{nodes}n", keep_checkpoints=2)
    resolved = config.resolve()
    spec = run_spec(resolved, plan_shipment(resolved.dataset, None), SMOKE_STAGES)
    mapping = {HF_CACHE_PATH: str(work / "hf"), DATA_PATH: str(work / "data"),
               CHECKPOINTS_PATH: str(work / "views" / "pipeline" / "checkpoints"),
               f"{SLIME_ROOT}/{resolved.train_script}": str(STANDIN)}
    spec = relocate(spec, mapping)
    spec.update(gpus_per_node=0, ray_cpus_per_node=1, join_timeout_s=360,  # a loaded shared machine is slow
                ack_wait_s=120.0, budget={"max_usd": 100.0, "bound_usd": 10.0, "usd_per_hour": 10.0,
                                          "cpu_usd_per_hour": 0.1})
    if handover_after_s is not None:
        spec["handover_after_s"] = handover_after_s
    spec["env"]["GYM_SIM_METADATA_NODE"] = str(metadata_node)
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
    (work / "volume" / "checkpoints").mkdir(parents=True, exist_ok=True)
    return spec


def node_main(args) -> int:
    """One container's process, as Modal's `train` function runs it: its own view of the volume."""
    work = Path(args.work)
    spec = json.loads(Path(args.spec).read_text())
    spec = relocate(spec, {str(work / "views" / "pipeline"): str(work / "views" / f"r{args.rank}")})
    os.environ.update(GYM_SIM_VIEW=f"r{args.rank}", GYM_SIM_NODES=str(spec["num_nodes"]))  # inherited by Ray
    host = LocalHost(args.rank, json.loads(args.ports), args.temp_dir, work, args.drop_log_stream)
    result = run_cluster(spec, host=host)
    print("GYM-RESULT " + json.dumps(result), flush=True)
    return 0


def kill_group(pid: int) -> None:
    """A container's process and every Ray process it started (they share its process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGTERM:
            time.sleep(1.0)


class LocalCluster:
    """A training call: N container processes. get() waits for rank 0 (its return value, or its
    error with its last log lines); cancel(terminate_containers=True) stops every container. A
    container whose process ended takes its Ray processes with it (its process group), as a
    stopped Modal container does."""

    def __init__(self, object_id: str, spec: dict, work: Path, drop: bool):
        self.object_id, self.work, self.nodes = object_id, work, spec["num_nodes"]
        self.ports = pick_ports(self.nodes)
        self.temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
        spec_path = work / f"{object_id}.json"
        spec_path.write_text(json.dumps(spec))
        self.logs = [work / f"{object_id}-node{r}.log" for r in range(self.nodes)]
        self.procs: list[subprocess.Popen] = []
        self.reaped: set[int] = set()
        self.cancelled = False
        for rank in range(self.nodes):
            # Each container has a fresh HOME: in the caller's, a ~/.ray/auth_token (written by any
            # earlier local ray.init()) would switch `ray start --head` to token authentication
            # unless RAY_AUTH_MODE says otherwise (cluster.RAY_ENV, which the containers set).
            home = work / f"home-{object_id}-r{rank}"
            home.mkdir(exist_ok=True)
            env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
                   "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0", "RAY_prestart_worker_first_driver": "0"}
            cmd = [sys.executable, __file__, "--node-rank", str(rank), "--spec", str(spec_path), "--work", str(work),
                   "--ports", json.dumps(self.ports), "--temp-dir", self.temp_dir] + (["--drop-log-stream"] if drop else [])
            log = open(self.logs[rank], "w")
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                                               start_new_session=True))
        self.started = time.monotonic()

    def reap(self) -> None:
        for rank, proc in enumerate(self.procs):
            if proc.poll() is not None and rank not in self.reaped:
                kill_group(proc.pid)
                self.reaped.add(rank)

    def stopped(self) -> bool:
        self.reap()
        return all(p.poll() is not None for p in self.procs)

    def get(self, timeout: float | None = None):
        try:
            code = self.procs[0].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.reap()
            if time.monotonic() - self.started > ATTEMPT_TIMEOUT_S:
                raise RuntimeError(f"the attempt ran past {ATTEMPT_TIMEOUT_S} s") from None
            raise TimeoutError() from None  # builtin, as modal's FunctionCall.get
        self.reap()
        output = self.logs[0].read_text()
        result = next((json.loads(line.split(" ", 1)[1]) for line in output.splitlines()
                       if line.startswith("GYM-RESULT ")), None)
        if code != 0 or result is None:
            raise RuntimeError(f"rank 0 exited with code {code}; its last lines:\n" + "\n".join(output.splitlines()[-40:]))
        return result

    def cancel(self, terminate_containers: bool = False) -> None:
        self.cancelled = True
        if terminate_containers:
            for proc in self.procs:
                kill_group(proc.pid)
            for proc in self.procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)

    def cleanup(self) -> None:
        for proc in self.procs:
            kill_group(proc.pid)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


class PipelineCall:
    """A pipeline call: `run_pipeline` in a thread (a handover spawns the next one)."""

    def __init__(self, object_id: str, target):
        self.object_id, self.result, self.error = object_id, None, None

        def body():
            try:
                self.result = target()
            except BaseException as err:  # noqa: BLE001 - reported by get()
                self.error = err

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def get(self, timeout: float | None = None):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError()
        if self.error:
            raise self.error
        return self.result

    def cancel(self, terminate_containers: bool = False) -> None:
        pass


class LocalServices:
    """What the pipeline asks of Modal (pipeline.ModalServices), for this machine."""

    def __init__(self, work: Path, drop: bool):
        from gym.launch.pipeline import run_pipeline

        self.work, self.drop = work, drop
        self.registry = FileDict(work / "dict")
        self.volume = LocalVolume(work / "volume" / "checkpoints", work / "views" / "pipeline" / "checkpoints")
        self.calls: dict[str, object] = {}
        services = self

        class Train:
            def spawn(self, spec):
                call = LocalCluster(f"fc-train-{len(services.calls)}", spec, work, drop)
                services.calls[call.object_id] = call
                return call

        class Pipeline:
            def spawn(self, spec, fn_ids, state):
                object_id = f"fc-pipeline-{len(services.calls)}"
                call = PipelineCall(object_id, lambda: run_pipeline(spec, fn_ids, state, services))
                services.calls[object_id] = call
                return call

        self.functions = {"train": Train(), "pipeline": Pipeline()}

    def call(self, call_id: str):
        return self.calls[call_id]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--metadata-node", type=int, default=0,
                        help="the container of Megatron's rank 0 (writer of .metadata, common.pt, metadata.json "
                             "and the marker); default 0")
    parser.add_argument("--fail", action="store_true", help="the job fails before its first checkpoint")
    parser.add_argument("--drop-log-stream", action="store_true", help="the log stream breaks after one chunk")
    parser.add_argument("--handover-after", type=float, default=None, metavar="S",
                        help="the pipeline hands over to a fresh call S seconds after it started")
    parser.add_argument("--verbose", action="store_true", help="print every container's output")
    parser.add_argument("--node-rank", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--ports", help=argparse.SUPPRESS)
    parser.add_argument("--temp-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.node_rank is not None:
        args.rank = args.node_rank
        return node_main(args)
    if not 0 <= args.metadata_node < args.nodes:
        parser.error(f"--metadata-node must be in 0..{args.nodes - 1} (--nodes {args.nodes}), got {args.metadata_node}")

    from gym.launch import pipeline, runs

    pipeline.POLL_S = SIM_POLL_S  # the module's looks (30 s on Modal)
    pipeline.COMMIT_POLL_S = SIM_POLL_S / 2
    with tempfile.TemporaryDirectory(prefix="gym-sim-") as tmp:
        work = Path(tmp)
        spec = make_spec(args.nodes, work, args.fail, args.metadata_node, args.handover_after)
        services = LocalServices(work, args.drop_log_stream)
        lease = runs.acquire(services.registry, spec["name"], {
            "phase": "launching", "max_usd": spec["budget"]["max_usd"], "app_id": "sim (this machine)",
            "launched_from": "the rehearsal, scripts/simulate_cluster.py (a terminal, not a notebook kernel)"})
        spec["lease"] = {"holder": lease["holder"]}
        try:
            first = services.functions["pipeline"].spawn(spec, {}, {"data_ready": True})
            result = first.get()
            while result.get("phase") == "handed over":
                print(f"[sim] the pipeline handed over to {result['next']}", flush=True)
                result = services.calls[result["next"]].get()
            clusters = [c for c in services.calls.values() if isinstance(c, LocalCluster)]
            deadline = time.monotonic() + 30  # containers that acknowledged exit on their own; give them a moment
            while not all(c.stopped() for c in clusters) and time.monotonic() < deadline:
                time.sleep(0.5)
            if args.verbose:
                for c in clusters:
                    for log in c.logs:
                        print(f"---- {log.name} ----\n{log.read_text()}")
            for n, c in enumerate(clusters, 1):
                running = [r for r, p in enumerate(c.procs) if p.poll() is None]
                print(f"attempt {n}: all {c.nodes} containers stopped" if not running else
                      f"attempt {n}: containers {running} of {c.nodes} still running after the run ended")
            record = services.registry.get(spec["name"]) or {}
            statuses = []
            for c in clusters:
                text = c.logs[0].read_text()
                status = next((s for s in ("SUCCEEDED", "FAILED", "STOPPED") if f"slime job ended {s}" in text
                               or f'"status": "{s}"' in text), "did not end")
                statuses.append(status)
                print(f"job {status}")
            from gym.launch.smoke import format_checklist

            print(format_checklist(record.get("checklist", [])))
            print(f"run {result.get('phase')}: {result.get('detail', '')} (~${float(record.get('spent_usd', 0)):,.2f})")
            ok = (result.get("phase") == "succeeded" and all(s == "SUCCEEDED" for s in statuses)
                  and all(c.stopped() for c in clusters))
            if not ok:
                print(record.get("error", ""), file=sys.stderr)
            return 0 if ok else 1
        finally:
            for c in services.calls.values():
                if isinstance(c, LocalCluster):
                    c.cleanup()


if __name__ == "__main__":
    sys.exit(main())
