"""Pictures as plain functions returning matplotlib Figures (usable without widgets).

Colours are chosen to read on light and dark notebook themes: mid-tone fills, no pure
black or white, and a transparent figure background.
"""

from __future__ import annotations

ROLE_COLORS = {"rollout": "#2f9e44", "train": "#1c7ed6", "update_weights": "#f08c00", "save": "#868e96",
               "eval": "#ae3ec9", "idle": "#adb5bd"}
"""Phase/role -> colour, shared by every picture."""


def _figure(width: float = 7.0, height: float = 3.2):
    # A bare Figure (no pyplot): no global state, no GUI backend; notebooks display it inline.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    fig.patch.set_alpha(0.0)
    return fig


def _style(ax) -> None:
    ax.set_facecolor("none")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#868e96")
    ax.tick_params(colors="#868e96")
    ax.xaxis.label.set_color("#868e96")
    ax.yaxis.label.set_color("#868e96")
    ax.title.set_color("#868e96")
    ax.grid(alpha=0.25)


def reward_curve(history, key: str = "rollout/raw_reward", window: int = 10):
    """Reward per rollout, its moving average over `window` rollouts, and eval points."""
    fig = _figure()
    ax = fig.add_subplot()
    ids = [row["rollout_id"] for row in history.rows if key in row]
    values = history.metric(key)
    ax.plot(ids, values, color=ROLE_COLORS["rollout"], alpha=0.35, lw=1, label=key)
    if values:
        smooth = [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
                  for i in range(len(values))]
        ax.plot(ids, smooth, color=ROLE_COLORS["rollout"], lw=2.2, label=f"moving average ({window})")
    evals = [(row["rollout_id"], v) for row in history.rows for k, v in row.items() if k.startswith("eval/")]
    if evals:
        ax.scatter(*zip(*evals), color=ROLE_COLORS["eval"], zorder=3, label="eval")
    ax.set_xlabel("rollout")
    ax.set_ylabel("reward")
    ax.set_title(f"{history.name}: reward")
    ax.legend(frameon=False, labelcolor="#868e96", fontsize=8)
    _style(ax)
    return fig


def timeline(history, last: int | None = 12):
    """Gantt chart: one lane per worker, a bar per phase, for the last `last` rollouts."""
    spans = history.timeline
    if last is not None and spans:
        cutoff = max(s["rollout_id"] for s in spans) - last + 1
        spans = [s for s in spans if s["rollout_id"] >= cutoff]
    workers = sorted({s["worker"] for s in spans}, key=lambda w: {"rollout": 0, "colocated": 0, "train": 1}.get(w, 2))
    fig = _figure(height=1.0 + 0.6 * max(1, len(workers)))
    ax = fig.add_subplot()
    t0 = min((s["start"] for s in spans), default=0.0)
    for lane, worker in enumerate(workers):
        for s in (s for s in spans if s["worker"] == worker):
            ax.barh(lane, s["end"] - s["start"], left=s["start"] - t0, height=0.6,
                    color=ROLE_COLORS.get(s["phase"], "#adb5bd"), edgecolor="none")
    ax.set_yticks(range(len(workers)), workers)
    ax.set_xlabel("seconds")
    ax.set_title(f"{history.name}: what each worker did")
    from matplotlib.patches import Patch

    handles = [Patch(color=ROLE_COLORS[p], label=p) for p in sorted({s["phase"] for s in spans}) if p in ROLE_COLORS]
    ax.legend(handles=handles, frameon=False, labelcolor="#868e96", fontsize=8, ncol=len(handles),
              loc="upper center", bbox_to_anchor=(0.5, -0.35))
    _style(ax)
    return fig
