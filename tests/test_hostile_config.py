"""Hostile input to validation, the CLI and the launcher (issue 19, items 5, 6, 14-17): NaN and inf,
absurd sizes, wrong types, reward modules that do not import, secrets in config, a launch over its
bound with fake credentials. Each is one message and an exit status, never a traceback, a hang, a
leaked secret or a network call."""

import math
import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from gym import ConfigError, SlimeConfig
from gym.cli import main, seed_production_config
from gym.launch.budget import LaunchError, check_budget

SECRET = "S3cr3t-sentinel-value-0123456789"


def _error(config: SlimeConfig) -> str:
    with pytest.raises(ConfigError) as info:
        config.validate()
    return str(info.value)


# ---- item 6: every float is finite --------------------------------------------------------------

def test_nan_and_inf_are_listed_with_every_other_problem_and_never_reach_argv():
    config = SlimeConfig(lr=math.nan, rollout_temperature=math.inf, global_batch_size=12)
    text = _error(config)
    assert text.startswith("3 problems in SlimeConfig")
    assert "[lr] lr=nan must be a finite number" in text and "nearest valid: 1e-06" in text
    assert "[rollout_temperature] rollout_temperature=inf must be a finite number" in text
    assert "nearest valid: 1.0" in text
    assert "global_batch_size=12 must be a multiple of micro_batch_size × DP" in text
    with pytest.raises(ConfigError):
        config.slime_argv()


@pytest.mark.parametrize("setting", ["clip_grad=nan", "entropy_coef=inf", "weight_decay=-inf", "lr=nan",
                                     "rollout_temperature=inf", "eps_clip=nan", "adam_beta2=nan"])
