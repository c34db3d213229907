#!/usr/bin/env python3
"""Check slime command lines against slime's real argument parsers.

slime parses ``train.py``'s arguments with three ``argparse`` parsers that all
use ``parse_known_args``: a flag that none of them knows is silently ignored,
and a flag with a bad value stops the job at startup.  This script builds the
same parsers from source checkouts (see ``dump_slime_flags.py``, whose import
setup and stubs it reuses) and parses each given argv with them, the way
``slime.utils.arguments.parse_args`` does:

1. ``pre``: ``--train-backend``, ``--debug-rollout-only``,
   ``--debug-train-only``, ``--load-debug-rollout-data``;
2. ``sglang_tp`` (a helper for the engine TP default) and ``sglang``
   (``--sglang-*`` ServerArgs, router flags); both are skipped, as in slime,
   when ``--debug-train-only`` or ``--load-debug-rollout-data`` is given;
3. ``megatron``: Megatron-LM plus slime's own arguments.

Only the parsers run.  slime's validators (``slime_validate_args``, Megatron's
``validate_args``, the SGLang ``validate_args``) and the HF-config read in
``megatron_parse_args`` are not run: they touch files (``--hf-checkpoint``,
``--ref-load``) that exist only inside the job's image.

Problems reported per argv (any of them makes the exit status 1):

* ``unknown``: an option no parser consumed (slime would ignore it);
* ``stray``: a non-option token no parser consumed (e.g. one value too many);
* ``error``: an argparse error in one of the phases (bad type or choice,
  missing value, missing required flag, ambiguous prefix); argparse's
  ``sys.exit`` is intercepted;
* ``abbreviation``: an option accepted only as a prefix of a longer option
  (the sglang-phase parser has ``allow_abbrev=True``); emit the full name.

Repeated options are listed as warnings (argparse keeps the last value).

Input: a JSON file holding a list of argvs, each a list of strings whose first
element is the script name (skipped), e.g.
``[["train.py", "--actor-num-nodes", "1", ...], ...]``.

Usage::

    python scripts/check_argv_with_slime_parser.py \
        --slime-src /path/to/slime --megatron-src /path/to/Megatron-LM \
        --sglang-src /path/to/sglang  argvs.json [--json-out report.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dump_slime_flags import SlimeParsers, add_source_args, load_parsers  # noqa: E402


class _ParseError(Exception):
    pass


class _Tok(str):
    """A command-line token that remembers its position.

    argparse hands the very objects it was given back in its list of
    unconsumed arguments, so the position tells which tokens were consumed,
    even when the same text (e.g. "1") occurs several times.
    """

    pos: int

    def __new__(cls, text: str, pos: int) -> "_Tok":
        obj = super().__new__(cls, text)
        obj.pos = pos
        return obj


def _parse(parser: argparse.ArgumentParser, tokens: List[_Tok]):
    """``parse_known_args`` with argparse's exit turned into an exception."""

    def error(message: str):
        raise _ParseError(message)

    parser.error = error  # instance attribute shadows ArgumentParser.error
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # -h/--help would print the whole usage
            return parser.parse_known_args(list(tokens))
    except SystemExit as exc:  # e.g. -h/--help, or an action that exits itself
        raise _ParseError(f"argparse exited (status {exc.code}); is -h/--help in the argv?") from None
    finally:
        del parser.error


def _is_option_like(parser: argparse.ArgumentParser, text: str) -> bool:
    if not text or text[0] not in parser.prefix_chars or text in ("-", "--"):
        return False
    return not re.fullmatch(r"-\d+$|-\d*\.\d+$", text)


def _option_name(text: str) -> str:
    return text.split("=", 1)[0] if text.startswith("--") else text


