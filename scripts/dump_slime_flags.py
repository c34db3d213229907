#!/usr/bin/env python3
"""Dump every command-line flag that slime's real argument parser knows.

slime (THUDM/slime) parses ``train.py``'s command line with three
``argparse`` parsers that all use ``parse_known_args``, so a flag that none of
them knows is silently ignored.  This script builds those parsers from
*source checkouts* of slime, Megatron-LM and SGLang, by calling slime's own
``slime.utils.arguments.parse_args`` on an empty command line, and records
every option string with its metadata as JSON (``gym/slime/pinned_flags.json``).

How the parsers are obtained (no slime code is copied here):

* ``argparse.ArgumentParser.parse_known_args`` is wrapped for the duration of
  one ``parse_args()`` call.  The wrapper remembers each parser it is called
  on and then runs the real method on an empty argument list.
* slime's three validation functions (``slime_validate_args``,
  ``megatron_utils.arguments.validate_args`` and the SGLang ``validate_args``)
  are replaced by no-ops for that call.  They read files (HF config,
  checkpoints) and are not part of the parsers.
* slime calls ``parse_known_args`` on four parsers, in this order:
  ``pre`` (``_pre_parse_mode``), ``sglang_tp`` (a helper that only reads
  ``--rollout-num-gpus-per-engine``/``--sglang-pp-size``), ``sglang`` (SGLang
  ServerArgs with a ``--sglang-`` prefix, router flags, and a few slime flags)
  and ``megatron`` (Megatron-LM plus slime's extra args).  Only ``pre``,
  ``sglang`` and ``megatron`` own flags; every ``sglang_tp`` flag is checked
  to exist in one of them.

Each flag's ``source`` is recorded while the parsers are built: the actions
added inside Megatron's ``add_megatron_arguments`` are "megatron", inside
SGLang's ``ServerArgs.add_cli_args`` (through slime's ``--sglang-`` prefixing
wrapper) "sglang", inside ``sglang_router``'s ``RouterArgs.add_cli_args``
"router"; every other flag is "slime" (slime adds it itself).  A Megatron flag
whose default slime resets keeps source "megatron" and gets
``"slime_overrides_default": true`` with the upstream ``megatron_default``.

Per flag: ``action`` (argparse's name, e.g. "store_true", "boolean_optional",
or the class name of a custom action), ``dest``, ``type`` (the converter's
``__name__``; ``json.loads`` is "loads"), ``nargs``, ``choices`` (sorted; enum
choices by member name), ``default`` (JSON value, else its repr), ``source``,
plus ``parser`` (which phase parser owns it), ``takes_value``, ``required``
and ``aliases`` (the action's other option strings, e.g. the ``--no-`` form).

Stubs: only modules that cannot import on a CPU-only machine are replaced, by
inert modules, and only for this process.  See ``STUBBED_MODULES``.

The source trees should be exactly what the pinned image contains.  The slime
image applies ``docker/patch/<PATCH_VERSION>/megatron*.patch`` to Megatron-LM
and ``sglang*.patch`` to SGLang (slime's ``docker/Dockerfile``, "Patches"
section).  Some of those patches add flags, so apply them to the checkouts
before running this script.  For example::

    SLIME=/tmp/slimeflags/src/slime
    (cd "$MEGATRON" && for p in megatron.patch megatron-sglang-aligned.patch; do
        git apply --3way "$SLIME/docker/patch/latest/$p"; done)
    (cd "$SGLANG" && for p in sglang.patch sglang-top_p.patch \
        sglang-release_hicache.patch sglang-pull_weights.patch \
        sglang-deterministic.patch; do
        git apply --include='python/*' "$SLIME/docker/patch/latest/$p"; done)

The Python environment needs torch (CPU is fine), transformers, triton (the
wheel imports on a CPU machine), sglang's pure-Python import dependencies, and
``sglang-router`` installed; sglang itself is read from ``--sglang-src`` and
does not need to be installed.  This script installs and builds nothing.

Usage::

    python scripts/dump_slime_flags.py \
        --slime-src /path/to/slime --megatron-src /path/to/Megatron-LM \
        --sglang-src /path/to/sglang  [--out gym/slime/pinned_flags.json]

``--sglang-src`` may be the repository root (with ``python/sglang``) or a
directory that directly contains the ``sglang`` package.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import importlib
import importlib.abc
import importlib.machinery
import io
import json
import math
import os
import platform
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

DEFAULT_IMAGE = "slimerl/slime:nightly-dev-20260810a-cu129"

# Modules replaced by inert stand-ins (name -> why).  Keep this minimal.
STUBBED_MODULES: Dict[str, str] = {
    "torchvision._meta_registrations": (
        "PyPI's torchvision wheels carry a CUDA-built C extension that does not "
        "load beside a CPU torch; this module registers fake kernels for "
        "torchvision::nms etc. and raises 'operator torchvision::nms does not "
        "exist' at import.  The rest of torchvision (pure Python, needed by "
        "transformers' AutoImageProcessor, which SGLang's config registry "
        "touches at import) stays real.  No flag comes from torchvision."
    ),
    "torchvision._autograd_registrations": (
        "Same reason as torchvision._meta_registrations: it registers autograd "
        "kernels for the torchvision C ops that are not loaded on CPU."
    ),
}

# Phase parsers that own flags, in the order slime parses them.
OWNER_PHASES = ("pre", "sglang", "megatron")

_ACTION_NAMES = {
    argparse._StoreAction: "store",
    argparse._StoreConstAction: "store_const",
    argparse._StoreTrueAction: "store_true",
    argparse._StoreFalseAction: "store_false",
    argparse._AppendAction: "append",
    argparse._AppendConstAction: "append_const",
    argparse._CountAction: "count",
    argparse._HelpAction: "help",
    argparse._VersionAction: "version",
    argparse.BooleanOptionalAction: "boolean_optional",
}
if hasattr(argparse, "_ExtendAction"):
    _ACTION_NAMES[argparse._ExtendAction] = "extend"


# --------------------------------------------------------------------------
# Import setup
# --------------------------------------------------------------------------


class _InertModule(types.ModuleType):
    """A module whose every public attribute is a do-nothing class."""

    __path__: List[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None, "__call__": lambda self, *a, **k: None})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names: List[str]) -> None:
        self.names = list(names)

    def find_spec(self, fullname, path, target=None):  # noqa: D401 - importlib API
        if any(fullname == n or fullname.startswith(n + ".") for n in self.names):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _InertModule(spec.name)

    def exec_module(self, module):
        return None


def sglang_python_dir(sglang_src: Path) -> Path:
    """Return the directory that contains the ``sglang`` package."""
    for cand in (sglang_src / "python", sglang_src):
        if (cand / "sglang" / "srt" / "server_args.py").is_file():
            return cand
    raise SystemExit(f"--sglang-src {sglang_src}: no sglang/srt/server_args.py under it or its python/ folder")


def prepare_imports(slime_src: Path, megatron_src: Path, sglang_src: Path) -> None:
    """Put the three source trees first on sys.path and install the stubs."""
    for path, marker in (
        (slime_src, "slime/utils/arguments.py"),
        (megatron_src, "megatron/training/arguments.py"),
    ):
        if not (path / marker).is_file():
            raise SystemExit(f"{path}: {marker} not found")
    for p in reversed([slime_src, megatron_src, sglang_python_dir(sglang_src)]):
        sp = str(p.resolve())
        if sp in sys.path:
            sys.path.remove(sp)
        sys.path.insert(0, sp)
    if not any(isinstance(f, _StubFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder(list(STUBBED_MODULES)))
    # Megatron reads these for the defaults of --world-size / --local-rank.
    for var in ("WORLD_SIZE", "LOCAL_RANK", "RANK"):
        os.environ.pop(var, None)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence stdout chatter from imports (warnings still go to stderr)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield


# --------------------------------------------------------------------------
# Building the real parsers
# --------------------------------------------------------------------------


class SlimeParsers:
    """The parsers slime's ``parse_args`` runs, plus where each action came from.

    ``parsers`` has keys ``pre``, ``sglang_tp``, ``sglang``, ``megatron``.
    ``origin`` maps ``id(action)`` to "megatron", "sglang" or "router" for
    actions added by the upstream ``add_megatron_arguments``,
    ``ServerArgs.add_cli_args`` or ``RouterArgs.add_cli_args``; other actions
    are slime's own.  ``upstream_default`` holds each Megatron action's
    default as Megatron set it, before slime's ``reset_arg`` calls.
    """

    def __init__(self) -> None:
        self.parsers: Dict[str, argparse.ArgumentParser] = {}
        self.origin: Dict[int, str] = {}
        self.upstream_default: Dict[int, Any] = {}
        self._keep: List[argparse.Action] = []

    def __getitem__(self, key: str) -> argparse.ArgumentParser:
        return self.parsers[key]


def _tracking(result: SlimeParsers, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an ``add arguments to parser`` function to record what it adds."""

    def wrapper(parser, *args, **kwargs):
        before = {id(a) for a in parser._actions}
        out = func(parser, *args, **kwargs)
        for action in parser._actions:
            if id(action) not in before:
                result.origin[id(action)] = label
                result.upstream_default[id(action)] = action.default
                result._keep.append(action)
        return out

    return wrapper


