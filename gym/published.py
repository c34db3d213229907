"""Published step times of GRPO runs, to show beside the performance model's hours and dollars.

Where a lesson quotes seconds, hours or dollars from `gym.perf.estimate`, it shows these next to
them, each labelled with its source, with the model's own estimate of that published run: a
learner sees how far the model is from a measurement, not only the model. The rows are rows 3 and
7 of ../shared/reference/perf-calibration.md (the course's reference of public measurements), the
two closest to the lessons' run (Qwen3, one 8-GPU node, slime or a slime fork, colocated); their
mapping to a SlimeConfig is gym.perf.calibration's (the one scripts/calibrate_perf.py prints).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    source: str
    """Where it was published (repository and issue or PR)."""
    what: str
    """The run, in words: model, hardware, batch, lengths."""
    seconds: float
    """Measured seconds per step (= per rollout: one rollout, then its training)."""
    row: str
    """Its row in gym.perf.calibration, which holds the one mapping of the run to a SlimeConfig."""

    def slime_config(self):
        from gym.perf import calibration

        return {"3": calibration.row_3_config, "7": calibration.row_7_config}[self.row]()

    @property
    def mean_response_tokens(self) -> int | None:
        """The measured mean response length, when published (else gym's default assumption)."""
        from gym.perf import calibration

        return calibration.ROW_7_MEAN_RESPONSE if self.row == "7" else None

    def estimate(self):
        from gym.perf import estimate

        return estimate(self.slime_config(), mean_response_tokens=self.mean_response_tokens)


STEP_TIMES = (
    Published("redai-studio/Relax#152", "Qwen3-VL-4B (its Qwen3-4B text model), 1 × 8 H200, colocated, "
              "64 prompts × 8, one optimizer step of 512, train TP 2, KL reference pass, mean response 1,363 "
              "tokens (max 9,324)", 115.6, row="7"),
    Published("modal-projects/training-gym PR#191", "Qwen3-0.6B, 1 × 8 H100, slime colocated, 24 prompts × 8, "
              "responses ≤ 4,096 tokens (its second step)", 26.0, row="3"),
)
"""Published seconds per step, closest first to the lessons' Qwen3-4B run."""


def beside_markdown() -> str:
    """A Markdown table: each published step time, its source, and the model's estimate of the same run."""
    rows = []
    for p in STEP_TIMES:
        e = p.estimate()
        rows.append(f"| {p.what} | **{p.seconds:g} s** ({p.source}) | {e.step_seconds:.0f} s "
                    f"({e.step_seconds / p.seconds:.2f}×) |")
    return ("Published, for scale (measured step times, each with its source, beside the model's estimate of "
            "the same run):\n\n| published run | measured per step | model |\n|---|---|---|\n" + "\n".join(rows))
