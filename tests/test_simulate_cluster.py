"""The Modal side of a run, rehearsed here (scripts/simulate_cluster.py): the real pipeline, N
containers as N processes with real Ray, each with its own view of the checkpoint volume, and a
stand-in for slime's train script whose Megatron rank 0 can sit on any container. A few minutes
on 2 shared cores."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "simulate_cluster.py"


def _rehearse(tmp_path, *args):
    # Run from a HOME where Ray has left an auth token (any local ray.init() writes one, e.g. gym's
    # local backend), and with RAY_AUTH_MODE=token in the environment (as the image might set, or an
    # earlier ray.init() in the calling process): the containers must still join, without auth.
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("a" * 64)
    out = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token"})
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
    return out.stdout


def test_megatrons_rank_0_on_container_1_loses_no_save_and_every_container_stops(tmp_path):
    """Issue 16, defects 1 and 2: Megatron's rank 0 (the writer of .metadata, common.pt,
    metadata.json and the marker) on container 1, which used to never commit: the resumed stage
    found no save (or an older one). Now every container commits and acknowledges, the pipeline
    waits for all of them, then ends every call. With a dropped log stream on top."""
    out = _rehearse(tmp_path, "--nodes", "2", "--metadata-node", "1", "--drop-log-stream", "--verbose")
    assert "job SUCCEEDED" in out
    assert "checkpoint iter_0000001 complete on the volume" in out  # stage 1's save, with container 1's files
    assert "checkpoint iter_0000002 complete on the volume" in out  # the resumed stage's new save
    assert "attempt 1: all 2 containers stopped" in out and "attempt 2: all 2 containers stopped" in out
    assert "the log stream dropped" in out  # the fallback ran (rank 0's output, --verbose) ...
    assert "successfully saved checkpoint from iteration       2" in out  # ... and printed the logs after it
    assert '"SLIME_HOST_IP": "127.0.0.1"' in out and '"RAY_AUTH_MODE": "disabled"' in out
    checklist = out[out.index("smoke checklist:"):]
    assert checklist.count("[  confirmed]") == 7, checklist  # the rehearsal fills every item


def test_the_pipeline_hands_over_and_the_run_goes_on(tmp_path):
    """The handover (a fresh pipeline call before Modal's 24 h limit), with a short handover time."""
    out = _rehearse(tmp_path, "--nodes", "1", "--handover-after", "2")
    assert "[sim] the pipeline handed over to fc-pipeline-" in out
    assert "job SUCCEEDED" in out and "checkpoint iter_0000002 complete on the volume" in out
    assert "all 1 containers stopped" in out and "run succeeded: 3 rollouts" in out


def _script():
    spec = importlib.util.spec_from_file_location("simulate_cluster", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_containers_writes_reach_the_volume_only_when_it_commits(tmp_path):
    sim = _script()
    volume = tmp_path / "volume"
    a, b = sim.LocalVolume(volume, tmp_path / "a"), sim.LocalVolume(volume, tmp_path / "b")
    a.reload()
    b.reload()
    (tmp_path / "a" / "shard").write_text("from a")
    b.reload()
    assert not (tmp_path / "b" / "shard").exists()  # invisible until a commits
    a.commit()
    assert not (tmp_path / "b" / "shard").exists()  # ... and until b reloads
    b.reload()
    assert (tmp_path / "b" / "shard").read_text() == "from a"
    (tmp_path / "b" / "lost").write_text("never committed")
    b.reload()  # a container that never commits loses its writes
    assert not (volume / "lost").exists() and not (tmp_path / "b" / "lost").exists()