def build_slime_parsers() -> SlimeParsers:
    """Run slime's real ``parse_args`` once and return the parsers it used."""
    with _quiet():
        sua = importlib.import_module("slime.utils.arguments")
        sma = importlib.import_module("slime.backends.megatron_utils.arguments")
        mta = importlib.import_module("megatron.training.arguments")
        from sglang.srt.server_args import ServerArgs
        from sglang_router.launch_router import RouterArgs

    result = SlimeParsers()
    captured: List[argparse.ArgumentParser] = []
    real_parse_known_args = argparse.ArgumentParser.parse_known_args

    def spy(self, args=None, namespace=None):
        # Record the parser, then parse an empty command line.  Required
        # flags (e.g. --rollout-batch-size) are relaxed for this one call only
        # so that slime's post-parse code sees a namespace of defaults.
        captured.append(self)
        required = [a for a in self._actions if a.required]
        for a in required:
            a.required = False
        try:
            return real_parse_known_args(self, [], namespace)
        finally:
            for a in required:
                a.required = True

    def no_op(*_a, **_k):
        return None

    patches = [
        (sua, "slime_validate_args", no_op),
        (sua, "sglang_validate_args", no_op),
        (sma, "validate_args", no_op),
        (mta, "add_megatron_arguments", _tracking(result, "megatron", mta.add_megatron_arguments)),
        (ServerArgs, "add_cli_args", staticmethod(_tracking(result, "sglang", ServerArgs.add_cli_args))),
        (RouterArgs, "add_cli_args", staticmethod(_tracking(result, "router", RouterArgs.add_cli_args))),
    ]
    saved = [(obj, name, obj.__dict__[name] if isinstance(obj, type) else getattr(obj, name)) for obj, name, _ in patches]
    old_argv = sys.argv
    argparse.ArgumentParser.parse_known_args = spy
    try:
        for obj, name, repl in patches:
            setattr(obj, name, repl)
        sys.argv = ["train.py"]
        with _quiet():
            sua.parse_args()
    finally:
        argparse.ArgumentParser.parse_known_args = real_parse_known_args
        for obj, name, orig in saved:
            setattr(obj, name, orig)
        sys.argv = old_argv

    if len(captured) != 4:
        raise RuntimeError(f"expected slime to run 4 parsers, saw {len(captured)}; the parse flow changed")
    result.parsers = dict(zip(("pre", "sglang_tp", "sglang", "megatron"), captured))
    expect = {
        "pre": "--train-backend",
        "sglang_tp": "--rollout-num-gpus-per-engine",
        "sglang": "--sglang-router-ip",
        "megatron": "--actor-num-nodes",
    }
    for key, opt in expect.items():
        if opt not in result.parsers[key]._option_string_actions:
            raise RuntimeError(f"parser #{key} does not know {opt}; the parse flow changed")
    return result


