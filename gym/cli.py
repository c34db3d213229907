"""Command line: `python -m gym plan|argv|run|smoke|status|logs|cancel`.

    python -m gym plan --model Qwen3-4B --nodes 4 --no-colocate
    python -m gym argv --model Qwen3-8B --set global_batch_size=64 --set num_rollout=100
    python -m gym run                      # the course's main job (see `run --help`)
    python -m gym smoke --dry-run          # the cheapest real Modal run: its plan and price bound
    python -m gym run --backend modal --rollouts 100 --max-usd 400

Any SlimeConfig field can be set with `--set field=value` (ints, floats, true/false, none,
JSON lists/objects such as `--set 'extra_args=["--log-probs-chunk-size", "512"]'`, or text);
`--data rows.jsonl` uses a local prompt file. A user's error never shows a Python traceback, it
prints one message and exits with a status:
  2  the input: an invalid config (every problem), a bad data file or row (its line, from 1),
     a reward that fails (the rollout, sample and row), a checkpoint of another run;
     nothing is launched
  3  Modal: a launch refused before anything was created (cost bound, credentials, secrets, a live
     run of the same name), with what is missing, or refused by Modal's client; nothing else exits 3
     (user code that calls sys.exit is an error of the input: 2)
"""

from __future__ import annotations

import argparse
import sys

from gym.errors import ConfigError, UserError, modal_error_message
from gym.launch.budget import LaunchError  # light: no modal import


def _parse_value(text: str):
    if text.lstrip().startswith(("[", "{", '"')):
        import json

        try:
            return json.loads(text)
        except json.JSONDecodeError as err:  # one message, exit 2 like every other bad --set
            from gym.errors import Problem
            from gym.secrets import redact

            raise ConfigError([Problem(("--set",), f"--set value {redact(text)!r} is not valid JSON: {err}")],
                              subject="--set") from None
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
    if getattr(args, "no_eval", False):
        values["eval_interval"] = 0
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
    p.add_argument("--no-eval", action="store_true", help="no evaluation (eval_interval=0)")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="set any SlimeConfig field (lists as JSON: extra_args='[\"--flag\", \"1\"]')")
    p.add_argument("--data", metavar="FILE", help="a local .jsonl/.parquet prompt file (gym.LocalDataset)")
    p.add_argument("--input-key", default="input", help="--data: the prompt column (default: input)")
    p.add_argument("--label-key", default="label", help="--data: the label column (default: label)")


def _add_budget_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-usd", type=float, default=None,
                   help="modal: refuse if the run's estimated upper bound exceeds this many US dollars, and stop "
                        "the run (checkpoint kept) when it has cost this much (default: $50)")


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
    plan = config.plan(mean_response_tokens=args.mean_response_tokens, mean_prompt_tokens=args.mean_prompt_tokens)
    print(plan)
    return 0


def cmd_argv(args) -> int:
    from gym.slime.argv import format_command

    print(format_command(config_from_args(args).slime_argv()))
    return 0


def modal_config(args):
    """`run --backend modal`: the seed's production run plus the command line's overrides."""
    config = config_from_args(args, base=seed_production_config())
    if args.rollouts is not None:
        config = config.replace(num_rollout=args.rollouts)
    return config


def cmd_run(args) -> int:
    if args.backend == "modal":
        return _launch(modal_config(args), args.max_usd)
    return run_locally(args)


def _launch(config, max_usd, stages=None, follow: bool = False) -> int:
    """Launch on Modal (a refusal, nothing created, is main()'s exit 3 with its reasons)."""
    from gym.launch.launcher import launch

    run = launch(config, max_usd=max_usd, stages=stages)
    print(run)
    return follow_run(run, checklist=stages is not None) if follow else 0


def follow_run(run, checklist: bool = False) -> int:
    """Watch a launched run to its end. Exit status 0 only if it succeeded: a run stopped at its
    budget, cancelled, failed or lost proved nothing (the smoke run is followed this way, and ends
    with its smoke checklist: `checklist`)."""
    try:
        status = run.wait()
    except KeyboardInterrupt:
        print(f"\nstopped watching; the run continues on Modal: python -m gym status {run.name}")
        return 0
    except RuntimeError as err:
        print(err, file=sys.stderr)
        if checklist:
            _print_checklist(run)
        return 1
    if checklist:
        _print_checklist(run, status)
    if status.phase != "succeeded":
        print(f"run {run.name} ended {status.phase}" + (f": {status.detail}" if status.detail else ""),
              file=sys.stderr)
        return 1
    return 0