def check_argv(sp: SlimeParsers, argv: List[str]) -> Dict[str, Any]:
    if not argv or not all(isinstance(t, str) for t in argv):
        return {"argv": argv, "problems": [{"kind": "input", "message": "argv must be a non-empty list of strings"}],
                "warnings": []}
    tokens = [_Tok(t, i) for i, t in enumerate(argv[1:], start=1)]
    problems: List[Dict[str, Any]] = []
    warnings: List[str] = []
    leftovers: Dict[str, Set[int]] = {}

    phases = ["pre", "sglang_tp", "sglang", "megatron"]
    pre_ns = None
    for phase in phases:
        if phase in ("sglang_tp", "sglang") and pre_ns is not None and (
            pre_ns.debug_train_only or pre_ns.load_debug_rollout_data is not None
        ):
            if phase == "sglang":
                warnings.append("--debug-train-only/--load-debug-rollout-data: slime skips the SGLang parser, "
                                "so --sglang-*/--router-* flags are ignored")
            continue  # slime skips the SGLang parsers in these modes
        try:
            ns, extras = _parse(sp[phase], tokens)
        except _ParseError as exc:
            problems.append({"kind": "error", "parser": phase, "message": str(exc)})
            extras = None
            ns = None
        if phase == "pre":
            pre_ns = ns
        if phase == "sglang_tp":
            continue
        if extras is not None:
            leftovers[phase] = {t.pos for t in extras if isinstance(t, _Tok)}
        else:
            # argparse stopped part-way, so what it consumed is unknown: count
            # as consumed the options this parser owns (by exact name), and
            # as left over everything else, values included.
            owned = sp[phase]._option_string_actions
            leftovers[phase] = {
                t.pos for t in tokens if not (_is_option_like(sp[phase], t) and _option_name(t) in owned)
            }

    unconsumed = set.intersection(*leftovers.values()) if leftovers else set()
    known = set()
    for phase in ("pre", "sglang", "megatron"):
        known.update(sp[phase]._option_string_actions)

    owner_parser = sp["megatron"]
    errored = any(p["kind"] == "error" for p in problems)
    last_unknown: Optional[Dict[str, Any]] = None
    for tok in tokens:
        option_like = _is_option_like(owner_parser, tok)
        if tok.pos in unconsumed:
            if option_like:
                last_unknown = {"kind": "unknown", "position": tok.pos, "option": _option_name(tok), "values": []}
                problems.append(last_unknown)
            elif last_unknown is not None and last_unknown["position"] + len(last_unknown["values"]) + 1 == tok.pos:
                last_unknown["values"].append(str(tok))
            elif not errored:
                problems.append({"kind": "stray", "position": tok.pos, "token": str(tok)})
            continue
        last_unknown = None
        if option_like and _option_name(tok) not in known:
            problems.append({
                "kind": "abbreviation",
                "position": tok.pos,
                "option": _option_name(tok),
                "message": "not an exact option name; accepted only as a prefix of a longer option",
            })

    seen: Dict[str, int] = {}
    for tok in tokens:
        if _is_option_like(owner_parser, tok):
            name = _option_name(tok)
            seen[name] = seen.get(name, 0) + 1
    for name, n in sorted(seen.items()):
        if n > 1:
            warnings.append(f"{name} given {n} times; the last value wins")

    return {"argv": argv, "problems": problems, "warnings": warnings}


def _format(i: int, report: Dict[str, Any]) -> str:
    lines = [f"argv[{i}] ({len(report['argv']) - 1} tokens): " + ("OK" if not report["problems"] else "PROBLEMS")]
    for p in report["problems"]:
        if p["kind"] == "unknown":
            vals = f" (with value(s) {p['values']})" if p["values"] else ""
            lines.append(f"  unknown option {p['option']} at position {p['position']}{vals}: slime would ignore it")
        elif p["kind"] == "stray":
            lines.append(f"  stray token {p['token']!r} at position {p['position']}: no parser consumed it")
        elif p["kind"] == "error":
            lines.append(f"  argparse error in the {p['parser']} parser: {p['message']}")
        elif p["kind"] == "abbreviation":
            lines.append(f"  abbreviated option {p['option']} at position {p['position']}: {p['message']}")
        else:
            lines.append(f"  {p['kind']}: {p.get('message')}")
    for w in report["warnings"]:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_source_args(ap)
    ap.add_argument("argvs", type=Path, help="JSON file: a list of argvs (lists of strings, script name first)")
    ap.add_argument("--json-out", type=Path, help="also write the per-argv reports here as JSON")
    ns = ap.parse_args(argv)

    data = json.loads(ns.argvs.read_text())
    if not isinstance(data, list) or not all(isinstance(a, list) for a in data):
        print(f"{ns.argvs}: expected a JSON list of argv lists", file=sys.stderr)
        return 2

    sp = load_parsers(ns.slime_src, ns.megatron_src, ns.sglang_src)
    reports = [check_argv(sp, a) for a in data]
    for i, r in enumerate(reports):
        print(_format(i, r))
    bad = sum(1 for r in reports if r["problems"])
    print(f"{len(reports) - bad} passed, {bad} failed")
    if ns.json_out:
        ns.json_out.write_text(json.dumps(reports, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
