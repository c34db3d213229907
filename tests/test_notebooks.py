"""The lessons: in sync with their sources, committed without outputs, and executed top to bottom
by nbclient on their default (tiny, local, free) parameters (04 and 05 with shorter local runs),
asserting on what each one teaches.
Each lesson's exercises run twice in the same kernel: unanswered (the check says so and returns
False), then with the solution folded under them (the check must return True)."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CHECK_LINE = re.compile(r'^check\("(?P<key>\d\d\.\d)", (?P<answer>answer_\d)(?P<rest>[^;]*)\);.*$', re.M)
SOLUTION = re.compile(r"<details><summary>Solution</summary>\s*```python\n(?P<code>.*?)```", re.S)
LAUNCHING = ["01_quickstart", "02_scaling_nodes", "03_colocation", "05_production_run", "06_use_the_model"]


def test_lessons_exist():
    assert LESSONS == ["01_quickstart", "02_scaling_nodes", "03_colocation", "04_throughput_knobs",
                       "05_production_run", "06_use_the_model"]


def test_pairs_in_sync_and_without_outputs():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_notebooks.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def exercises(nb) -> list[str]:
    return [m["key"] for c in nb.cells if c.cell_type == "code" for m in CHECK_LINE.finditer(c.source)]


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_structure(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    # A lesson that can launch has the switch, off; one that cannot has no dead switch.
    assert ("LAUNCH_ON_MODAL = False" in tagged[0].source) == (name in LAUNCHING)
    assert "https://modal.com/notebooks/new/" in nb.cells[0].source and f"notebooks/{name}.ipynb" in nb.cells[0].source
    for section in ("What you will learn", "What a real run needs", "What to watch"):
        assert section in nb.cells[0].source
    assert not [c for c in nb.cells if not c.source.strip()], "empty cell"
    # The ending: what was learned, a link to what is next, 2-3 exercises each with a solution.
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## What you learned, and what is next" in text
    assert re.search(r"\]\((0\d_\w+\.ipynb|README\.md)\)", text.split("## What you learned")[-1])
    keys = exercises(nb)
    assert 2 <= len(keys) <= 3 and all(k.startswith(name[:2] + ".") for k in keys)
    assert len(SOLUTION.findall(text)) == len(keys)
    # Every launch goes through a cost bound; the full run is one marked line away.
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert ".launch()" not in code
    if ".launch(" in code:
        assert code.count(".launch(") == code.count(".launch(max_usd=MAX_USD)") == 1
        assert code.count("<- THE FULL RUN") == 1


def install_cell(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return next(c for c in nb.cells if c.cell_type == "code").source


def test_install_cells_identical_and_detect_the_distribution():
    cells = {install_cell(name) for name in LESSONS}
    assert len(cells) == 1
    cell = cells.pop()
    # The distribution, not `import gym` (OpenAI Gym is also `import gym`); torch pinned as setup.sh.
    assert "importlib.metadata.version(dist)" in cell and '_installed("slime-gym")' in cell
    assert "torch==2.13.0" in cell and "GYM_TORCH_VERSION:-2.13.0" in (ROOT / "scripts" / "setup.sh").read_text()
    assert "a few minutes" in cell


def run_install_cell(tmp_path: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    script = tmp_path / "install_cell.py"
    script.write_text(install_cell("01_quickstart"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if extra_path:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_install_cell_with_gym_installed_installs_nothing(tmp_path):
    out = run_install_cell(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Installing" not in out.stdout  # slime-gym is installed here: no pip


def test_install_cell_refuses_openai_gym(tmp_path):
    # What pip leaves for OpenAI Gym: a dist-info record named gym.
    site = tmp_path / "site"
    (site / "gym-0.26.2.dist-info").mkdir(parents=True)
    (site / "gym-0.26.2.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: gym\nVersion: 0.26.2\n")
    out = run_install_cell(tmp_path, extra_path=site)
    assert out.returncode != 0
    assert "OpenAI Gym" in out.stderr and "pip uninstall -y gym" in out.stderr


def solution_cells(nb) -> list[str]:
    """For each exercise: its solution (the folded block under it), then its check, into _solved."""
    cells, pending = [], None
    for cell in nb.cells:
        if cell.cell_type == "code" and (m := CHECK_LINE.search(cell.source)):
            pending = m
        elif cell.cell_type == "markdown" and pending and (sol := SOLUTION.search(cell.source)):
            code = textwrap.dedent(sol["code"])
            cells.append(f"{code}\n_solved[{pending['key']!r}] = check({pending['key']!r}, {pending['answer']}"
                         f"{pending['rest']})")
            pending = None
    return cells


PUBLISHED = "**115.6 s** (redai-studio/Relax#152)"
"""gym.published's first row as a lesson shows it beside the model's hours and dollars."""
PICTURE = re.compile(r"\b(reward_curve|loss_curves|timeline_chart|gpu_map|scaling_chart|step_time_chart|memory_chart|"
                     r"packing_chart)\(")
"""A cell whose last line calls one of these shows a picture (gym.plots, or History's methods that use it)."""


def assert_pictures_render(nb) -> None:
    """What the learner sees in a fresh kernel: every cell that ends by showing a picture has an image
    output (PNG or SVG), and no output anywhere is matplotlib's text stand-in `<Figure size 700x320 ...>`."""
    shown, missing = 0, []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.outputs:
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert "<Figure size" not in text, f"cell {i} shows a figure as text: {text[:80]!r}"
        lines = [line for line in cell.source.strip().splitlines() if line.strip()]
        if lines and PICTURE.search(lines[-1]) and not lines[-1].startswith((" ", "#")):
            shown += 1
            if not any({"image/png", "image/svg+xml"} & set(o.get("data", {})) for o in cell.outputs):
                missing.append(i)
    assert shown and not missing, f"cells without an image: {missing} of {shown} that show a picture"


def run_lesson(name: str, tmp_path: Path, result: str, parameters: dict | None = None) -> dict:
    """Execute the committed .ipynb, then its exercises' solutions, then evaluate `result` (a Python
    expression) in its kernel; check that every exercise is unanswered on the defaults and right
    with its solution.

    `parameters` overrides values of the lesson's `parameters` cell, in a cell right after it (as
    papermill injects them): shorter local runs where the length is not what the lesson shows.
    """
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items())))
    keys = exercises(nb)
    unanswered = "{" + ", ".join(f"{k!r}: check({k!r}, None)" for k in keys) + "}"
    solutions = solution_cells(nb)
    assert len(solutions) == len(keys)
    nb.cells.append(nbformat.v4.new_code_cell("_unanswered = " + unanswered + "\n_solved = {}"))
    nb.cells += [nbformat.v4.new_code_cell(code) for code in solutions]
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import json\nprint('RESULT' + json.dumps({{**({result}), 'unanswered': _unanswered, 'solved': _solved}}))"))
    NotebookClient(nb, timeout=1800, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert_pictures_render(nb)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    r = json.loads(text.split("RESULT", 1)[1])
    assert r["unanswered"] == {k: False for k in keys}
    assert r["solved"] == {k: True for k in keys}, r["solved"]
    r["_outputs"] = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
                              + str(o.get("data", {}).get("text/plain", "")) for c in nb.cells if c.cell_type == "code"
                              for o in c.outputs)
    return r