def _print_checklist(run, status=None) -> None:
    """The smoke checklist the pipeline kept in the run's record (smoke.CHECKLIST)."""
    from gym.launch.smoke import format_checklist, smoke_checklist

    try:
        status = status or run.status()
    except Exception as err:  # the run's record could not be read: say so, with every item unsettled
        print(f"(the run's record could not be read: {type(err).__name__}: {err})")
        print(format_checklist(smoke_checklist({})))
        return
    print(format_checklist(list(status.checklist) or smoke_checklist({})))


def cmd_smoke(args) -> int:
    """The smoke run: its bound first, then (unless --dry-run) launch it and follow it to the end."""
    from gym.launch.budget import check_budget
    from gym.launch.smoke import SMOKE_STAGES, smoke_config

    config = smoke_config(num_nodes=args.nodes or 1, colocate=args.colocate is not False)
    plan = config.plan()
    budget = check_budget(config, args.max_usd, SMOKE_STAGES)  # over max_usd: main() exits 3
    print(f"smoke run {plan.name}: {plan.num_nodes} node(s) × {plan.gpus_per_node} {plan.gpu_type}, "
          f"${plan.usd_per_hour:,.2f}/h; {budget}")
    print(f"stages: {SMOKE_STAGES[0]} rollouts saved after each, then {SMOKE_STAGES[-1] - SMOKE_STAGES[0]} more "
          "resumed from that checkpoint")
    if args.dry_run:
        from gym.slime.argv import format_command

        print(plan)
        print(format_command(config.slime_argv()))
        print("dry run: nothing was launched")
        return 0
    return _launch(config, args.max_usd, SMOKE_STAGES, follow=True)


def _on_run(args, action) -> int:
    """Attach to a Modal run by name and act on it; Modal errors (no credentials, no such run)
    are printed without a traceback and exit 3."""
    from modal.exception import Error as ModalError

    from gym.launch.launcher import missing_credentials
    from gym.launch.runs import attach

    reason = missing_credentials()
    if reason:
        print(reason, file=sys.stderr)
        return 3
    try:
        action(attach(args.name))
    except (KeyError, ModalError) as err:
        print(str(err).strip("'\""), file=sys.stderr)
        return 3
    return 0


def cmd_status(args) -> int:
    return _on_run(args, lambda run: print(run.status()))


def cmd_logs(args) -> int:
    return _on_run(args, lambda run: print(run.logs(tail=args.tail), end=""))


def cmd_cancel(args) -> int:
    return _on_run(args, lambda run: print(run.cancel()))


def run_locally(args) -> int:
    """The tiny local run: plan, train, then where to look."""
    from gym.local.tiny import tiny_config

    from gym.slime.rules import seed_problem

    if problem := seed_problem(args.seed, "--seed"):
        raise ConfigError([problem], subject="--seed")
    base = tiny_config()
    config = config_from_args(args, base=base) if _has_overrides(args) else base
    if args.rollouts is not None:
        config = config.replace(num_rollout=args.rollouts)
    print(config.plan())
    print("\nRunning it locally: the same config, on a tiny random model of the same architecture.\n")
    from gym.local.runner import run_local

    timeout = {} if args.reward_timeout is None else {"reward_timeout_s": args.reward_timeout}
    history = run_local(config, seed=args.seed, resume=args.resume, out_dir=args.out_dir, **timeout)
    from gym.local.folder import inside

    reward_png = inside(history.run_dir, history.run_dir / "reward.png")
    timeline_png = inside(history.run_dir, history.run_dir / "timeline.png")
    history.reward_curve().savefig(reward_png, dpi=120)
    history.timeline_chart().savefig(timeline_png, dpi=120)
    first, last = history.window_mean(), history.window_mean(last=True)
    print(f"\nreward: {first:.2f} over the first 10% of rollouts -> {last:.2f} over the last 10%")
    print(f"metrics:  {history.run_dir / 'metrics.jsonl'}  (one row per rollout, slime's metric names)")
    print(f"timeline: {history.run_dir / 'timeline.jsonl'}")
    print(f"plots:    {reward_png}  {timeline_png}")
    return 0


