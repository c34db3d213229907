"""Command line: `python -m gym plan|argv|run`.

    python -m gym plan --model Qwen3-4B --nodes 4 --no-colocate
    python -m gym argv --model Qwen3-8B --set global_batch_size=64 --set num_rollout=100
    python -m gym run                      # the course's main job (see `run --help`)

Any SlimeConfig field can be set with `--set field=value` (ints, floats, true/false, none,
or text); `--data rows.jsonl` uses a local prompt file. A user's error never shows a Python
traceback, it prints one message and exits with a status:
  2  the input: an invalid config (every problem), a bad data file or row (its line, from 1),
     a reward that fails (the rollout, sample and row), a checkpoint of another run;
     nothing is launched
  3  Modal: what is missing to launch (credentials, secrets, a cost bound); nothing is created
"""

from __future__ import annotations

import argparse
import sys

from gym.errors import ConfigError, UserError


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


def config_from_args(args: argparse.Namespace, base=None):
    """A SlimeConfig from the command line's overrides (on top of `base` when given)."""
    from gym.slime.config import SlimeConfig

    values: dict = {}
    if args.model:
        values["model"] = args.model
    if args.nodes is not None:
        values["num_nodes"] = args.nodes
    if args.colocate is not None:
        values["colocate"] = args.colocate
    if args.gpu:
        values["gpu_type"] = args.gpu
    if getattr(args, "data", None):
        from gym.datasets import LocalDataset

        values["dataset"] = LocalDataset(args.data, input_key=args.input_key, label_key=args.label_key)
        values["eval_interval"] = None  # derived again: the base's eval data went with its dataset
    for item in args.set or []:
        key, sep, raw = item.partition("=")
        if not sep:
            from gym.errors import Problem

            raise ConfigError([Problem(("--set",), f"--set {item!r}: expected field=value "
                                                   "(e.g. global_batch_size=128)")], subject="--set")
        values[key] = _parse_value(raw)  # a name that is no field: SlimeConfig's ConfigError names them all
    return base.replace(**values) if base is not None else SlimeConfig(**values)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="bundled model, e.g. Qwen3-4B (default: Qwen3-4B)")
    p.add_argument("--nodes", type=int, help="nodes in the Modal cluster (default: the preset's)")
    p.add_argument("--colocate", dest="colocate", action="store_true", default=None,
                   help="training and rollout share GPUs")
    p.add_argument("--no-colocate", dest="colocate", action="store_false",
                   help="rollout gets its own GPUs (one node by default)")
    p.add_argument("--gpu", help="Modal GPU type (H100 or H200)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="set any SlimeConfig field")
    p.add_argument("--data", metavar="FILE", help="a local .jsonl/.parquet prompt file (gym.LocalDataset)")
    p.add_argument("--input-key", default="input", help="--data: the prompt column (default: input)")
    p.add_argument("--label-key", default="label", help="--data: the label column (default: label)")


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
    return run_locally(args)


def run_locally(args) -> int:
    """The tiny local run: plan, train, then where to look."""
    from gym.local.tiny import tiny_config

    base = tiny_config()
    config = config_from_args(args, base=base) if _has_overrides(args) else base
    if args.rollouts is not None:
        config = config.replace(num_rollout=args.rollouts)
    print(config.plan())
    print("\nRunning it locally: the same config, on a tiny random model of the same architecture.\n")
    from gym.local.runner import run_local

    history = run_local(config, seed=args.seed, resume=args.resume, out_dir=args.out_dir)
    reward_png = history.run_dir / "reward.png"
    timeline_png = history.run_dir / "timeline.png"
    history.reward_curve().savefig(reward_png, dpi=120)
    history.timeline_chart().savefig(timeline_png, dpi=120)
    first, last = history.window_mean(), history.window_mean(last=True)
    print(f"\nreward: {first:.2f} over the first 10% of rollouts -> {last:.2f} over the last 10%")
    print(f"metrics:  {history.run_dir / 'metrics.jsonl'}  (one row per rollout, slime's metric names)")
    print(f"timeline: {history.run_dir / 'timeline.jsonl'}")
    print(f"plots:    {reward_png}  {timeline_png}")
    return 0


def _has_overrides(args) -> bool:
    return any([args.model, args.nodes is not None, args.colocate is not None, args.gpu, args.set, args.data])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gym", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_plan = sub.add_parser("plan", help="print the validated plan of a preset plus overrides")
    _add_config_args(p_plan)
    p_plan.set_defaults(func=cmd_plan)
    p_argv = sub.add_parser("argv", help="print the exact slime command")
    _add_config_args(p_argv)
    p_argv.set_defaults(func=cmd_argv)
    p_run = sub.add_parser("run", help="run a config: locally on a tiny model (default), or on Modal")
    _add_config_args(p_run)
    p_run.add_argument("--backend", choices=("local", "modal"), default="local",
                       help="local: gym.local.tiny_config() plus overrides; modal: the seed's 4-node run plus overrides")
    p_run.add_argument("--rollouts", type=int, help="local: number of rollouts (default: the config's)")
    p_run.add_argument("--seed", type=int, default=0, help="local: model init, prompt order and sampling")
    p_run.add_argument("--resume", action="store_true", help="local: continue from the run's last checkpoint")
    p_run.add_argument("--out-dir", default="runs", help="local: where runs/<name>/ goes")
    p_run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except UserError as err:  # DataError, RewardError, …: the message names the file, row, sample, field
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.filename is None:  # not about a path the user gave: a bug worth its traceback
            raise
        print(f"error: {err.filename}: {err.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted" + ("; continue with --resume" if args.command == "run" else ""), file=sys.stderr)
        return 130
    except Exception as err:
        launch_error = _launch_error_type()
        if launch_error is None or not isinstance(err, launch_error):
            raise
        print(err, file=sys.stderr)
        return 3


def _launch_error_type():
    """gym.launch.launcher.LaunchError when that module was imported (only it raises one);
    looked up, not imported, so a local run never loads Modal."""
    module = sys.modules.get("gym.launch.launcher")
    return getattr(module, "LaunchError", None)


if __name__ == "__main__":
    sys.exit(main())
