"""ControlPanel: a SlimeConfig you can turn knobs on, with its plan, map and price, and a launcher.

    from gym.widgets import ControlPanel
    panel = ControlPanel(gym.tiny_config())
    panel            # display it; panel.config is the current SlimeConfig

Every change rebuilds the config (the original is never modified), re-validates it, and updates
the problems (each with one-click fixes), the plan table, the GPU map, the price and run
estimate, and the equivalent Python code, in place. Launch runs the chosen backend: local
(streams progress and the reward curve; a relaunch stops the previous run first, waiting in the
background, never blocking the kernel) or Modal
(detached; says exactly what is missing when it cannot launch).

Modal launches are always bounded: the panel shows the run's cost bound (the estimate's upper
end, `gym.launch.budget.cost_bound`) and a "max $" field that starts at $50, not at the bound, so
one click never starts an expensive run; a run over the field's value is refused with the
cheaper options, and a launched run stops when it has cost that much. After a launch the status
line links the Modal dashboard, and "status" refreshes the run's phase and spend.

Batch sizes you have not set stay derived: they follow the layout as you move the sliders.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as w

from gym.errors import ConfigError, Fix
from gym.models import MODELS
from gym.slime.config import SlimeConfig

PANEL_FIELDS = ("model", "gpu_type", "num_nodes", "colocate", "rollout_num_gpus", "tensor_model_parallel_size",
                "rollout_batch_size", "n_samples_per_prompt", "global_batch_size", "num_rollout")
"""The SlimeConfig fields the panel's controls set."""


