"""slime run configs: SlimeConfig -> rules -> Plan, argv and the Modal app."""

from gym.paths import CHECKPOINTS_PATH, DATA_PATH, HF_CACHE_PATH
from gym.slime.argv import SLIME_IMAGE
from gym.slime.config import SlimeConfig
from gym.slime.plan import Plan

__all__ = ["CHECKPOINTS_PATH", "DATA_PATH", "HF_CACHE_PATH", "SLIME_IMAGE", "Plan", "SlimeConfig"]
