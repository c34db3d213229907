"""Launching on Modal: the app (app.py), the pipeline that runs inside Modal (pipeline.py), the
Run handle and lease (runs.py), the cost bound (budget.py), checkpoints (checkpoints.py) and what
runs in the training containers (remote.py, cluster.py).

`gym.launch.launch(config, max_usd=...)` is importable from here without importing modal first.
"""


def launch(config, *, max_usd: float | None = None, stages: tuple[int, ...] | None = None):
    """Check everything, then start `config` on Modal, detached; returns a `Run` (see launcher.py)."""
    from gym.launch.launcher import launch as _launch

    return _launch(config, max_usd=max_usd, stages=stages)
