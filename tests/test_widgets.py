"""The control panel, headless: set values, click buttons, check the plan, the messages and the config."""

import html
import re
import time
from pathlib import Path

import pytest

from gym import SlimeConfig
from gym.codegen import config_to_code
from gym.local import tiny_config
from gym.plots import gpu_layout, gpu_map, gpu_map_svg, scaling_chart
from gym.widgets import ControlPanel


@pytest.fixture
def panel(tmp_path):
    return ControlPanel(tiny_config(tmp_path / "data", num_rollout=3, rollout_batch_size=8, n_samples_per_prompt=4,
                                    global_batch_size=32, eval_interval=None), runs_dir=str(tmp_path / "runs"))


def problem_texts(panel):
    return [re.sub("<[^>]+>", "", (row.children[0] if hasattr(row, "children") else row).value)
            for row in panel.problems_box.children]


def fix_buttons(panel):
    return [b for row in panel.problems_box.children if hasattr(row, "children") for b in row.children[1].children]


def test_moving_the_node_slider_replans(panel):
    assert panel.plan.num_nodes == 1 and panel.plan.dp == 8
    panel.controls["num_nodes"].value = 4
    assert panel.config.num_nodes == 4
    assert panel.plan.cluster_gpus == 32 and panel.plan.dp == 32
    assert "4 × 8 H100 = 32 GPUs" in panel.plan_html.value
    assert "$140.59 per hour" in panel.cost_html.value
    assert panel.map_html.value.count("<rect") >= 32
    assert not panel.launch_button.disabled


def test_derived_batch_sizes_follow_the_layout(tmp_path):
    panel = ControlPanel(SlimeConfig())
    assert panel.controls["global_batch_size"].value == 16
    panel.controls["num_nodes"].value = 2
    assert panel.controls["global_batch_size"].value == 64  # derived again, not frozen at 16
    assert "global_batch_size" not in panel.set_fields
    panel.controls["num_nodes"].value = 4
    assert panel.controls["global_batch_size"].value == 128


def test_invalid_combination_shows_problem_and_fixes_and_disables_launch(panel):
    panel.controls["num_nodes"].value = 4
    panel.controls["colocate"].value = False   # 24 training GPUs; 32 samples per step set
    assert panel.launch_button.disabled
    texts = problem_texts(panel)
    assert any("global_batch_size=32 must be a multiple of micro_batch_size × DP = 1 × 24" in t for t in texts)
    buttons = fix_buttons(panel)
    assert buttons
    buttons[0].click()  # one click applies the suggestion
    assert panel.config.global_batch_size % 24 == 0
    for _ in range(3):  # a fix can reveal the next rule; keep clicking the first suggestion
        if not panel.launch_button.disabled:
            break
        fix_buttons(panel)[0].click()
    assert not panel.launch_button.disabled, problem_texts(panel)
    assert [p for p in panel.config.problems() if p.severity == "error"] == []
    assert panel.config.plan().dp == 24  # the fixed config plans (plan() raises while any error is left)


def test_rollout_gpus_only_editable_when_split(panel):
    assert panel.controls["rollout_num_gpus"].disabled
    panel.controls["colocate"].value = False
    assert not panel.controls["rollout_num_gpus"].disabled
    assert panel.controls["rollout_num_gpus"].value == 4  # one node: half of it rolls out


def test_model_dropdown_changes_the_architecture(panel):
    panel.controls["model"].value = "Qwen3-32B"
    assert panel.config._model.model_name == "Qwen/Qwen3-32B"
    assert panel.plan.tp == 8


def test_code_is_the_config(panel):
    panel.controls["num_nodes"].value = 2
    code = re.sub("<[^>]+>", "", panel.code_html.value)
    import html

    namespace: dict = {}
    exec(html.unescape(code), namespace)
    assert namespace["run"].plan().num_nodes == 2
    assert namespace["run"].slime_argv() == panel.config.slime_argv()


def test_launch_local_streams_a_reward_curve(panel):
    """The curve is redrawn while the run goes (every `curve_every` rollouts), not only at the end."""
    panel.curve_every = 1
    drawn_during: list[str] = []  # the status line at each redraw: "rollout k/3: …" while running
    panel.curve.observe(lambda change: drawn_during.append(panel.status.value), names="value")
    panel.launch_button.click()
    panel.wait(timeout=300)
    assert not panel._run_thread.is_alive()
    assert panel.history is not None and len(panel.history.rows) == 3
    assert panel.curve.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert [t.split(":")[0] for t in drawn_during[:3]] == ["rollout 1/3", "rollout 2/3", "rollout 3/3"]
    assert "3 rollouts" in panel.status.value
    assert panel.launch_button.description == "Relaunch"


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:.0f} s for {what}"
        time.sleep(0.05)


def test_relaunch_stops_the_previous_local_run(panel):
    panel.set(num_rollout=200)
    panel.launch()
    first = panel._run_thread
    # on_rollout is the panel's own; watch the run folder instead, for the first logged rollout
    metrics = Path(panel.runs_dir) / panel.config.resolve().name / "metrics.jsonl"
    _wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 1, 120, "the first rollout")
    panel.launch()  # stops the first (after its current rollout), then starts again
    first.join(120)
    assert not first.is_alive()
    second = panel._run_thread
    assert second is not first
    _wait_for(lambda: panel.history is not None, 60, "the first run's History")
    stopped = panel.history  # the first run's History, returned when it stopped
    assert 1 <= len(stopped.rows) < 200  # stopped early, not run to its end
    assert panel.stop(timeout=60) and not second.is_alive()


