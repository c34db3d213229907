"""Weights & Biases settings. There is deliberately no API key field.

The key reaches slime only as the WANDB_API_KEY environment variable, from the Modal
secret named `secret_name`. It never appears in the command line, the plan, logs or
the W&B run config (slime logs its whole argument namespace there, `--wandb-key`
included, which is why gym never passes that flag).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WandbConfig:
    """Where a run logs in W&B."""

    project: str = ""
    """W&B project (slime --wandb-project)."""
    group: str = ""
    """W&B group (slime --wandb-group); slime requires it when W&B is on."""
    team: str | None = None
    """W&B entity/team (slime --wandb-team); None means the key's default entity."""
    secret_name: str = "wandb-secret"
    """Name of the Modal secret that holds WANDB_API_KEY."""
    random_suffix: bool = True
    """slime appends a random suffix to the group's run names; False passes
    --disable-wandb-random-suffix."""