class ControlPanel:
    """Widgets bound to a SlimeConfig. `panel.config` is the current config; `panel.widget` the UI."""

    curve_every: int = 10
    """A local run redraws its reward curve every this many rollouts (and once at the end)."""
    stop_timeout_s: float = 300
    """How long a relaunch waits (in the background: the kernel stays free) for the previous local run
    to finish its current rollout before giving up on starting the new one."""

    def __init__(self, config: SlimeConfig | None = None, *, runs_dir: str = "runs"):
        self.base = config if config is not None else SlimeConfig()
        self.runs_dir = runs_dir
        self.set_fields: dict = {f: getattr(self.base, f) for f in PANEL_FIELDS if getattr(self.base, f) is not None}
        self.set_fields["model"] = self.base._model.short_name  # the dropdown speaks model names
        self._syncing = False
        self._run_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.history = None
        self.last_launch = None
        self.workload: dict = {}
        """The workload that prices the plan (gym.perf): mean_response_tokens, mean_prompt_tokens."""
        self._build()
        self.refresh()

    # ---- the config ------------------------------------------------------------------------------
    @property
    def config(self) -> SlimeConfig:
        """The current config: the one given, with every value set through the panel."""
        values = dict(self.set_fields)
        if values.get("model") == self.base._model.short_name:
            values["model"] = self.base._model  # keep the given model object (its revision, secret, …)
        return self.base.replace(**values)

    def set(self, **values) -> None:
        """Set config fields as the controls do (unset a field with None to derive it again)."""
        _merge(self.set_fields, values)
        self.refresh()

    def set_workload(self, **workload) -> None:
        """Set the workload that prices the plan (mean_response_tokens, mean_prompt_tokens; None:
        gym.perf's default), e.g. `panel.set_workload(**gym.perf.workload_from(history))`."""
        _merge(self.workload, workload)
        self.refresh()

    def apply_fix(self, fix: Fix) -> None:
        """Apply one suggested fix (a set of field values)."""
        self.set(**fix.changes)

    # ---- building ----------------------------------------------------------------------------------
    def _build(self) -> None:
        style = {"description_width": "140px"}
        wide = w.Layout(width="390px")
        self.controls = {
            "model": w.Dropdown(options=list(MODELS), description="model", style=style, layout=wide),
            "gpu_type": w.Dropdown(options=["H100", "H200"], description="GPU type", style=style, layout=wide),
            "num_nodes": w.IntSlider(min=1, max=8, description="nodes", style=style, layout=wide),
            "colocate": w.ToggleButtons(options=[("colocated", True), ("separate rollout GPUs", False)],
                                        description="rollout", style={**style, "button_width": "120px"}),
            "rollout_num_gpus": w.BoundedIntText(min=0, max=512, description="rollout GPUs", style=style,
                                                 layout=wide),
            "tensor_model_parallel_size": w.Dropdown(options=[1, 2, 4, 8, 16], description="tensor parallel (TP)",
                                                     style=style, layout=wide),
            "rollout_batch_size": w.BoundedIntText(min=1, max=65536, description="prompts per rollout", style=style,
                                                   layout=wide),
            "n_samples_per_prompt": w.Dropdown(options=[1, 2, 4, 8, 16, 32, 64], description="samples per prompt",
                                               style=style, layout=wide),
            "global_batch_size": w.BoundedIntText(min=1, max=1 << 20, description="samples per step",
                                                  style=style, layout=wide),
            "num_rollout": w.BoundedIntText(min=1, max=1_000_000, description="rollouts", style=style, layout=wide),
        }
        self.controls["num_nodes"].add_class("gym-nodes")
        self.mean_response = w.BoundedIntText(
            value=0, min=0, max=1_000_000, description="mean response tokens", style=style, layout=wide,
            tooltip="the workload that prices the run: 0 = gym.perf's default (GSM8K with thinking: 1200); "
                    "a past run's rollout/response_len/mean prices the next")
        self.mean_response.add_class("gym-mean-response")
        self.mean_response.observe(lambda change: self.set_workload(mean_response_tokens=change["new"] or None),
                                   names="value")
        for name, control in self.controls.items():
            control.observe(lambda change, name=name: self._on_control(name, change["new"]), names="value")
        self.backend = w.ToggleButtons(options=["local", "modal"], description="backend",
                                       style={**style, "button_width": "120px"})
        from gym.launch.budget import DEFAULT_MAX_USD

        self.max_usd = w.BoundedFloatText(value=DEFAULT_MAX_USD, min=0.01, max=1e7, step=10,
                                          description="max $ (Modal)", style=style, layout=wide,
                                          tooltip="Modal: refuse above this estimate; stop the run when it has cost this much")
        self.max_usd.add_class("gym-max-usd")
        self.max_usd.observe(lambda _: self._show_modal_bound(), names="value")
        self.modal_bound = w.HTML()
        self.modal_bound.add_class("gym-modal-bound")
        self.status_button = w.Button(description="status", icon="refresh", layout=w.Layout(width="auto",
                                                                                             display="none"))
        self.status_button.on_click(lambda _: self.refresh_run_status())
        self.launch_button = w.Button(description="Launch", button_style="success", icon="play")
        self.launch_button.add_class("gym-launch")
        self.launch_button.on_click(lambda _: self.launch())
        self.problems_box = w.VBox()
        self.problems_box.add_class("gym-problems")
        self.plan_html = w.HTML()
        self.plan_html.add_class("gym-plan")
        self.map_html = w.HTML()
        self.map_html.add_class("gym-map")
        self.cost_html = w.HTML()
        self.cost_html.add_class("gym-cost")
        self.code_html = w.HTML()
        self.status = w.HTML()
        self.status.add_class("gym-status")
        self.curve = w.Image(format="png", layout=w.Layout(max_width="640px"))
        self.curve.layout.display = "none"
        left = w.VBox([*self.controls.values(), self.mean_response, w.HBox([self.backend]), self.max_usd, self.modal_bound,
                       w.HBox([self.launch_button, self.status_button]), self.status,
                       self.problems_box], layout=w.Layout(width="410px", flex="0 0 auto"))
        right = w.VBox([self.cost_html, self.map_html, self.plan_html])
        code = w.Accordion(children=[self.code_html], titles=("Python for this config",))
        self.widget = w.VBox([w.HBox([left, right]), self.curve, code])

    # ---- reacting ----------------------------------------------------------------------------------
    def _on_control(self, name: str, value) -> None:
        if self._syncing:
            return
        self.set(**{name: value})

    def refresh(self) -> None:
        """Validate and plan the current config; update every view in place."""
        from gym.estimate import estimate_run
        from gym.plots import gpu_map_svg, perf_summary_html
        from gym.slime.plan import make_plan
        from gym.slime.rules import check

        try:
            config = self.config
            resolved = config.resolve()
            problems = check(resolved)  # the same resolution as the plan: one performance estimate
        except ConfigError as err:  # a bad value the config itself refuses (e.g. two cluster sizes)
            self._show_problems(err.problems)
            self.launch_button.disabled = True
            return
        errors = [p for p in problems if p.severity == "error"]
        warnings = [p for p in problems if p.severity == "warning"]
        self._sync_controls(resolved)
        self._show_problems(problems)
        self.launch_button.disabled = bool(errors)
        if resolved.type_problems:
            return
        try:
            plan = make_plan(resolved, warnings, **self.workload)
        except ConfigError as err:  # a workload that is not a positive number
            self._show_problems(err.problems)
            self.launch_button.disabled = True
            return
        self.plan = plan
        self.plan_html.value = plan._repr_html_()
        self.map_html.value = gpu_map_svg(plan) if plan.cluster_gpus <= 128 else ""
        price = f"<b>${plan.usd_per_hour:,.2f} per hour</b> for {plan.cluster_gpus} × {plan.gpu_type}"
        estimate = "" if errors else f"<br>{html.escape(str(estimate_run(resolved, plan)))}"
        charts = perf_summary_html(plan.perf) if plan.perf is not None else ""
        self.cost_html.value = price + estimate + charts
        self._bound_usd = None
        self._show_modal_bound()
        from gym.codegen import config_to_code

        self.code_html.value = f"<pre>{html.escape(config_to_code(config))}</pre>"

    def _sync_controls(self, resolved) -> None:
        """Show resolved (also derived) values in the controls without treating them as set."""
        c = resolved.config
        self._syncing = True
        try:
            for name, control in self.controls.items():
                value = resolved.model.short_name if name == "model" else getattr(c, name)
                if isinstance(control, w.Dropdown) and value not in [o[1] if isinstance(o, tuple) else o
                                                                      for o in control.options]:
                    continue
                if isinstance(control, w.IntSlider):
                    control.max = max(control.max, value)
                control.value = value
                control.tooltip = f"{name}: derived" if name in resolved.derived else f"{name}: set"
            self.controls["rollout_num_gpus"].disabled = bool(c.colocate)
        finally:
            self._syncing = False

    def _show_problems(self, problems) -> None:
        rows = []
        for p in problems:
            color = "#c92a2a" if p.severity == "error" else "#b45309"
            text = w.HTML(f"<span style='color:{color}'>{'✖' if p.severity == 'error' else '⚠'} "
                          f"{html.escape(str(p.message))}</span>")
            buttons = []
            for fix in p.fixes[:4]:
                b = w.Button(description=str(fix), tooltip=f"apply {fix}", layout=w.Layout(width="auto"))
                b.add_class("gym-fix")
                b.on_click(lambda _, fix=fix: self.apply_fix(fix))
                buttons.append(b)
            rows.append(w.VBox([text, w.HBox(buttons)]) if buttons else text)
        self.problems_box.children = rows

    # ---- launching ---------------------------------------------------------------------------------
    def launch(self) -> None:
        """Run the current config on the chosen backend (the button does this)."""
        if self.launch_button.disabled:
            return
        self.launch_button.description = "Relaunch"
        if self.backend.value == "modal":
            self._launch_modal()
        else:
            self._launch_local()

    def _show_modal_bound(self) -> None:
        """The Modal launch's cost bound against the max $ field (computed once per config)."""
        from gym.launch.budget import launch_bound
        from gym.launch.launcher import default_stages

        if self.launch_button.disabled:
            self.modal_bound.value = ""
            return
        if getattr(self, "_bound_usd", None) is None:  # the bound launch() checks (the smoke run: per stage)
            self._bound_usd = launch_bound(self.config, default_stages(self.config))
        over = self._bound_usd > self.max_usd.value
        color = "#c92a2a" if over else "#2b8a3e"
        self.modal_bound.value = (f"<span style='color:{color}'>Modal: estimated at most ${self._bound_usd:,.2f} "
                                  + (f"— over max ${self.max_usd.value:,.2f}: Launch will refuse"
                                     if over else f"≤ max ${self.max_usd.value:,.2f}") + "</span>")

    def _launch_modal(self) -> None:
        from gym.errors import ConfigError
        from gym.launch.budget import LaunchError
        from gym.launch.launcher import launch

        try:
            self.last_launch = launch(self.config, max_usd=self.max_usd.value)
        except Exception as err:
            from gym.errors import modal_error_message

            message = str(err) if isinstance(err, (LaunchError, ConfigError)) else modal_error_message(err)
            if message is None:
                raise
            self.status.value = f"<pre style='color:#c92a2a;white-space:pre-wrap'>{html.escape(message)}</pre>"
            return
        self.status.value = self.last_launch._repr_html_()
        self.status_button.layout.display = None

    def refresh_run_status(self) -> None:
        """Show the launched Modal run's current status (phase, spend, checkpoint, links)."""
        if self.last_launch is None:
            return
        status = self.last_launch.status()
        link = html.escape(status.dashboard_url)
        self.status.value = (f"<pre style='white-space:pre-wrap'>{html.escape(str(status))}</pre>"
                             f"<a href='{link}' target='_blank'>Modal dashboard</a>")

    def _launch_local(self) -> None:
        """Start a local run in a thread; the kernel is never blocked. A run still going is asked to
        stop after its current rollout, and the new one starts once it has (waited for in the new
        run's thread, at most `stop_timeout_s`; a run that does not stop by then is reported and left
        to end on its own, a daemon thread: nothing new is started over it)."""
        previous = self._run_thread if self._run_thread is not None and self._run_thread.is_alive() else None
        if previous is not None:
            self._stop.set()
        config = self.config
        stop = self._stop = threading.Event()
        name = html.escape(config.resolve().name)
        self.status.value = (f"stopping the previous run (after its current rollout), then starting {name} …"
                             if previous is not None else f"starting a local run of {name} …")

        def on_rollout(row: dict) -> None:
            reward = row.get("rollout/raw_reward", float("nan"))
            self.status.value = (f"rollout {row['rollout_id'] + 1}/{config.num_rollout or '?'}: reward {reward:.2f}, "
                                 f"step {row.get('perf/step_time', 0):.2f} s")
            if (row["rollout_id"] + 1) % self.curve_every == 0:
                self._draw_curve()

        def job() -> None:
            from gym.local.runner import run_local

            if previous is not None:
                previous.join(self.stop_timeout_s)
                if previous.is_alive():
                    self.status.value = (f"the previous run did not stop within {self.stop_timeout_s:.0f} s (it is "
                                         "left to end on its own); nothing new was started")
                    return
            if stop.is_set():  # relaunched again meanwhile: the newer launch runs instead
                return
            try:
                self.history = run_local(config, out_dir=self.runs_dir, progress=False, on_rollout=on_rollout,
                                         stop=stop)
                self._draw_curve()
                self.status.value = html.escape(self.history.summary())
            except Exception as err:  # shown in the panel: a run's error must not vanish in a thread
                self.status.value = (f"<pre style='color:#c92a2a;white-space:pre-wrap'>"
                                     f"{html.escape(type(err).__name__ + ': ' + str(err))}</pre>")

        self._run_thread = threading.Thread(target=job, daemon=True)
        self._run_thread.start()

    def _draw_curve(self) -> None:
        import io

        from gym.local.history import History

        run_dir = f"{self.runs_dir}/{self.config.resolve().name}"
        history = History.load(run_dir)
        if not history.rows:
            return
        buf = io.BytesIO()
        history.reward_curve().savefig(buf, format="png", dpi=90)
        self.curve.value = buf.getvalue()
        self.curve.layout.display = None

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the local run in progress (after its current rollout) and wait for it, at most
        `timeout` seconds; True when no run is left running."""
        if self._run_thread is not None and self._run_thread.is_alive():
            self._stop.set()
            self._run_thread.join(timeout)
        return self._run_thread is None or not self._run_thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the local run in progress ends."""
        if self._run_thread is not None:
            self._run_thread.join(timeout)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _merge(into: dict, values: dict) -> None:
    """Set each value in `into`; None removes the key (the field is derived, or defaulted, again)."""
    for name, value in values.items():
        if value is None:
            into.pop(name, None)
        else:
            into[name] = value
