"""What user code must travel into the slime image, and how it travels: as data.

The slime image runs Python 3.12, whatever Python the user's notebook runs. Modal can only
pickle a function or class *by value* (needed for anything defined in a notebook) when both
sides run the same Python. So gym never pickles code: the Modal functions live in
`gym.launch.remote` (shipped into the image), and everything per-run travels as plain data
(the run spec). User code travels as modules:

- a dataset class or reward function in an importable module is shipped with
  `Image.add_local_python_source(<top-level package>)` and imported by name in the container;
- a dataset class defined in a notebook (or `__main__`) that only sets class attributes is
  sent as data and rebuilt from gym's own base class;
- a notebook class that overrides methods (its code cannot travel) is refused before launch,
  with the change to make.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from gym import datasets as gym_datasets
from gym.datasets import DatasetConfig

_NOTEBOOK_MODULES = ("__main__", "__mp_main__")


@dataclass(frozen=True)
class Shipment:
    """How a run's user code reaches the container."""

    dataset_spec: dict[str, Any]
    """{"module", "qualname", "state"}: import the class by name, set its instance data."""
    modules: tuple[str, ...] = ()
    """Top-level local modules/packages to add to the image (besides gym)."""
    refusal: str | None = None
    """Why this run cannot be launched as it is, and what to change; None when it can."""
    uploads: dict[str, str] = field(default_factory=dict)
    """Local file -> path in the run's data volume (LocalDataset)."""


def _gym_base(cls: type) -> type:
    """The nearest gym dataset class an user subclass derives from."""
    for base in cls.__mro__:
        if base.__module__ == gym_datasets.__name__:
            return base
    return DatasetConfig


def _overrides_code(cls: type, base: type) -> list[str]:
    """Methods (or properties) a notebook class defines itself, i.e. code that would have to travel."""
    names = []
    for klass in cls.__mro__:
        if klass is base:
            break
        for name, value in vars(klass).items():
            if inspect.isfunction(value) or isinstance(value, (property, staticmethod, classmethod)):
                names.append(name)
    return names


def _class_attributes(cls: type, base: type) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[: cls.__mro__.index(base)]):
        attrs.update({k: v for k, v in vars(klass).items()
                      if not k.startswith("__") and not callable(v) and not isinstance(v, property)})
    return attrs


def _is_json(value: Any) -> bool:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def plan_shipment(dataset: DatasetConfig, custom_rm_path: str | None) -> Shipment:
    """Decide how the dataset and reward code reach the container (no I/O, no network)."""
    import sys

    cls = type(dataset)
    state = dataset.state()
    refusal = None
    modules: list[str] = []
    module, qualname = cls.__module__, cls.__qualname__

    if module in _NOTEBOOK_MODULES:
        base = _gym_base(cls)
        code = _overrides_code(cls, base)
        if code:
            py = f"{sys.version_info.major}.{sys.version_info.minor}"
            refusal = (
                f"{cls.__name__} is defined in this notebook/script (__main__) and overrides "
                f"{', '.join(code)}: that code cannot travel to Modal (the slime image runs Python 3.12, "
                f"this kernel {py}, and gym never pickles code). Move {cls.__name__} into a .py file next to "
                "the notebook and import it from there (gym ships that module), or use a gym dataset as it "
                "is (gym.datasets.GSM8K is the seed tutorial's GSM8K with its test split).")
        else:
            state = {**_class_attributes(cls, base), **state}
            module, qualname = base.__module__, base.__qualname__
    elif not module.startswith("gym.") and module != "gym":
        modules.append(module.split(".")[0])
    if "<locals>" in qualname:
        refusal = f"{cls.__name__} is defined inside a function; define it at the top level of a module"

    if custom_rm_path:
        top = custom_rm_path.split(".")[0]
        if top not in ("gym", *_NOTEBOOK_MODULES) and top not in modules:
            modules.append(top)

    bad = [k for k, v in state.items() if not _is_json(v)]
    if bad and refusal is None:
        refusal = (f"{cls.__name__} instance attributes {bad} are not plain data (JSON); "
                   "gym sends a dataset's attributes as data")
    uploads = dataset.uploads() if isinstance(dataset, gym_datasets.LocalDataset) else {}
    return Shipment(dataset_spec={"module": module, "qualname": qualname, "state": state},
                    modules=tuple(modules), refusal=refusal, uploads=uploads)


def rebuild_dataset(spec: dict[str, Any]) -> DatasetConfig:
    """Inverse of the dataset spec: import the class and restore its instance data (no __init__)."""
    import importlib

    cls = importlib.import_module(spec["module"])
    for part in spec["qualname"].split("."):
        cls = getattr(cls, part)
    obj = cls.__new__(cls)
    obj.__dict__.update(spec["state"])
    return obj