def test_relaunch_never_blocks_the_kernel(tmp_path, monkeypatch):
    """A relaunch while the previous run is inside a slow reward returns at once (it used to wait up
    to 300 s for the run to stop); the new run starts once the old one has stopped."""
    (tmp_path / "slow_rewards.py").write_text("import time\n"
                                              "async def slow(args, sample, **kwargs):\n"
                                              "    time.sleep(0.05)  # blocks, as a grading call may\n"
                                              "    return 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    panel = ControlPanel(tiny_config(tmp_path / "data", num_rollout=50, rollout_batch_size=8, n_samples_per_prompt=4,
                                     global_batch_size=32, eval_interval=None, custom_rm_path="slow_rewards.slow"),
                         runs_dir=str(tmp_path / "runs"))
    panel.launch()
    first = panel._run_thread
    metrics = Path(panel.runs_dir) / panel.config.resolve().name / "metrics.jsonl"
    _wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 1, 120, "the first rollout")
    began = time.monotonic()
    panel.launch()  # the first run is in a rollout whose 32 rewards take ≥ 1.6 s
    assert time.monotonic() - began < 0.5
    assert first.is_alive() and "stopping the previous run" in panel.status.value
    first.join(60)
    assert panel.stop(timeout=60)


def test_a_runs_error_is_shown_in_the_panel(tmp_path, monkeypatch):
    (tmp_path / "panel_rewards.py").write_text("async def raises(args, sample, **kwargs):\n"
                                               "    raise KeyError('answer')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    panel = ControlPanel(tiny_config(tmp_path / "data", num_rollout=2, rollout_batch_size=8, n_samples_per_prompt=4,
                                     global_batch_size=32, eval_interval=None, custom_rm_path="panel_rewards.raises"),
                         runs_dir=str(tmp_path / "runs"))
    panel.launch()
    panel.wait(timeout=120)
    assert not panel._run_thread.is_alive()
    text = html.unescape(re.sub("<[^>]+>", "", panel.status.value))
    assert text.startswith("RewardError: reward panel_rewards.raises raised KeyError: 'answer' on rollout 0, sample 0")
    assert panel.history is None


def test_launch_does_nothing_while_the_config_is_invalid(panel, tmp_path):
    panel.set(global_batch_size=12)  # 8 × 4 = 32 samples per rollout: not a multiple of 12
    assert panel.launch_button.disabled
    status = panel.status.value
    panel.launch_button.click()
    panel.launch()
    assert panel._run_thread is None and panel.status.value == status
    assert panel.launch_button.description == "Launch"
    assert not (tmp_path / "runs").exists()


def test_launch_modal_without_credentials_says_what_is_missing(panel):
    panel.backend.value = "modal"
    panel.launch_button.click()
    assert "no Modal credentials" in panel.status.value and "modal setup" in panel.status.value
    assert "nothing was created" in panel.status.value


def test_launch_modal_shows_an_error_from_the_modal_client(panel, monkeypatch):
    import modal.exception

    import gym.launch.launcher as launcher

    def refused(config, **kwargs):
        raise modal.exception.AuthError("Token ID is malformed")

    monkeypatch.setattr(launcher, "launch", refused)
    panel.backend.value = "modal"
    panel.launch_button.click()
    assert "Modal refused: AuthError: Token ID is malformed" in panel.status.value
    assert panel.last_launch is None


# ---- pictures --------------------------------------------------------------------------------------

def test_gpu_layout_roles_and_groups():
    split = SlimeConfig(num_nodes=4, colocate=False).plan()
    boxes = gpu_layout(split)
    filled = [b for b in boxes if b.fill]
    assert sum(b.color == "#1c7ed6" for b in filled) == 24 and sum(b.color == "#2f9e44" for b in filled) == 8
    assert sum(1 for b in boxes if not b.fill and not b.dashed) == 8  # 8 engines of 1 GPU
    tp2 = SlimeConfig(model="Qwen3-8B", num_nodes=2).plan()
    assert sum(1 for b in gpu_layout(tp2) if b.dashed) == 8  # DP 8 replicas of TP 2
    assert {b.label for b in gpu_layout(tp2) if b.label} == {f"d{i}" for i in range(8)}


def test_figures_are_figures():
    from matplotlib.figure import Figure

    plan = SlimeConfig(num_nodes=2, colocate=False).plan()
    assert isinstance(gpu_map(plan), Figure)
    chart = scaling_chart(SlimeConfig())
    assert [ax.get_title() for ax in chart.axes] == ["data parallel (DP)", "samples per step", "steps per rollout",
                                                     "$ per hour"]
    assert [round(p.get_height()) for p in chart.axes[0].patches] == [8, 16, 32, 64]
    assert gpu_map_svg(plan).startswith("<svg")


def test_codegen_roundtrip():
    config = SlimeConfig(num_nodes=4, colocate=False, global_batch_size=96, rollout_batch_size=48)
    namespace: dict = {}
    exec(config_to_code(config), namespace)
    assert namespace["run"].slime_argv() == config.slime_argv()


def test_the_workload_field_prices_the_plan(tmp_path):
    # Issue 18: the workload is an input everywhere a decision is made, the panel included.
    panel = ControlPanel(SlimeConfig(num_rollout=10), runs_dir=str(tmp_path / "runs"))
    default = panel.plan.perf.step_seconds
    panel.mean_response.value = 300
    assert panel.workload == {"mean_response_tokens": 300}
    assert panel.plan.perf.mean_response_tokens == 300 and panel.plan.perf.step_seconds != default
    assert "responses ~300 tokens" in panel.plan_html.value
    panel.mean_response.value = 0  # 0: gym.perf's default again
    assert panel.workload == {} and panel.plan.perf.step_seconds == default
    panel.set_workload(mean_response_tokens=float("nan"))  # a bad workload: shown as a problem, no launch
    assert any("mean_response_tokens" in t for t in problem_texts(panel)) and panel.launch_button.disabled
