"""Offline, isolated test environment: no hub, no W&B servers, no Modal token, a temp HOME."""

import os
import tempfile

_home = tempfile.mkdtemp(prefix="gym-test-home-")
os.environ.update({
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "HOME": _home,
    "XDG_CONFIG_HOME": os.path.join(_home, ".config"),
    "XDG_CACHE_HOME": os.path.join(_home, ".cache"),
    "MPLCONFIGDIR": os.path.join(_home, ".config", "matplotlib"),
    "TOKENIZERS_PARALLELISM": "false",
})
# A fake Modal token makes every Modal call hang for a minute: make sure none is set.
for var in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_PROFILE", "WANDB_API_KEY", "HF_TOKEN"):
    os.environ.pop(var, None)
