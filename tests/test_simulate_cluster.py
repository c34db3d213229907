"""The training containers' real code, rehearsed here: 2 nodes as 2 processes, real Ray, a stand-in
for slime's train script (scripts/simulate_cluster.py). About a minute on 2 shared cores."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "simulate_cluster.py"


def test_two_nodes_join_and_the_job_succeeds_although_the_log_stream_drops(tmp_path):
    import os

    # Run from a HOME where Ray has left an auth token (any local ray.init() writes one, e.g. gym's
    # local backend), and from a process whose ray.init() switched token auth on in its environment
    # (as an earlier test of this suite does): the rehearsal must still work, as a fresh container would.
    home = tmp_path / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("a" * 64)
    out = subprocess.run([sys.executable, str(SCRIPT), "--nodes", "2", "--drop-log-stream", "--verbose"],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "HOME": str(home), "RAY_AUTH_MODE": "token"})
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert out.stdout.rstrip().endswith("2 nodes joined; job SUCCEEDED")
    assert "the log stream dropped" in out.stdout  # the fallback ran ...
    assert "standin: saved iter_0000002" in out.stdout  # ... and printed the logs after the drop
    assert '"SLIME_HOST_IP": "127.0.0.1"' in out.stdout and '"PYTHONUNBUFFERED": "1"' in out.stdout