def test_a_local_run_with_a_non_finite_number_is_one_message(tmp_path, capsys, setting):
    assert main(["run", "--rollouts", "1", "--set", setting, "--out-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    name = setting.split("=")[0]
    assert f"[{name}] {setting} must be a finite number" in err
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_a_non_finite_number_is_said_once():
    problems = [p for p in SlimeConfig(sglang_mem_fraction_static=math.nan, weight_decay=-math.inf).problems()
                if p.severity == "error"]
    assert sorted((p.fields[0], p.rule) for p in problems) == [
        ("sglang_mem_fraction_static", "finite_numbers"), ("weight_decay", "finite_numbers")]


# ---- items 6 and 17: absurd sizes, refused quickly -----------------------------------------------

@pytest.mark.parametrize("kwargs", [dict(rollout_batch_size=10**18), dict(global_batch_size=10**18 + 1),
                                    dict(rollout_batch_size=10**18 + 1, n_samples_per_prompt=7),
                                    dict(num_nodes=100_000_000_000), dict(rollout_num_gpus=10**15, colocate=False)])
def test_absurd_sizes_are_refused_in_well_under_a_second(kwargs):
    start = time.monotonic()
    text = _error(SlimeConfig(**kwargs))
    assert time.monotonic() - start < 2
    assert "2,147,483,647" in text or "Modal's clusters hold at most 32 nodes and 256 GPUs" in text


def test_more_nodes_than_a_modal_cluster_exits_2_naming_modals_limit(capsys):
    assert main(["plan", "--nodes", "100000000000"]) == 2
    err = capsys.readouterr().err
    assert "Modal's clusters hold at most 32 nodes and 256 GPUs" in err and "nearest valid: 32" in err
    assert "$" not in err  # no plan, no price
    assert main(["plan", "--nodes", "33"]) == 2
    assert "33 × 8 = 264 GPUs: Modal's clusters hold at most 32 nodes" in capsys.readouterr().err


# ---- item 14: no traceback for a user's error ----------------------------------------------------

@pytest.mark.parametrize("setting,message", [
    ("model=5", "[model] model=5 has type int; expected ModelConfig | str"),
    ("dataset=5", "[dataset] dataset=5 has type int"),
    ("wandb=3", "[wandb] wandb=3 has type int"),
    ("extra_args=[1,", "--set value '[1,' is not valid JSON"),
])
def test_wrong_types_and_bad_json_exit_2_with_one_message(capsys, setting, message):
    assert main(["plan", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_json_from_the_real_entry_point_exits_2():
    out = subprocess.run([sys.executable, "-m", "gym", "plan", "--set", "extra_args=[1,"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("1 problem in --set:\n  - [--set] --set value '[1,' is not valid JSON")


@pytest.mark.parametrize("seed", [str(2**64), "-1", "4294967296"])
def test_a_seed_outside_numpys_range_exits_2(tmp_path, capsys, seed):
    assert main(["run", "--seed", seed, "--rollouts", "1", "--out-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "[--seed] 0 ≤ --seed ≤ 4,294,967,295 must hold" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("source,where", [
    ("async def score(args, sample, **kwargs)\n    return 1.0\n", "line 1: SyntaxError"),
    ("import json\nimport no_such_module_19b\n", "line 2: ModuleNotFoundError: No module named 'no_such_module_19b'"),
    ("x = 1\nraise SystemExit(3)\n", "line 2: SystemExit: 3"),
])
def test_a_reward_module_that_does_not_import_is_a_config_error_naming_file_and_line(
        tmp_path, monkeypatch, capsys, source, where):
    (tmp_path / "broken_reward_19b.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("broken_reward_19b", None)
    assert main(["plan", "--set", "custom_rm_path=broken_reward_19b.score"]) == 2  # never 3: that is Modal's
    err = capsys.readouterr().err
    assert "[custom_rm_path] custom_rm_path='broken_reward_19b.score': importing 'broken_reward_19b' failed: " in err
    assert f"{tmp_path / 'broken_reward_19b.py'} {where}" in err and "Traceback" not in err


def test_user_code_calling_sys_exit_is_exit_2_not_3(monkeypatch, capsys):
    import gym.cli

    def exits(args):
        raise SystemExit(3)  # what a reward calling sys.exit(3) raises through the local run

    monkeypatch.setattr(gym.cli, "cmd_plan", exits)
    assert main(["plan"]) == 2
    assert "user code exited with status 3" in capsys.readouterr().err


# ---- item 5: max_usd is a finite positive number -------------------------------------------------

@pytest.mark.parametrize("max_usd,message", [
    (math.inf, "max_usd=inf must be a positive, finite number"), (math.nan, "max_usd=nan must be a positive, finite"),
    ("100", "max_usd='100' has type str: it must be a number of US dollars, e.g. max_usd=100"),
    (True, "max_usd=True has type bool"), (0, "must be a positive, finite"), (-1.0, "must be a positive, finite"),
])
def test_max_usd_must_be_finite_and_positive(max_usd, message):
    from gym.launch.launcher import launch

    with pytest.raises(LaunchError, match=message.replace("(", r"\(").replace("$", r"\$")):
        check_budget(seed_production_config(), max_usd)
    with pytest.raises(LaunchError, match="nothing was created"):
        launch(seed_production_config(), max_usd=max_usd)


def test_max_usd_inf_on_the_command_line_exits_3(capsys):
    assert main(["run", "--backend", "modal", "--max-usd", "inf"]) == 3
    assert "max_usd=inf must be a positive, finite number" in capsys.readouterr().err


# ---- item 16: money first, before any network call -----------------------------------------------

def test_over_budget_with_fake_credentials_is_refused_instantly_without_a_connection(tmp_path):
    """A fake token would make the Modal client connect (and wait); the refusal comes first. The
    client is pointed at a socket of this test, which must never see a connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env.update(HOME=str(home), MODAL_TOKEN_ID="ak-fake19b", MODAL_TOKEN_SECRET="as-fake19b",
               MODAL_SERVER_URL=f"http://127.0.0.1:{server.getsockname()[1]}")
    start = time.monotonic()
    try:
        out = subprocess.run([sys.executable, "-m", "gym", "run", "--backend", "modal"], capture_output=True,
                             text=True, env=env, timeout=10)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected: no Modal client call was made
    finally:
        server.close()
    assert time.monotonic() - start < 10
    assert out.returncode == 3, out.stderr
    assert re.search(r"is estimated at up to \$[\d,]+\.\d\d for 3000 rollouts", out.stderr), out.stderr
    assert "over the $50 allowed without max_usd" in out.stderr
    assert "Modal refused" not in out.stderr and "Traceback" not in out.stderr


# ---- item 15: secrets through config -------------------------------------------------------------

@pytest.mark.parametrize("extra", [["--sglang-api-key", SECRET], ["--hf-token", SECRET], ["--wandb-key", SECRET],
                                   [f"--sglang-admin-api-key={SECRET}"], ["--router-control-plane-api-keys", SECRET],
                                   ["--hf-tokn", SECRET], ["--rollout-num-gpu", "8", "--hf-token", SECRET]])
def test_a_secret_flag_in_extra_args_is_refused_without_echoing_its_value(extra, capsys, tmp_path):
    config = SlimeConfig(extra_args=extra)
    problems = config.problems()
    assert any("would put a secret on the command line" in p.message for p in problems)
    assert SECRET not in repr(problems)  # messages and suggestions
    assert SECRET not in _error(config)
    import json

    code = main(["run", "--rollouts", "1", "--set", f"extra_args={json.dumps(extra)}",
                 "--out-dir", str(tmp_path / "runs")])
    captured = capsys.readouterr()
    assert code == 2 and SECRET not in captured.out + captured.err
    assert not (tmp_path / "runs").exists()  # nothing ran, so no W&B file holds it


@pytest.mark.parametrize("name", ["hf_token", "sglang_api_key", "wandb_key", "openai_api_key"])
def test_a_secret_named_set_is_refused_without_echoing_its_value(capsys, name):
    assert main(["plan", "--set", f"{name}={SECRET}"]) == 2
    err = capsys.readouterr().err
    assert "would put a secret on slime's command line" in err and SECRET not in err


def test_the_secret_name_pattern_finds_exactly_the_pinned_secret_flags():
    from gym.secrets import SECRET_FLAGS, SECRET_NAME
    from gym.slime.argv import pinned_flags

    found = {f for f in pinned_flags() if SECRET_NAME.search(f.lstrip("-"))}
    assert found == set(SECRET_FLAGS) & set(pinned_flags())
    assert len(found) == 7 and "--wandb-key" in found and "--input-key" not in found


@pytest.mark.parametrize("url,shown", [
    ("https://user:pw-19b@rm.example/score", "https://<redacted>@rm.example/score"),
    ("http://rm.example:8000/score?token=pw-19b&top_k=3", "http://rm.example:8000/score?token=<redacted>&top_k=3"),
    ("http://rm.example/score?x=1&api_key=pw-19b", "http://rm.example/score?x=1&api_key=<redacted>"),
    ("http://rm.example/score?top_k=3", "http://rm.example/score?top_k=3"),
])
def test_credentials_in_urls_are_redacted_wherever_gym_prints_them(url, shown, capsys):
    from gym.launch.cluster import describe_env
    from gym.secrets import redact
    from gym.slime.argv import format_command

    assert redact(url) == shown
    config = SlimeConfig(rm_type="remote_rm", rm_url=url)
    argv = config.slime_argv()
    assert url in argv  # slime takes the URL only on its command line
    assert "pw-19b" not in format_command(argv) and shown in format_command(argv)
    assert main(["argv", "--set", "rm_type=remote_rm", "--set", f"rm_url={url}"]) == 0
    assert "pw-19b" not in capsys.readouterr().out
    assert "pw-19b" not in describe_env({"RM_URL": url}, [])
    assert redact(["--rm-url", url, "--hf-token", "pw-19b"]) == ["--rm-url", shown, "--hf-token", "<redacted>"]


def test_the_job_log_masks_credentials_megatron_prints_with_its_arguments(capsys):
    from gym.launch.cluster import JobLog

    log = JobLog()
    text = "  rm_url .......... https://user:pw-19b@rm.example/score\n  seed ...... 1234\n"
    log.emit(text)
    out = capsys.readouterr().out
    assert "pw-19b" not in out and "https://<redacted>@rm.example/score" in out
    assert log.printed == len(text) and "pw-19b" not in " ".join(log.tail)


def test_a_url_with_credentials_is_refused_while_wandb_logs_slimes_arguments():
    from gym import WandbConfig

    config = SlimeConfig(rm_type="remote_rm", rm_url="https://user:pw-19b@rm.example/score",
                         wandb=WandbConfig(project="p", group="g"))
    text = _error(config)
    assert "rm_url='https://<redacted>@rm.example/score' carries credentials" in text and "pw-19b" not in text


def test_a_reward_module_with_a_syntax_error_names_its_line_from_python(tmp_path, monkeypatch):
    (tmp_path / "syntax_reward_19b.py").write_text(textwrap.dedent("""\
        async def score(args, sample, **kwargs):
            return 1.0

        def broken(:
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = SlimeConfig(custom_rm_path="syntax_reward_19b.score").problems()
    (problem,) = [p for p in problems if p.rule == "custom_reward_importable"]
    assert f"{tmp_path / 'syntax_reward_19b.py'} line 4: SyntaxError" in problem.message