# --------------------------------------------------------------------------
# Describing actions
# --------------------------------------------------------------------------


def _callable_name(fn: Any) -> Optional[str]:
    if fn is None:
        return None
    if fn is json.loads:
        return "loads"
    name = getattr(fn, "__name__", None)
    if name is None and hasattr(fn, "func"):  # functools.partial
        name = getattr(fn.func, "__name__", None)
    return name or type(fn).__name__


def _json_safe(value: Any) -> Any:
    """Value as JSON if it round-trips; enums by name; else its repr."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _json_safe(v) for k, v in value.items()}
        return repr(value)
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _choices(action: argparse.Action) -> Optional[List[Any]]:
    if action.choices is None:
        return None
    out = []
    for c in action.choices:
        # Megatron's dataclass-derived enum flags take the member *name*.
        out.append(c.name if isinstance(c, enum.Enum) else _json_safe(c))
    # Sorted so the file is stable: some choice lists are built from unordered
    # maps at run time (e.g. --router-tool-call-parser).  Numbers first.
    return sorted(out, key=lambda c: (0, c, "") if isinstance(c, (int, float)) and not isinstance(c, bool)
                  else (1, 0, str(c)))


def action_kind(action: argparse.Action) -> str:
    """argparse's short name for built-in actions, else the class name."""
    return _ACTION_NAMES.get(type(action), type(action).__name__)