def test_01_quickstart(tmp_path):
    r = run_lesson("01_quickstart", tmp_path, """{
        "nodes": plan.num_nodes, "dp": plan.dp, "steps": plan.steps_per_rollout, "colocate": plan.colocate,
        "first": history.window_mean(), "last": history.window_mean(last=True), "rollouts": len(history.rows),
        "boxed": [math_reward(x, '72') for x in ("\\\\boxed{72}", "72")], "launched": LAUNCH_ON_MODAL,
        "smoke": [SMOKE.num_rollout, estimate(SMOKE).run_usd_range[1], estimate(run).run_usd_range[1]],
        "to_launch": TO_LAUNCH is SMOKE, "max_usd": MAX_USD}""")
    assert (r["nodes"], r["dp"], r["colocate"]) == (1, 8, True)
    assert r["steps"] == 4 and r["boxed"] == [1, 0] and r["launched"] is False
    assert r["rollouts"] == 120 and r["last"] >= 0.5 and r["last"] >= 3 * r["first"]  # reward rising
    assert PUBLISHED in r["_outputs"]  # a measurement, with its source, beside the model's dollars
    rollouts, smoke_high, full_high = r["smoke"]
    # The switch launches the smoke run, which its bound admits; the full run would be refused by it.
    assert r["to_launch"] and rollouts == 3 and smoke_high <= r["max_usd"] < full_high


