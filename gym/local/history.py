"""History: what a local run recorded, read back from its folder, with summaries and plots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


@dataclass
class History:
    """Per-rollout metrics (`rows`, slime's metric names) and phase spans (`timeline`) of a run."""

    rows: list[dict]
    """One dict per rollout: rollout_id, rollout/raw_reward, train/loss, perf/step_time, …"""
    timeline: list[dict] = field(default_factory=list)
    """One dict per phase: worker, phase (rollout/train/update_weights/save/eval), rollout_id, start, end (s)."""
    run_dir: Path | None = None

    @classmethod
    def load(cls, run_dir: str | Path) -> History:
        run_dir = Path(run_dir)
        return cls(_read_jsonl(run_dir / "metrics.jsonl"), _read_jsonl(run_dir / "timeline.jsonl"), run_dir)

    @property
    def name(self) -> str:
        return self.run_dir.name if self.run_dir else "run"

    def metric(self, key: str) -> list[float]:
        """Values of one metric, in rollout order (rollouts without it are skipped)."""
        return [row[key] for row in self.rows if key in row]

    def window_mean(self, key: str = "rollout/raw_reward", fraction: float = 0.1, last: bool = False) -> float:
        """Mean of a metric over the first (or last) `fraction` of rollouts (at least one)."""
        values = self.metric(key)
        if not values:
            return float("nan")
        k = max(1, round(len(values) * fraction))
        window = values[-k:] if last else values[:k]
        return sum(window) / len(window)

    def phase_seconds(self) -> dict[str, float]:
        """Total seconds spent per phase (rollout, train, …) over the run."""
        totals: dict[str, float] = {}
        for s in self.timeline:
            totals[s["phase"]] = totals.get(s["phase"], 0.0) + s["end"] - s["start"]
        return totals

    def wall_seconds(self) -> float:
        """From the first phase's start to the last phase's end."""
        if not self.timeline:
            return 0.0
        return max(s["end"] for s in self.timeline) - min(s["start"] for s in self.timeline)

    def summary(self) -> str:
        first, last = self.window_mean(), self.window_mean(last=True)
        return (f"{self.name}: {len(self.rows)} rollouts, reward {first:.2f} (first 10%) -> {last:.2f} (last 10%), "
                f"{self.wall_seconds():.0f} s")

    def reward_curve(self, **kwargs):
        """matplotlib Figure: reward per rollout (and its moving average), eval points if any."""
        from gym.plots import reward_curve

        return reward_curve(self, **kwargs)

    def loss_curves(self, **kwargs):
        """matplotlib Figure: train/loss, entropy and grad norm per rollout."""
        from gym.plots import loss_curves

        return loss_curves(self, **kwargs)

    def timeline_chart(self, **kwargs):
        """matplotlib Figure: a Gantt chart of rollout vs train phases per worker."""
        from gym.plots import timeline

        return timeline(self, **kwargs)

    def _repr_html_(self) -> str:
        return f"<b>History</b> {self.summary()}"