def _has_overrides(args) -> bool:
    return any([args.model, args.nodes is not None, args.colocate is not None, args.gpu, args.set, args.no_eval,
                args.data])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gym", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_plan = sub.add_parser("plan", help="print the validated plan of a preset plus overrides")
    _add_config_args(p_plan)
    p_plan.add_argument("--mean-response-tokens", type=float, metavar="N",
                        help="the workload: mean response length in tokens (default: gym.perf's, e.g. GSM8K "
                             "with thinking 1200; a past run's rollout/response_len/mean prices the next)")
    p_plan.add_argument("--mean-prompt-tokens", type=float, metavar="N",
                        help="the workload: mean prompt length in tokens (default: half of rollout_max_prompt_len, "
                             "or 200)")
    p_plan.set_defaults(func=cmd_plan)
    p_argv = sub.add_parser("argv", help="print the exact slime command")
    _add_config_args(p_argv)
    p_argv.set_defaults(func=cmd_argv)
    p_run = sub.add_parser("run", help="run a config: locally on a tiny model (default), or on Modal")
    _add_config_args(p_run)
    p_run.add_argument("--backend", choices=("local", "modal"), default="local",
                       help="local: gym.local.tiny_config() plus overrides; modal: the seed's production run "
                            "(Qwen3-4B, GSM8K, 4 colocated nodes, 3000 rollouts, W&B) plus overrides")
    p_run.add_argument("--rollouts", type=int, help="number of rollouts (num_rollout; default: the config's)")
    _add_budget_arg(p_run)
    p_run.add_argument("--seed", type=int, default=0, help="local: model init, prompt order and sampling")
    p_run.add_argument("--resume", action="store_true", help="local: continue from the run's last checkpoint")
    p_run.add_argument("--out-dir", default="runs", help="local: where runs/<name>/ goes")
    p_run.add_argument("--reward-timeout", type=float, default=None, metavar="SECONDS",
                       help="local: the most seconds one reward call may take (default: 60)")
    p_run.set_defaults(func=cmd_run)
    p_smoke = sub.add_parser("smoke", help="the smoke run on Modal: Qwen3-0.6B, 2 rollouts + 1 resumed, "
                                           "its price bound first")
    p_smoke.add_argument("--nodes", type=int, default=1, help="nodes (default 1: 2 GPUs; more: 8 GPUs each)")
    p_smoke.add_argument("--no-colocate", dest="colocate", action="store_false", default=True,
                         help="rollout on its own GPUs (train_async.py)")
    p_smoke.add_argument("--dry-run", action="store_true", help="print the bound, plan and command; launch nothing")
    _add_budget_arg(p_smoke)
    p_smoke.set_defaults(func=cmd_smoke)
    for verb, func, text in (("status", cmd_status, "a Modal run's phase, spend, checkpoint and links"),
                             ("logs", cmd_logs, "a Modal run's last log lines"),
                             ("cancel", cmd_cancel, "stop a Modal run now (its checkpoints stay)")):
        p = sub.add_parser(verb, help=text)
        p.add_argument("name", help="the run name (the plan's first row)")
        if verb == "logs":
            p.add_argument("--tail", type=int, default=100, help="lines (default 100)")
        p.set_defaults(func=func)
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
    except SystemExit as err:  # user code (a reward) called sys.exit: gym's statuses keep their meanings
        print(f"error: user code exited with status {err.code!r} (sys.exit or SystemExit, e.g. in a reward "
              "function); gym stopped there", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted" + ("; continue with --resume" if args.command == "run" else ""), file=sys.stderr)
        return 130
    except LaunchError as err:  # refused before anything was created: the message names what is missing
        print(err, file=sys.stderr)
        return 3
    except Exception as err:  # the Modal client's own errors (expired token, no access): no traceback
        message = modal_error_message(err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
