"""A SlimeConfig as the Python that builds it, for pasting into a script (the panel shows it)."""

from __future__ import annotations

import dataclasses

from gym.slime.config import SlimeConfig


def _value(value, imports: set[str]) -> str:
    cls = type(value)
    if cls.__module__ not in ("builtins", "__main__"):  # a notebook's own classes need no import
        imports.add(f"from {cls.__module__} import {cls.__name__}")
    if cls.__module__ == "gym.models" and value == cls():
        return f"{cls.__name__}()"
    return repr(value)


def config_to_code(config: SlimeConfig, var: str = "run") -> str:
    """Python source that rebuilds `config`: the fields that differ from SlimeConfig's defaults."""
    defaults = SlimeConfig()
    imports = {"from gym.slime import SlimeConfig"}
    lines = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "model" and isinstance(value, str):
            value = config._model
        if value == getattr(defaults, f.name) and f.name != "model":
            continue
        lines.append(f"    {f.name}={_value(value, imports)},")
    body = "\n".join(lines)
    return "\n".join(sorted(imports)) + f"\n\n{var} = SlimeConfig(\n{body}\n)\n"
