"""Pictures as plain functions returning matplotlib Figures (usable without widgets).

Colours are chosen to read on light and dark notebook themes: mid-tone fills, no pure
black or white, and a transparent figure background.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

ROLE_COLORS = {"rollout": "#2f9e44", "train": "#1c7ed6", "update_weights": "#f08c00", "save": "#868e96",
               "eval": "#ae3ec9", "idle": "#adb5bd"}
"""Phase/role -> colour, shared by every picture."""


PNG_DPI = 100
"""Pixels per inch of a picture shown in a notebook (matplotlib's default figure.dpi, as IPython's
inline backend uses): a 7 × 3.2 in picture is 700 × 320 px."""


@functools.cache
def _picture_class():
    """matplotlib's Figure, able to show itself as an image (built on first use: `import gym.plots`
    stays free of matplotlib).

    A bare Figure has no image representation of its own: IPython renders one as a PNG only once
    pyplot has been imported (its inline backend registers a formatter for Figure then), and shows
    the text `<Figure size 700x320 with 1 Axes>` in a fresh kernel. A Picture carries `_repr_png_`,
    which every IPython-based kernel (Jupyter, VS Code, Modal Notebooks) asks for whatever was
    imported; where pyplot's formatter is registered it answers instead, with the same PNG, once.
    It never joins pyplot's list of open figures, so nothing shows it a second time at the end of
    the cell. Its text form names the picture instead of its size."""
    from matplotlib.figure import Figure

    class Picture(Figure):
        def _repr_png_(self) -> bytes:
            import io

            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=PNG_DPI, bbox_inches="tight")
            return buf.getvalue()

        def __repr__(self) -> str:
            titles = [t for t in [self._suptitle.get_text() if self._suptitle else ""]
                      + [ax.get_title() for ax in self.axes] if t]
            return f"<gym picture: {'; '.join(titles) or 'untitled'}>"

    Picture.__module__, Picture.__qualname__ = __name__, "Picture"
    return Picture


def _figure(width: float = 7.0, height: float = 3.2):
    # A Figure without pyplot (no global state, no GUI backend) that shows itself as a PNG.
    fig = _picture_class()(figsize=(width, height), layout="constrained")
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


def _curve(ax, history, key: str, color: str, window: int) -> None:
    """One metric per rollout (faint) and its moving average over `window` rollouts."""
    ids = [row["rollout_id"] for row in history.rows if key in row]
    values = history.metric(key)
    ax.plot(ids, values, color=color, alpha=0.35, lw=1, label=key)
    if values:
        smooth = [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
                  for i in range(len(values))]
        ax.plot(ids, smooth, color=color, lw=2.2, label=f"moving average ({window})")
    ax.set_xlabel("rollout")


def reward_curve(history, key: str = "rollout/raw_reward", window: int = 10):
    """Reward per rollout, its moving average over `window` rollouts, and eval points."""
    fig = _figure()
    ax = fig.add_subplot()
    _curve(ax, history, key, ROLE_COLORS["rollout"], window)
    evals = [(row["rollout_id"], v) for row in history.rows for k, v in row.items() if k.startswith("eval/")]
    if evals:
        ax.scatter(*zip(*evals), color=ROLE_COLORS["eval"], zorder=3, label="eval")
    ax.set_ylabel("reward")
    ax.set_title(f"{history.name}: reward")
    ax.legend(frameon=False, labelcolor="#868e96", fontsize=8)
    _style(ax)
    return fig


def loss_curves(history, keys=("train/loss", "train/entropy_loss", "train/grad_norm"), window: int = 10):
    """Training metrics per rollout, one panel each (moving averages over `window` rollouts)."""
    fig = _figure(width=3.0 * len(keys), height=2.6)
    for ax, key in zip(fig.subplots(1, len(keys), squeeze=False)[0], keys):
        _curve(ax, history, key, ROLE_COLORS["train"], window)
        ax.set_title(key, fontsize=9)
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


@dataclass(frozen=True)
class Box:
    """A rectangle of the GPU map in grid units: x in GPUs (0..gpus_per_node), y in nodes (node 0 on top)."""

    x: float
    y: float
    w: float
    h: float
    color: str
    fill: bool = True
    dashed: bool = False
    label: str = ""


def gpu_layout(plan) -> list[Box]:
    """What the GPU map draws, renderer-independent: one or two filled boxes per GPU (its role),
    dashed outlines around model-parallel groups (TP × CP neighbours, Megatron's rank order),
    solid outlines around SGLang engines. Training GPUs are labelled with their DP rank."""
    gpn, nodes = plan.gpus_per_node, plan.num_nodes
    if plan.colocate:
        roles = ["both"] * plan.cluster_gpus
    else:
        roles = ["train"] * plan.train_gpus + ["rollout"] * plan.rollout_gpus
        roles += ["idle"] * (plan.cluster_gpus - len(roles))
    replica = plan.tp * plan.cp

    def at(g):
        return g % gpn, nodes - 1 - g // gpn

    def spans(start, size):  # a run of GPUs, split at node boundaries
        for g in range(start, start + size):
            if g == start or g % gpn == 0:
                x, y = at(g)
                yield x, y, min(start + size - g, gpn - x)

    boxes = []
    for g, role in enumerate(roles):
        x, y = at(g)
        label = ""
        if role in ("train", "both") and plan.dp and g < plan.train_gpus:
            label = f"d{(g // replica) % plan.dp}" + (f" p{g // (replica * plan.dp)}" if plan.pp > 1 else "")
        if role == "both":
            boxes.append(Box(x + 0.06, y + 0.5, 0.88, 0.44, ROLE_COLORS["rollout"]))
            boxes.append(Box(x + 0.06, y + 0.06, 0.88, 0.44, ROLE_COLORS["train"], label=label))
        else:
            boxes.append(Box(x + 0.06, y + 0.06, 0.88, 0.88, ROLE_COLORS[role], label=label))
    if plan.dp and replica > 1:
        for start in range(0, plan.train_gpus, replica):
            boxes += [Box(x + 0.03, y + 0.03, w - 0.06, 0.94, "#1864ab", fill=False, dashed=True)
                      for x, y, w in spans(start, replica)]
    first = 0 if plan.colocate else plan.train_gpus
    for e in range(plan.rollout_engines):
        boxes += [Box(x + 0.01, y + 0.01, w - 0.02, 0.98, ROLE_COLORS["rollout"], fill=False)
                  for x, y, w in spans(first + e * plan.engine_gpus, plan.engine_gpus)]
    return boxes


def _map_title(plan) -> str:
    layout = ("colocated: every GPU trains and rolls out, in turns" if plan.colocate else
              f"{plan.train_gpus} training + {plan.rollout_gpus} rollout GPUs")
    return (f"{plan.num_nodes} × {plan.gpus_per_node} {plan.gpu_type}: {layout}; DP {plan.dp or '?'}, "
            f"{plan.rollout_engines} engine(s) of {plan.engine_gpus}")


MAP_LEGEND = (("train", "training (Megatron)"), ("rollout", "rollout (SGLang)"), ("idle", "idle"))


def gpu_map(plan):
    """matplotlib Figure of the cluster: nodes × GPUs coloured by role (see gpu_layout)."""
    from matplotlib.patches import Patch, Rectangle

    fig = _figure(width=1.2 + 0.62 * plan.gpus_per_node, height=1.2 + 0.55 * plan.num_nodes)
    ax = fig.add_subplot()
    for b in gpu_layout(plan):
        ax.add_patch(Rectangle((b.x, b.y), b.w, b.h, fill=b.fill, color=b.color if b.fill else None,
                               ec=None if b.fill else b.color, lw=0 if b.fill else 1.5, ls="--" if b.dashed else "-"))
        if b.label:
            ax.text(b.x + b.w / 2, b.y + b.h / 2, b.label, ha="center", va="center", fontsize=7, color="white",
                    weight="bold")
    ax.set_xlim(-0.05, plan.gpus_per_node + 0.05)
    ax.set_ylim(-0.05, plan.num_nodes + 0.05)
    ax.set_yticks([plan.num_nodes - 0.5 - i for i in range(plan.num_nodes)],
                  [f"node {i}" for i in range(plan.num_nodes)])
    ax.set_xticks([i + 0.5 for i in range(plan.gpus_per_node)], [f"GPU {i}" for i in range(plan.gpus_per_node)])
    ax.tick_params(length=0, colors="#868e96", labelsize=8)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_facecolor("none")
    ax.set_title(_map_title(plan), fontsize=9, color="#868e96")
    ax.legend(handles=[Patch(color=ROLE_COLORS[k], label=v) for k, v in MAP_LEGEND[:2]], frameon=False, fontsize=8,
              labelcolor="#868e96", ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return fig


def gpu_map_svg(plan, cell_px: int = 44) -> str:
    """The same map as an SVG string (what the control panel redraws on every change: ~1 ms)."""
    from html import escape

    w, h = plan.gpus_per_node * cell_px, plan.num_nodes * cell_px
    left, top = 56, 22
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + left + 4}" height="{h + top + 24}" '
           f'font-family="sans-serif" font-size="10"><text x="0" y="13" fill="#868e96">{escape(_map_title(plan))}</text>']
    for i in range(plan.num_nodes):
        out.append(f'<text x="0" y="{top + (i + 0.55) * cell_px}" fill="#868e96">node {i}</text>')
    for b in gpu_layout(plan):
        x, y = left + b.x * cell_px, top + (plan.num_nodes - b.y - b.h) * cell_px
        style = (f'fill="{b.color}"' if b.fill else
                 f'fill="none" stroke="{b.color}" stroke-width="2"' + (' stroke-dasharray="4 3"' if b.dashed else ""))
        out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{b.w * cell_px:.1f}" height="{b.h * cell_px:.1f}" '
                   f'rx="3" {style}/>')
        if b.label:
            out.append(f'<text x="{x + b.w * cell_px / 2:.1f}" y="{y + b.h * cell_px / 2 + 3.5:.1f}" fill="white" '
                       f'font-weight="bold" text-anchor="middle">{escape(b.label)}</text>')
    legend_y = top + h + 16
    for k, (role, text) in enumerate(MAP_LEGEND[:2]):
        out.append(f'<rect x="{left + k * 150}" y="{legend_y - 9}" width="10" height="10" fill="{ROLE_COLORS[role]}"/>'
                   f'<text x="{left + k * 150 + 14}" y="{legend_y}" fill="#868e96">{text}</text>')
    out.append("</svg>")
    return "".join(out)


def scaling_chart(config, nodes=(1, 2, 4, 8)):
    """How the plan changes with the cluster size: data parallelism, samples per optimizer step,
    steps per rollout and price per hour, for each node count that validates."""
    from gym.errors import ConfigError

    plans = []
    for n in nodes:
        try:
            plans.append(config.replace(num_nodes=n).plan())
        except ConfigError:
            continue
    fig = _figure(width=8.0, height=2.6)
    axes = fig.subplots(1, 4)
    series = [("data parallel (DP)", lambda p: p.dp or 0), ("samples per step", lambda p: p.global_batch_size),
              ("steps per rollout", lambda p: p.steps_per_rollout), ("$ per hour", lambda p: p.usd_per_hour)]
    xs = [p.num_nodes for p in plans]
    for ax, (title, fn) in zip(axes, series):
        ax.bar([str(x) for x in xs], [fn(p) for p in plans], color=ROLE_COLORS["train"], alpha=0.85)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("nodes", fontsize=8)
        _style(ax)
    return fig


def packing_chart(lengths, budgets, dp: int, cp: int = 1):
    """One optimizer step's samples as slime schedules them with dynamic batching
    (gym.slime.packing.dp_schedule), one panel per token budget: a column per DP rank, its
    micro-batches side by side, each a stack of its samples' tokens; the dashed line is the budget."""
    from gym.slime.packing import dp_schedule

    budgets = list(budgets)
    fig = _figure(width=4.5 * len(budgets), height=2.8)
    axes = fig.subplots(1, len(budgets), squeeze=False, sharey=True)[0]
    for ax, budget in zip(axes, budgets):
        ranks = dp_schedule(lengths, budget, dp, cp)
        per_rank = len(ranks[0])
        width = 0.8 / per_rank
        for r, micro_batches in enumerate(ranks):
            for m, mb in enumerate(micro_batches):
                bottom = 0
                for i in mb:
                    ax.bar(r - 0.4 + (m + 0.5) * width, lengths[i], width=width * 0.92, bottom=bottom,
                           color=ROLE_COLORS["train"] if m % 2 == 0 else "#74c0fc", edgecolor="white", linewidth=0.4)
                    bottom += lengths[i]
        ax.axhline(budget * cp, color="#e03131", ls="--", lw=1)
        ax.set_title(f"max_tokens_per_gpu={budget}: {per_rank} micro-batch{'es' if per_rank > 1 else ''} per rank",
                     fontsize=9)
        ax.set_xlabel(f"DP rank (of {dp})", fontsize=8)
        ax.set_xticks(range(dp), [str(r) if dp <= 16 else "" for r in range(dp)], fontsize=7)
        _style(ax)
    axes[0].set_ylabel("tokens")
    return fig


# ---- Performance model (gym.perf) ----------------------------------------------------------------

MEMORY_COLORS = {"weights": "#1c7ed6", "grads": "#4dabf7", "optimizer": "#a5d8ff", "activations": "#f08c00",
                 "logits": "#e8590c", "reference": "#ae3ec9", "overhead": "#868e96", "kv_cache": "#2f9e44",
                 "cuda_graphs": "#8ce99a"}
"""Memory part -> colour (training parts in blues/oranges, SGLang's in greens)."""
PHASE_COLORS = {"generate": ROLE_COLORS["rollout"], "log_probs": "#74c0fc", "train": ROLE_COLORS["train"],
                "update_weights": ROLE_COLORS["update_weights"], "switch": "#adb5bd"}


def _estimate(config):
    from gym.perf import PerfEstimate, estimate

    return config if isinstance(config, PerfEstimate) else estimate(config)


def memory_chart(config):
    """Memory per GPU, part by part, for training and for rollout, against the GPU's capacity
    (solid line) and the 90% warning level (dotted). Accepts a SlimeConfig or a PerfEstimate."""
    from gym.perf import PEAK_WARNING_SHARE

    e = _estimate(config)
    fig = _figure(width=7.0, height=2.8)
    ax = fig.subplots()
    rows = [("rollout GPU", e.rollout_memory), ("training GPU", e.train_memory)]
    seen = set()
    for y, (label, parts) in enumerate(rows):
        left = 0.0
        for name, gib in parts.items():
            if gib <= 0:
                continue
            ax.barh(y, gib, left=left, color=MEMORY_COLORS.get(name, "#adb5bd"), height=0.6,
                    label=None if name in seen else name)
            seen.add(name)
            left += gib
        ax.text(left, y, f" {left:.0f} GiB", va="center", fontsize=8, color="#868e96")
    ax.axvline(e.gpu_memory_gib, color="#e03131", lw=1.5)
    ax.axvline(PEAK_WARNING_SHARE * e.gpu_memory_gib, color="#e03131", lw=1, ls=":")
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=8)
    ax.set_xlabel(f"GiB per GPU (capacity {e.gpu_memory_gib:.0f} GiB)", fontsize=8)
    ax.set_xlim(0, max(e.gpu_memory_gib, e.train_memory_gib, e.rollout_memory_gib) * 1.15)
    ax.legend(fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False,
              labelcolor="#868e96")
    ax.set_title(f"memory per GPU: {'fits' if e.fits else 'does not fit'}", fontsize=9)
    _style(ax)
    return fig