def test_02_scaling_nodes(tmp_path):
    r = run_lesson("02_scaling_nodes", tmp_path, """{
        "table": {n: [p.dp, p.global_batch_size, p.num_rollout, p.cluster_gpus] for n, p in plans.items()},
        "split": [split_plan.train_gpus, split_plan.rollout_gpus, split_plan.train_script],
        "production": [production.samples_per_rollout, production.steps_per_rollout, production.dp],
        "cluster": train_info.cluster_info.size, "generations": GSM8K_TRAIN_PROMPTS * n, "passes": passes,
        "compare": [[row.nodes, row.rollouts, row.hours, row.usd, row.speedup] for row in table.rows],
        "smoke": [SMOKE.num_rollout, estimate(SMOKE).run_usd_range[1], estimate(launchable).run_usd_range[1]],
        "to_launch": TO_LAUNCH is SMOKE, "max_usd": MAX_USD}""")
    assert r["table"] == {"1": [8, 16, 50, 8], "2": [16, 64, 200, 16], "4": [32, 128, 3000, 32]}  # the seed's table
    assert r["split"] == [24, 8, "train_async.py"]
    assert r["production"] == [512, 4, 32] and r["cluster"] == 4
    assert r["generations"] == 59784 and round(r["passes"]) == 26  # 3000 × 64 / 7473
    # The scaling answer: the same work (3000 rollouts of 512 samples) on 1, 2, 4 nodes.
    (n1, k1, h1, usd1, s1), (n2, k2, h2, _, s2), (n4, k4, h4, usd4, s4) = r["compare"]
    assert (n1, n2, n4) == (1, 2, 4) and k1 == k2 == k4 == 3000 and s1 == 1.0
    assert h1 > h2 > h4 and 1 < s2 < s4 <= 4  # faster with more nodes, never better than linear
    assert usd4 >= usd1 * 0.9  # time, not savings
    assert PUBLISHED in r["_outputs"]
    rollouts, smoke_high, full_high = r["smoke"]
    assert r["to_launch"] and rollouts == 3 and smoke_high <= r["max_usd"] < full_high


def test_03_colocation(tmp_path):
    r = run_lesson("03_colocation", tmp_path, """{
        "error": str(error), "fixed": [fixed_plan.global_batch_size, fixed_plan.samples_per_rollout,
                                        fixed_plan.dp],
        "workers": sorted({s["worker"] for s in split11.timeline}),
        "overlap": sum(1 for a in split11.timeline for b in split11.timeline
                       if a["worker"] == "rollout" and b["worker"] == "train" and a["start"] < b["end"]
                       and b["start"] < a["end"]),
        "R": R, "T": T, "ideal": ideal, "scripts": [c.train_script, y.train_script, s.train_script],
        "colocate": [c.colocate, y.colocate, s.colocate], "cores": cores,
        "reading": [reading.plausible, reading.speedup, reading.message, step_turn1 / step_split],
        "measured": [statistics.median(turn1.metric(k)[WARMUP:]) for k in ("perf/rollout_time", "perf/train_time")],
        "workers_1core": sorted({s["worker"] for s in turn1.timeline}),
        "model": [colo_s, split_sync_seconds, async_s],
        "smoke": [SMOKE.num_rollout, estimate(SMOKE).run_usd_range[1], estimate(fixed).run_usd_range[1]],
        "to_launch": TO_LAUNCH is SMOKE, "max_usd": MAX_USD}""")
    assert "global_batch_size=128 must be a multiple of micro_batch_size × DP = 1 × 24; nearest valid: 96 | 120 | 144" \
        in r["error"]
    gbs, samples, dp = r["fixed"]
    assert dp == 24 and gbs % 24 == 0 and samples % gbs == 0
    assert r["workers"] == ["rollout", "train"] and r["overlap"] > 0  # rollout k+1 ran during training k
    # R and T are what the in-turn, one-core run measured (after warm-up), not another run's numbers
    assert r["workers_1core"] == ["colocated"] and [r["R"], r["T"]] == r["measured"]
    R, T = r["measured"]
    assert 1 < r["ideal"] <= 2 and r["ideal"] == pytest.approx((R + T) / max(R, T))
    # Three layouts: placement and schedule are separate choices.
    assert r["scripts"] == ["train.py", "train.py", "train_async.py"] and r["colocate"] == [True, False, False]
    assert r["cores"] >= 1
    # the measured speed-up is explained only when two one-thread workers could have produced it
    plausible, speedup, message, shown = r["reading"]
    assert speedup == pytest.approx(shown) and message in r["_outputs"]
    if plausible:
        assert 0.5 <= speedup <= min(2.5, 1.1 * r["ideal"]) and not message.startswith("⚠")
    else:
        assert message.startswith("⚠ **Warning: this machine was too busy to measure overlap**")
    assert "in turn, 2 cores" not in r["_outputs"]  # one torch thread per worker: no 2-thread run
    colo, split_sync, split_async = r["model"]
    assert split_async < split_sync  # overlapping never costs more than adding up the same phases
    assert PUBLISHED in r["_outputs"]
    rollouts, smoke_high, full_high = r["smoke"]
    assert r["to_launch"] and rollouts == 3 and smoke_high <= r["max_usd"] < full_high