def describe_action(action: argparse.Action, option: str) -> Dict[str, Any]:
    kind = action_kind(action)
    nargs = action.nargs
    takes_value = nargs != 0 and kind not in ("store_true", "store_false", "store_const", "append_const",
                                               "count", "help", "version", "boolean_optional")
    info: Dict[str, Any] = {
        "action": kind,
        "dest": action.dest,
        "type": _callable_name(action.type),
        "nargs": nargs if (nargs is None or isinstance(nargs, (int, str))) else repr(nargs),
        "choices": _choices(action),
        "default": _json_safe(action.default),
        "required": bool(action.required),
        "takes_value": takes_value,
        "aliases": sorted(o for o in action.option_strings if o != option),
    }
    if action.const is not None:
        info["const"] = _json_safe(action.const)
    if kind == "boolean_optional":
        info["sets"] = not option.startswith("--no-")
    if action.help == argparse.SUPPRESS:
        info["hidden"] = True
    return info


def _abbrev_effect(sglang_parser: argparse.ArgumentParser, option: str) -> Optional[str]:
    """What SGLang's parser (allow_abbrev=True) does with a flag it does not own.

    Returns None if it ignores the flag, "ambiguous: ..." if it would stop
    slime with an argparse error, or the SGLang option it would take it for.
    """
    if option in sglang_parser._option_string_actions or not option.startswith("--"):
        return None
    matches = sorted({o for o in sglang_parser._option_string_actions if o.startswith(option)})
    if not matches:
        return None
    if len(matches) > 1:
        return "ambiguous: " + ", ".join(matches)
    return matches[0]


def collect_flags(sp: SlimeParsers) -> Dict[str, Dict[str, Any]]:
    flags: Dict[str, Dict[str, Any]] = {}
    for phase in OWNER_PHASES:
        parser = sp[phase]
        for action in parser._actions:
            if not action.option_strings:
                raise RuntimeError(f"unexpected positional argument {action.dest!r} in the {phase} parser")
            source = sp.origin.get(id(action), "slime")
            if isinstance(action, argparse._HelpAction):
                source = "megatron"  # -h/--help: Megatron's ArgumentParser(add_help=True)
            for opt in action.option_strings:
                info = describe_action(action, opt)
                info["parser"] = phase
                info["source"] = source
                if id(action) in sp.upstream_default and source == "megatron":
                    up = _json_safe(sp.upstream_default[id(action)])
                    if up != info["default"]:
                        info["slime_overrides_default"] = True
                        info["megatron_default"] = up
                if phase != "sglang":
                    eff = _abbrev_effect(sp["sglang"], opt)
                    if eff:
                        info["sglang_parser_prefix_match"] = eff
                if opt in flags:
                    flags[opt].setdefault("also_in", []).append(phase)
                    continue
                flags[opt] = info
    for opt in sp["sglang_tp"]._option_string_actions:
        if opt not in flags:
            raise RuntimeError(f"{opt} is only known to slime's sglang tp helper parser; the parse flow changed")
    return flags


