"""Where things live inside the Modal containers (and the slime image).

These are container paths, not local ones: they appear in the slime command line and
in the Modal app's volume mounts. The local backend never reads them.
"""

DATA_PATH = "/data"
"""Mount point of the run's own data volume; datasets write their files under it."""
CHECKPOINTS_PATH = "/checkpoints"
"""Mount point of the run's own checkpoint volume (slime --save/--load)."""
HF_CACHE_PATH = "/root/.cache/huggingface"
"""Mount point of the shared Hugging Face cache volume (all runs share downloads)."""
MODELS_PATH = f"{HF_CACHE_PATH}/gym-models"
"""Model snapshots, one plain directory per repo id: {MODELS_PATH}/Qwen/Qwen3-4B."""
SLIME_ROOT = "/root/slime"
"""slime's checkout in the pinned image."""
MEGATRON_ROOT = "/root/Megatron-LM"
"""Megatron-LM's checkout in the pinned image (must be on PYTHONPATH)."""


def model_dir(repo_id: str) -> str:
    """Container path of a downloaded model snapshot."""
    return f"{MODELS_PATH}/{repo_id}"