def test_04_throughput_knobs(tmp_path):
    # 30 rollouts per group size, not 60: the gap asserted below is 0.59 vs 0.25 at 30 (measured),
    # and these two runs were the suite's longest test (600 s on a loaded 2-core machine)
    r = run_lesson("04_throughput_knobs", tmp_path, parameters={"LOCAL_ROLLOUTS": 30}, result="""{
        "token_cap": [p.severity for p in token_cap], "recompute": [p.rule for p in recompute],
        "group": [p.rule for p in group_of_one], "leftover": sorted({p.rule for p in leftover}),
        "heads": [p.rule for p in heads], "memory": [(p.rule, p.severity) for p in memory],
        "everything": len([p for p in everything.problems if p.severity == "error"]),
        "zero_std": [h.window_mean('rollout/zero_std_groups', last=True) for h in (small_groups, large_groups)],
        "packed": packed, "kv": list(kv.values()), "launch": "LAUNCH_ON_MODAL" in globals(), "peaks": peaks}""")
    assert r["token_cap"] == ["warning"]
    assert sorted(r["recompute"]) == ["memory_fits", "recompute_settings"] and r["group"] == ["group_needs_two_samples"]
    assert r["peaks"]["full"] < r["peaks"]["selective"] <= r["peaks"]["off"]  # recompute buys memory
    assert r["leftover"] == ["engine_fits_nodes", "engine_heads_divisible", "engines_use_all_rollout_gpus"]
    assert r["heads"] == ["engine_heads_divisible"]
    assert r["memory"] == [["memory_fraction_range", "warning"], ["memory_fraction_range", "error"]]
    assert r["everything"] >= 6
    small, large = r["zero_std"]
    assert large < small  # bigger groups: fewer groups where every answer scores the same
    assert r["packed"]["4608"] > r["packed"]["9216"] >= 1  # a smaller budget: more micro-batches
    assert r["kv"] == sorted(r["kv"]) and r["kv"][0] < r["kv"][-1]  # a bigger memory share holds more tokens
    assert r["launch"] is False  # no dead switch


