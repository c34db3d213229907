"""Images modal can load: no build step above local files, checked offline.

modal adds local files (`add_local_python_source`, `add_local_dir`, `add_local_file` without
`copy=True`) as *mount layers*: they are not built into the image but attached to each container
when it starts. A build step (`.env`, `.run_commands`, `.pip_install`, `.dockerfile_commands`, ...)
on top of such a layer cannot work, and modal refuses it while the image *loads* (in `app.run()` or
`app.deploy()`, with credentials): the build step's loader calls `_assert_no_mount_layers()` on its
base image, which raises `InvalidError` when the base carries mount layers (modal 1.6.4,
`modal/_image.py`: `_Image._from_args`'s `_load`, `_Image._assert_no_mount_layers`). The mount
layers themselves are only set by that loader (`_add_mount_layer_or_copy`), so building the app
offline and inspecting `Function.info()` never shows the problem: the first real launch would.

`check_image` walks the same layer chain offline, as modal's loader resolves it (each layer's
dependencies), gives every layer the mount layers the loader would give it, and runs modal's own
`_assert_no_mount_layers` on the base of every build step. `build_run_app` and `build_serve_app`
run it on every function's image, so a wrong image fails here, before anything is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Layer:
    """One layer of an image, bottom (the registry image) first."""

    kind: str
    """"build step" (built into the image) or "local files" (a mount layer, attached at start)."""
    what: str
    """The image method that made it (e.g. "run_commands", "env"), or the files it adds."""


def _inner(obj: Any):
    from modal._utils.async_utils import synchronizer

    return synchronizer._translate_in(obj)


def _describe(image) -> str:
    found = re.search(r"_Image\.(\w+)\.<locals>", image._rep)
    return found.group(1) if found else image._rep


def _deps(obj) -> list:
    return list(obj._deps()) if obj._deps is not None else []


def _split(image) -> tuple[list, list]:
    """(base images, local-file mounts) this layer depends on, as modal's loader resolves them."""
    from modal._image import _Image
    from modal.mount import _Mount

    deps = _deps(image)
    return [d for d in deps if isinstance(d, _Image)], [d for d in deps if isinstance(d, _Mount)]


def image_layers(image) -> list[Layer]:
    """The layers of a (real, unbuilt) `modal.Image`, bottom first; a layer built from several
    bases lists each base's layers first."""
    seen: set[int] = set()
    out: list[Layer] = []

    def visit(img) -> None:
        if id(img) in seen:
            return
        seen.add(id(img))
        bases, mounts = _split(img)
        for base in bases:
            visit(base)
        if mounts:
            out.append(Layer("local files", ", ".join(m._rep for m in mounts)))
        else:
            out.append(Layer("build step", _describe(img)))

    visit(_inner(image))
    return out


class _Pending:
    """A base image as modal's loader leaves it: the mount layers it carries (`_mount_layers`)."""

    def __init__(self, mount_layers: tuple):
        self._mount_layers = mount_layers


def check_image(image, where: str = "image") -> list[Layer]:
    """Raise modal's `InvalidError` (with `where` and the offending layers) if modal would refuse
    to load `image` because a build step sits above local files; else return its layers."""
    from modal._image import _Image
    from modal.exception import InvalidError

    pending: dict[int, tuple] = {}

    def mounts_of(img) -> tuple:
        """The mount layers modal's loader gives `img` (`_deferred_mounts`), checking below it."""
        if id(img) in pending:
            return pending[id(img)]
        bases, mounts = _split(img)
        if mounts:  # a local-files layer: its base's mount layers plus its own
            carried = tuple(mounts_of(bases[0])) + tuple(mounts) if bases else tuple(mounts)
        else:  # a build step: each base must carry none (modal's own check); it starts a fresh chain
            for base in bases:
                below = mounts_of(base)
                try:
                    _Image._assert_no_mount_layers(_Pending(below))
                except InvalidError as err:
                    raise InvalidError(f"{where}: the build step {_describe(img)!r} sits above local files "
                                       f"({', '.join(m._rep for m in below)}); modal refuses this image when it "
                                       f"loads:\n{err}") from None
            carried = ()
        pending[id(img)] = carried
        return carried

    inner = _inner(image)
    mounts_of(inner)
    return image_layers(image)


def function_image(function):
    """The image a (real, unbuilt) modal Function runs in."""
    return _inner(function)._spec.image


def check_functions(functions: dict[str, Any]) -> None:
    """check_image on the image of every function, named by `functions`' keys."""
    for name, function in functions.items():
        check_image(function_image(function), where=f"the image of {name}")