# --------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------


def _git(path: Path, *args: str) -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _git_info(path: Path) -> Dict[str, Any]:
    sha = _git(path, "rev-parse", "HEAD")
    if not sha:
        return {}
    status = _git(path, "status", "--porcelain", "--untracked-files=no") or ""
    return {
        "commit": sha,
        "date": _git(path, "log", "-1", "--format=%cI", "HEAD"),
        "modified_files": len([line for line in status.splitlines() if line.strip()]),
    }


def _sglang_version() -> Optional[str]:
    try:
        from sglang.version import __version__

        return __version__
    except Exception:  # noqa: BLE001 - a version is optional metadata
        return None


def _module_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return None


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def add_source_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--slime-src", type=Path, required=True, help="slime source tree (repo root)")
    parser.add_argument("--megatron-src", type=Path, required=True, help="Megatron-LM source tree (repo root)")
    parser.add_argument(
        "--sglang-src", type=Path, required=True, help="SGLang source tree (repo root, or the dir holding sglang/)"
    )


def load_parsers(slime_src: Path, megatron_src: Path, sglang_src: Path) -> SlimeParsers:
    """Import setup plus ``build_slime_parsers``; shared with the argv checker."""
    prepare_imports(slime_src, megatron_src, sglang_src)
    return build_slime_parsers()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_args(ap)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "gym/slime/pinned_flags.json")
    ap.add_argument("--image", default=DEFAULT_IMAGE)
    ap.add_argument("--slime-commit", help="default: git HEAD of --slime-src")
    ap.add_argument("--slime-commit-date", help="default: git commit date of --slime-src")
    ap.add_argument("--megatron-commit", help="default: git HEAD of --megatron-src")
    ap.add_argument("--sglang-commit", help="SGLang commit the image was built from (not derivable from a wheel)")
    ap.add_argument("--sglang-version", help="default: sglang.version.__version__")
    ap.add_argument("--note", action="append", default=[], help="free-text provenance note (repeatable)")
    ns = ap.parse_args(argv)

    flags = collect_flags(load_parsers(ns.slime_src, ns.megatron_src, ns.sglang_src))

    slime_git = _git_info(ns.slime_src)
    meg_git = _git_info(ns.megatron_src)
    sg_git = _git_info(ns.sglang_src)
    counts: Dict[str, int] = {}
    for info in flags.values():
        counts[info["source"]] = counts.get(info["source"], 0) + 1

    doc = {
        "image": ns.image,
        "slime_commit": ns.slime_commit or slime_git.get("commit"),
        "slime_commit_date": ns.slime_commit_date or slime_git.get("date"),
        "megatron_commit": ns.megatron_commit or meg_git.get("commit"),
        "sglang_version": ns.sglang_version or _sglang_version(),
        "sglang_commit": ns.sglang_commit or sg_git.get("commit"),
        "generated_by": "scripts/dump_slime_flags.py",
        "generator": {
            "python": platform.python_version(),
            "argparse_note": (
                "The sglang-phase parser has allow_abbrev=True (a unique prefix of one of its "
                "options is accepted); the pre and megatron parsers have allow_abbrev=False."
            ),
            "modified_files_in_checkouts": {
                "slime": slime_git.get("modified_files"),
                "megatron": meg_git.get("modified_files"),
            },
            "packages": {
                name: _module_version(name) for name in ("sglang-router", "torch", "transformers", "triton")
            },
            "stubbed_modules": STUBBED_MODULES,
            "notes": ns.note,
        },
        "counts": dict(sorted(counts.items())),
        "flags": flags,
    }
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    with open(ns.out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(flags)} flags to {ns.out}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
