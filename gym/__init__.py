"""gym: GRPO with slime on Modal, from one node to four, as an executable course.

One config object (`SlimeConfig`) becomes a validated `Plan`, the exact slime command
line and a Modal app; the same config runs locally on a tiny model. This module only
re-exports: importing it pulls in no torch, ray, transformers, modal, datasets or wandb.
"""

from gym.comparison import compare
from gym.datasets import GSM8K, HuggingFaceDataset, LocalDataset
from gym.errors import ConfigError, Fix, Problem
from gym.launch.runs import Run, attach
from gym.launch.smoke import smoke_config
from gym.local import History, run_local, tiny_config
from gym.models import MODELS, get_model
from gym.slime import DATA_PATH, Plan, SlimeConfig
from gym.wandb import WandbConfig

__all__ = ["DATA_PATH", "GSM8K", "MODELS", "ConfigError", "Fix", "History", "HuggingFaceDataset", "LocalDataset",
           "Plan", "Problem", "Run", "SlimeConfig", "WandbConfig", "attach", "compare", "get_model", "run_local",
           "smoke_config",
           "tiny_config"]
__version__ = "0.1.0"
