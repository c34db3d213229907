"""`import gym` stays light: a notebook re-runs it constantly."""

import json
import subprocess
import sys

HEAVY = ("torch", "ray", "transformers", "modal", "datasets", "wandb", "matplotlib", "pyarrow", "pandas")


def test_import_gym_pulls_no_heavy_module():
    code = ("import sys, json, gym; gym.SlimeConfig().plan(); "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
