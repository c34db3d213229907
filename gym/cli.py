"""Command line: `python -m gym plan|argv|run`.

    python -m gym plan --model Qwen3-4B --nodes 4 --no-colocate
    python -m gym argv --model Qwen3-8B --set global_batch_size=64 --set num_rollout=100
    python -m gym run                      # the course's main job (see `run --help`)

Any SlimeConfig field can be set with `--set field=value` (ints, floats, true/false, none,
or text). Invalid configs print every problem and exit with status 2; nothing is launched.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from gym.errors import ConfigError


def _parse_value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def config_from_args(args: argparse.Namespace):
    from gym.slime.config import SlimeConfig

    fields = {f.name for f in dataclasses.fields(SlimeConfig)}
    values: dict = {}
    if args.model:
        values["model"] = args.model
    if args.nodes is not None:
        values["num_nodes"] = args.nodes
    if args.colocate is not None:
        values["colocate"] = args.colocate
    if args.gpu:
        values["gpu_type"] = args.gpu
    for item in args.set or []:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"--set {item!r}: expected field=value with a SlimeConfig field "
                             f"(e.g. global_batch_size=128)")
        values[key] = _parse_value(raw)
    return SlimeConfig(**values)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="bundled model, e.g. Qwen3-4B (default: Qwen3-4B)")
    p.add_argument("--nodes", type=int, help="nodes in the Modal cluster (default: the preset's)")
    p.add_argument("--colocate", dest="colocate", action="store_true", default=None,
                   help="training and rollout share GPUs")
    p.add_argument("--no-colocate", dest="colocate", action="store_false",
                   help="rollout gets its own GPUs (one node by default)")
    p.add_argument("--gpu", help="Modal GPU type (H100 or H200)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="set any SlimeConfig field")


def seed_production_config():
    """The seed tutorial's production run: Qwen3-4B on GSM8K, 4 colocated nodes."""
    from gym.datasets import GSM8K
    from gym.models import Qwen3_4B
    from gym.slime.config import SlimeConfig
    from gym.wandb import WandbConfig

    base = Qwen3_4B()
    return SlimeConfig(model=base, dataset=GSM8K(), wandb=WandbConfig(project="slime-grpo", group="qwen3-4b-scaled"),
                       ref_load=base.model_name, num_nodes=4, global_batch_size=128, num_rollout=3000,
                       n_samples_per_prompt=8, rollout_batch_size=64)


def cmd_plan(args) -> int:
    config = config_from_args(args)
    plan = config.plan()
    print(plan)
    return 0


def cmd_argv(args) -> int:
    from gym.slime.argv import format_command

    print(format_command(config_from_args(args).slime_argv()))
    return 0


def cmd_run(args) -> int:
    if args.backend == "modal":
        from gym.launch.launcher import LaunchError, launch

        config = config_from_args(args) if _has_overrides(args) else seed_production_config()
        try:
            print(launch(config))
        except LaunchError as err:
            print(err, file=sys.stderr)
            return 3
        return 0
    from gym.slime.argv import format_command

    config = config_from_args(args) if _has_overrides(args) else seed_production_config()
    print(config.plan())
    print("\nslime command (inside the pinned image):")
    print(format_command(config.slime_argv()))
    print("\nThe local backend (a real tiny GRPO run) arrives with the next milestone; "
          "`--backend modal` launches this plan on Modal.")
    return 0


def _has_overrides(args) -> bool:
    return any([args.model, args.nodes is not None, args.colocate is not None, args.gpu, args.set])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gym", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_plan = sub.add_parser("plan", help="print the validated plan of a preset plus overrides")
    _add_config_args(p_plan)
    p_plan.set_defaults(func=cmd_plan)
    p_argv = sub.add_parser("argv", help="print the exact slime command")
    _add_config_args(p_argv)
    p_argv.set_defaults(func=cmd_argv)
    p_run = sub.add_parser("run", help="run the course's main job (default: the seed's 4-node run)")
    _add_config_args(p_run)
    p_run.add_argument("--backend", choices=("local", "modal"), default="local")
    p_run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