def _config_label(config) -> str:
    r = config.resolve()
    return f"{r.model.short_name} {r.layout.num_nodes}n {'colo' if r.layout.colocate else 'split'}"


def step_time_chart(configs, labels=None):
    """Seconds per rollout by phase, one bar per config. Colocated phases add up; split layouts
    overlap generation (upper half) with training (lower half), so the longer side sets the pace."""
    from gym.perf import PHASES, estimate

    configs = list(configs)
    estimates = [estimate(c) for c in configs]
    labels = list(labels) if labels is not None else [_config_label(c) for c in configs]
    fig = _figure(width=7.0, height=0.5 + 0.45 * len(configs) + 0.5)
    ax = fig.subplots()
    seen = set()
    for y, (c, e) in enumerate(zip(configs, estimates)):
        colocate = c.resolve().layout.colocate
        lanes = ([(y, 0.6, PHASES)] if colocate else
                 [(y - 0.15, 0.3, ("generate",)), (y + 0.15, 0.3, ("log_probs", "train", "update_weights"))])
        for center, height, names in lanes:
            left = 0.0
            for name in names:
                sec = e.phases[name]
                if sec <= 0:
                    continue
                ax.barh(center, sec, left=left, height=height, color=PHASE_COLORS[name],
                        label=None if name in seen else name.replace("_", " "))
                seen.add(name)
                left += sec
        ax.text(e.step_seconds, y, f" {e.step_seconds:.0f} s", va="center", fontsize=8, color="#868e96")
    ax.set_yticks(range(len(configs)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per rollout (colocated: phases add; split: generation overlaps training)", fontsize=8)
    ax.set_xlim(0, max(e.step_seconds for e in estimates) * 1.2)
    ax.legend(fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.35), frameon=False,
              labelcolor="#868e96")
    _style(ax)
    return fig


def _bar_svg(title: str, parts: dict[str, float], colors: dict[str, str], scale: float, unit: str,
             marks: tuple[float, ...] = (), width: int = 380) -> str:
    """One stacked bar as inline SVG (the control panel redraws it on every change: no matplotlib)."""
    out = [f'<div style="font-size:12px;color:#868e96">{title}</div>'
           f'<svg width="{width}" height="34" style="display:block">']
    x = 0.0
    for name, value in parts.items():
        w = max(value, 0.0) / scale * width
        if w < 0.5:
            continue
        out.append(f'<rect x="{x:.1f}" y="2" width="{w:.1f}" height="16" fill="{colors.get(name, "#adb5bd")}">'
                   f'<title>{name}: {value:.1f} {unit}</title></rect>')
        x += w
    for m in marks:
        mx = min(m / scale * width, width - 1)
        out.append(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="0" y2="20" stroke="#e03131" stroke-width="1.5"/>')
    legend = " · ".join(f'<tspan fill="{colors.get(k, "#adb5bd")}">■</tspan> {k} {v:.0f}'
                        for k, v in parts.items() if v >= 0.5)
    out.append(f'<text x="0" y="31" font-size="10" fill="#868e96">{legend}</text></svg>')
    return "".join(out)


def perf_summary_html(e) -> str:
    """Compact memory and step-time bars of one PerfEstimate, as HTML (for the control panel)."""
    cap = e.gpu_memory_gib
    scale = max(cap, e.train_memory_gib, e.rollout_memory_gib) * 1.02
    lo, hi = e.step_seconds_range
    return (_bar_svg(f"training GPU: {e.train_memory_gib:.1f} of {cap:.0f} GiB", e.train_memory, MEMORY_COLORS,
                     scale, "GiB", (cap,))
            + _bar_svg(f"rollout GPU: {e.rollout_memory_gib:.1f} of {cap:.0f} GiB; KV {e.kv_cache_tokens:,} tokens",
                       e.rollout_memory, MEMORY_COLORS, scale, "GiB", (cap,))
            + _bar_svg(f"seconds per rollout: ~{e.step_seconds:.0f} ({lo:.0f}–{hi:.0f})", e.phases, PHASE_COLORS,
                       max(sum(e.phases.values()), e.step_seconds) * 1.02, "s"))
