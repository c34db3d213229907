"""The local backend: run a SlimeConfig for real on this machine, on a tiny model.

Importing this package is cheap; torch, transformers and ray load when a run starts.
"""

from gym.local.history import History


def run_local(config=None, **kwargs) -> History:
    """See gym.local.runner.run_local."""
    from gym.local.runner import run_local as _run_local

    return _run_local(config, **kwargs)


def tiny_config(data_dir=None, **overrides):
    """See gym.local.tiny.tiny_config."""
    from gym.local.tiny import tiny_config as _tiny_config

    return _tiny_config(data_dir, **overrides)


__all__ = ["History", "run_local", "tiny_config"]