def test_05_production_run(tmp_path):
    # 30 rollouts stopped after 15 (not 60 after 30): the stop lands 5 rollouts past the last
    # checkpoint (rollout 9), so the resume also drops and re-runs rollouts 10-14
    r = run_lesson("05_production_run", tmp_path, parameters={"LOCAL_ROLLOUTS": 30, "INTERRUPT_AT": 15}, result="""{
        "ids": [row["rollout_id"] for row in resumed.rows], "stopped": first_part.rows[-1]["rollout_id"],
        "evals": len(evals), "key_in_argv": "--wandb-key" in argv, "cluster": info.cluster_info.size,
        "panel_argv": panel.config.slime_argv() == run.slime_argv(),
        "usd": plan.usd_per_hour, "estimate": [perf.run_usd, *perf.run_usd_range],
        "hours": perf.run_hours, "rollouts": plan.num_rollout, "step_s": perf.step_seconds,
        "smoke": [SMOKE.num_rollout, estimate(SMOKE).run_usd_range[1], estimate(run).run_usd_range[1]],
        "to_launch": TO_LAUNCH is SMOKE, "max_usd": MAX_USD, "name": run.resolve().name,
        "smoke_name": SMOKE.resolve().name, "layout_usd": [row.usd for row in choice.table.rows],
        "split": not run.resolve().config.colocate, "passes": passes}""")
    assert r["ids"] == list(range(30)) and r["stopped"] == 14
    # the layout lessons 02-03 favour, for this run's work: the cheaper of colocated and split async
    colo_usd, split_usd = r["layout_usd"]
    assert r["split"] == (split_usd < colo_usd) and ("This run is split, async" in r["_outputs"]) == r["split"]
    # the smoke run is the same run (name, so volumes): the full run continues from its saves
    from gym.course import production_choice

    assert r["smoke_name"] == r["name"] == production_choice().run.resolve().name
    assert round(r["passes"]) in (25, 26) and "passes over GSM8K" in r["_outputs"]  # when to stop
    assert PUBLISHED in r["_outputs"]
    assert r["evals"] == 4 and r["key_in_argv"] is False  # before training, then after rollouts 9, 19, 29
    assert r["cluster"] == 4 and r["panel_argv"] is True
    usd, low, high = r["estimate"]
    assert 0 < low < usd < high
    assert usd == pytest.approx(r["hours"] * r["usd"])  # the price is the plan's, per hour
    # the hours are the run's rollouts at the per-rollout estimate (plus start-up under an hour)
    assert r["rollouts"] * r["step_s"] / 3600 <= r["hours"] < r["rollouts"] * r["step_s"] / 3600 + 1
    rollouts, smoke_high, full_high = r["smoke"]
    assert r["to_launch"] and rollouts == 3 and smoke_high <= r["max_usd"] < full_high


def test_06_use_the_model(tmp_path):
    r = run_lesson("06_use_the_model", tmp_path, """{
        "held_out": [before.accuracy, after.accuracy, [a.prompt for a in after.answers]],
        "practised": [practised_before.accuracy, practised_after.accuracy],
        "rollouts": len(history.rows), "weights": [before.weights, after.weights],
        "serve": [evaluate_info.gpus, serve_info.web_info is not None, serve_info.web_info.unauthenticated,
                  sorted(v.name for v in serve_info.volumes.values()), serving.bound_usd, MAX_USD],
        "launched": LAUNCH_ON_MODAL, "name": run.resolve().name, "evaluations": len(EVALUATIONS)}""")
    before, after, prompts = r["held_out"]
    assert sorted(prompts) == sorted(f"What is {a} + {b}?" for a, b in [(1, 3), (4, 2), (0, 4), (2, 3), (2, 1)])
    p_before, p_after = r["practised"]
    assert r["rollouts"] == 100 and r["weights"][0] == "before training" and "100 rollouts" in r["weights"][1]
    assert before <= 0.2 and p_before <= 0.2  # the starting weights answer (almost) nothing right
    assert p_after >= p_before + 0.4  # training taught the practised sums
    gpus, web, public, volumes, bound, max_usd = r["serve"]
    assert gpus == [["H100", 1]] and web and public is False  # one GPU, a web endpoint behind proxy auth
    assert any(v.endswith("-checkpoints") for v in volumes) and bound <= max_usd
    # the bound covers what the cell does: two evaluations (base, latest) and one serving session
    from gym.course import production_choice
    from gym.launch.serve import serve_bound_usd

    assert r["evaluations"] == 2 and bound == pytest.approx(serve_bound_usd(production_choice().run, evaluations=2))
    assert r["name"] == production_choice().run.resolve().name  # the run lesson 05 made
    # the sentence follows the numbers and states how many prompts they are
    assert f"{len(prompts)} held-out ones from {before:.0%} to {after:.0%}" in r["_outputs"]
    assert "mostly memorises" not in r["_outputs"]
    assert r["launched"] is False


