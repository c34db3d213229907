"""The lessons: in sync with their sources, committed without outputs, and executed top to bottom
by nbclient on their default (tiny, local, free) parameters (04 and 05 with shorter local runs),
asserting on what each one teaches."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_lessons_exist():
    assert LESSONS == ["01_quickstart", "02_scaling_nodes", "03_colocation", "04_throughput_knobs",
                       "05_production_run"]


def test_pairs_in_sync_and_without_outputs():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_notebooks.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_structure(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "LAUNCH_ON_MODAL = False" in tagged[0].source
    assert "https://modal.com/notebooks/new/" in nb.cells[0].source and f"notebooks/{name}.ipynb" in nb.cells[0].source
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "except ImportError" in first_code.source and "pip" in first_code.source
    for section in ("What you will learn", "What a real run needs", "What to watch"):
        assert section in nb.cells[0].source


def run_lesson(name: str, tmp_path: Path, result: str, parameters: dict | None = None) -> dict:
    """Execute the committed .ipynb, then evaluate `result` (a Python expression) in its kernel.

    `parameters` overrides values of the lesson's `parameters` cell, in a cell right after it (as
    papermill injects them): shorter local runs where the length is not what the lesson shows.
    """
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    if parameters:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items())))
    nb.cells.append(nbformat.v4.new_code_cell(f"import json\nprint('RESULT' + json.dumps({result}))"))
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return json.loads(text.split("RESULT", 1)[1])


def test_01_quickstart(tmp_path):
    r = run_lesson("01_quickstart", tmp_path, """{
        "nodes": plan.num_nodes, "dp": plan.dp, "steps": plan.steps_per_rollout, "colocate": plan.colocate,
        "first": history.window_mean(), "last": history.window_mean(last=True), "rollouts": len(history.rows),
        "boxed": [math_reward(x, '72') for x in ("\\\\boxed{72}", "72")], "launched": LAUNCH_ON_MODAL}""")
    assert (r["nodes"], r["dp"], r["colocate"]) == (1, 8, True)
    assert r["steps"] == 4 and r["boxed"] == [1, 0] and r["launched"] is False
    assert r["rollouts"] == 120 and r["last"] >= 0.5 and r["last"] >= 3 * r["first"]  # reward rising


def test_02_scaling_nodes(tmp_path):
    r = run_lesson("02_scaling_nodes", tmp_path, """{
        "table": {n: [p.dp, p.global_batch_size, p.num_rollout, p.cluster_gpus] for n, p in plans.items()},
        "split": [split_plan.train_gpus, split_plan.rollout_gpus, split_plan.train_script],
        "production": [production.samples_per_rollout, production.steps_per_rollout, production.dp],
        "cluster": train_info.cluster_info.size, "generations": GSM8K_TRAIN_PROMPTS * n}""")
    assert r["table"] == {"1": [8, 16, 50, 8], "2": [16, 64, 200, 16], "4": [32, 128, 3000, 32]}  # the seed's table
    assert r["split"] == [24, 8, "train_async.py"]
    assert r["production"] == [512, 4, 32] and r["cluster"] == 4
    assert r["generations"] == 59784


def test_03_colocation(tmp_path):
    r = run_lesson("03_colocation", tmp_path, """{
        "error": str(error), "fixed": [fixed_plan.global_batch_size, fixed_plan.samples_per_rollout,
                                        fixed_plan.dp],
        "workers": sorted({s["worker"] for s in split11.timeline}),
        "overlap": sum(1 for a in split11.timeline for b in split11.timeline
                       if a["worker"] == "rollout" and b["worker"] == "train" and a["start"] < b["end"]
                       and b["start"] < a["end"]),
        "R": R, "T": T, "ideal": ideal, "scripts": [c.train_script, s.train_script],
        "measured": [statistics.median(turn1.metric(k)[WARMUP:]) for k in ("perf/rollout_time", "perf/train_time")],
        "workers_1core": sorted({s["worker"] for s in turn1.timeline})}""")
    assert "global_batch_size=128 must be a multiple of micro_batch_size × DP = 1 × 24; nearest valid: 96 | 120 | 144" \
        in r["error"]
    gbs, samples, dp = r["fixed"]
    assert dp == 24 and gbs % 24 == 0 and samples % gbs == 0
    assert r["workers"] == ["rollout", "train"] and r["overlap"] > 0  # rollout k+1 ran during training k
    # R and T are what the in-turn, one-core run measured (after warm-up), not another run's numbers
    assert r["workers_1core"] == ["colocated"] and [r["R"], r["T"]] == r["measured"]
    R, T = r["measured"]
    assert 1 < r["ideal"] <= 2 and r["ideal"] == pytest.approx((R + T) / max(R, T))
    assert r["scripts"] == ["train.py", "train_async.py"]


def test_04_throughput_knobs(tmp_path):
    # 30 rollouts per group size, not 60: the gap asserted below is 0.59 vs 0.25 at 30 (measured),
    # and these two runs were the suite's longest test (600 s on a loaded 2-core machine)
    r = run_lesson("04_throughput_knobs", tmp_path, parameters={"LOCAL_ROLLOUTS": 30}, result="""{
        "token_cap": [p.severity for p in token_cap], "recompute": [p.rule for p in recompute],
        "group": [p.rule for p in group_of_one], "leftover": sorted({p.rule for p in leftover}),
        "heads": [p.rule for p in heads], "memory": [(p.rule, p.severity) for p in memory],
        "everything": len([p for p in everything.problems if p.severity == "error"]),
        "zero_std": [h.window_mean('rollout/zero_std_groups', last=True) for h in (small_groups, large_groups)]}""")
    assert r["token_cap"] == ["warning"]
    assert r["recompute"] == ["recompute_settings"] and r["group"] == ["group_needs_two_samples"]
    assert r["leftover"] == ["engine_fits_nodes", "engine_heads_divisible", "engines_use_all_rollout_gpus"]
    assert r["heads"] == ["engine_heads_divisible"]
    assert r["memory"] == [["memory_fraction_range", "warning"], ["memory_fraction_range", "error"]]
    assert r["everything"] >= 6
    small, large = r["zero_std"]
    assert large < small  # bigger groups: fewer groups where every answer scores the same


def test_05_production_run(tmp_path):
    # 30 rollouts stopped after 15 (not 60 after 30): the stop now lands 5 rollouts past the last
    # checkpoint (rollout 9), so the resume also drops and re-runs rollouts 10-14
    r = run_lesson("05_production_run", tmp_path, parameters={"LOCAL_ROLLOUTS": 30, "INTERRUPT_AT": 15}, result="""{
        "ids": [row["rollout_id"] for row in resumed.rows], "stopped": first_part.rows[-1]["rollout_id"],
        "evals": len(evals), "key_in_argv": "--wandb-key" in argv, "cluster": info.cluster_info.size,
        "retries": info.max_retries, "panel_argv": panel.config.slime_argv() == run.slime_argv(),
        "usd": plan.usd_per_hour, "estimate": list(estimate.usd), "hours": list(estimate.hours),
        "rollouts": plan.num_rollout, "step_s": list(estimate.step_seconds)}""")
    assert r["ids"] == list(range(30)) and r["stopped"] == 14
    assert r["evals"] == 4 and r["key_in_argv"] is False  # before training, then after rollouts 9, 19, 29
    assert r["cluster"] == 4 and r["retries"] >= 1 and r["panel_argv"] is True
    (low, high), (h0, h1), (s0, s1) = r["estimate"], r["hours"], r["step_s"]
    assert 0 < low < high
    assert (low, high) == pytest.approx((h0 * r["usd"], h1 * r["usd"]))  # the price is the plan's, per hour
    # the hours are the run's rollouts at the per-rollout estimate (plus start-up under an hour)
    assert r["rollouts"] * s0 / 3600 <= h0 < r["rollouts"] * s0 / 3600 + 1
    assert r["rollouts"] * s1 / 3600 <= h1 < r["rollouts"] * s1 / 3600 + 1