def test_every_picture_renders_as_an_image_in_a_fresh_kernel(tmp_path):
    # Each gym.plots function (and History's, which use them) in a kernel that never imported
    # pyplot: IPython registers matplotlib's PNG formatter only when pyplot is imported, so a bare
    # Figure would show as the text "<Figure size 700x320 with 1 Axes>".
    cells = ["""
import random
from gym.models import Qwen3_4B
from gym.slime import SlimeConfig
from gym.local.history import History
config = SlimeConfig(model=Qwen3_4B(), num_nodes=2)
rows = [{"rollout_id": k, "rollout/raw_reward": k / 10, "train/loss": 1.0, "train/entropy_loss": 0.5,
         "train/grad_norm": 0.1, **({"eval/sums": 0.5} if k == 5 else {})} for k in range(10)]
spans = [{"worker": "colocated", "phase": p, "rollout_id": k, "start": 2 * k + (p == "train"),
          "end": 2 * k + 1 + (p == "train")} for k in range(10) for p in ("rollout", "train")]
history = History(rows=rows, timeline=spans)
lengths = [random.Random(0).randint(100, 3000) for _ in range(64)]
import sys
assert "matplotlib.pyplot" not in sys.modules
""", "from gym.plots import gpu_map\ngpu_map(config.plan())",
             "from gym.plots import scaling_chart\nscaling_chart(config)",
             "from gym.plots import memory_chart\nmemory_chart(config)",
             "from gym.plots import step_time_chart\nstep_time_chart([config])",
             "from gym.plots import packing_chart\npacking_chart(lengths, (9216, 4608), dp=16)",
             "history.reward_curve()", "history.loss_curves()", "history.timeline_chart()"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells[1:]:
        (out,) = [o for o in cell.outputs if o.output_type in ("execute_result", "display_data")]  # shown once
        assert out["data"]["image/png"], cell.source
        assert "<Figure size" not in out["data"]["text/plain"] and "gym picture" in out["data"]["text/plain"]


def markdown_of(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def code_of(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name, present, absent", [
    # 01: what the real run shows is not the rehearsal's rising reward
    ("01_quickstart", ["The reward starts high", "`rollout/truncated_ratio`", "`eval/gsm8k`"],
     ["Healthy progress, on this rehearsal and on the real run"]),
    # 02: the cluster size is num_nodes (slime's --actor-num-nodes counts training nodes only)
    ("02_scaling_nodes", ["`num_nodes=4`"], []),
    # 04: slime packs the whole step first-fit, aligns to DP, deals to ranks (slime/utils/dp_schedule.py)
    ("04_throughput_knobs", ["first-fit", "multiple of DP", "**deal**"],
     ["packed in order", "slime first counts"]),
    # 05: no Modal retries: the pipeline chains attempts; the defaults and when to stop
    ("05_production_run", ["pipeline chains attempts", "clip-higher", "KL off", "`lr` 1e-6", "Thinking mode",
                           "Truncation at the cap", "When to stop"], ["function has retries"]),
    # 06: 87.8% is Qwen3-4B-Base's; the bound covers both evaluations
    ("06_use_the_model", ["Qwen3-4B-Base", "evaluates **twice**"],
     ["gives the 4B base model 87.8%", "the bound is one evaluation plus"]),
])
def test_lesson_claims(name, present, absent):
    text = markdown_of(name)
    for phrase in present:
        assert phrase in text, phrase
    for phrase in absent:
        assert phrase not in text, phrase


def test_lesson_02_production_config_sets_num_nodes():
    code = code_of("02_scaling_nodes")
    assert "    num_nodes=4," in code and "    actor_num_nodes=4," not in code


def test_a_picture_shows_once_when_pyplot_is_imported_too(tmp_path):
    # with pyplot imported, IPython's inline backend registers its own PNG formatter for Figure
    # (it answers for a Picture, a Figure subclass); a Picture is not one of pyplot's open
    # figures, so nothing shows it again at the end of the cell
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nfrom gym.models import Qwen3_4B\nfrom gym.plots import gpu_map\n"
        "from gym.slime import SlimeConfig\ngpu_map(SlimeConfig(model=Qwen3_4B()).plan())")])
    NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o for o in nb.cells[0].outputs if o.output_type in ("execute_result", "display_data")]
    assert len(shown) == 1 and shown[0]["data"]["image/png"]
