"""Problems found in a config, and the one error that carries all of them.

A `Problem` is what a rule reports: which fields, the rule as a formula, the
values it saw, and concrete fixes (each a set of field values that makes the
rule hold). `ConfigError` lists every error-level problem at once, so a user
fixes a config in one pass instead of one relaunch per mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


class UserError(ValueError):
    """Bad input a user can fix that is not a config rule: a data file, a reward function, a
    checkpoint of another run. Its message names the file, row, sample or field; the command
    line prints it without a traceback (exit status 2)."""


def modal_error_message(err: BaseException) -> str | None:
    """What to show for an error raised by the Modal client during a launch (an expired token, a
    workspace without access, a quota): Modal's own words, without a traceback. None for any other
    error. Decided by the exception's module, so nothing here imports modal."""
    if type(err).__module__.split(".")[0] != "modal":
        return None
    return (f"Modal refused: {type(err).__name__}: {err}\n(the launch stopped there; if the run's app was "
            "created, `modal app list` shows it and `modal app stop <id>` stops it)")


@dataclass(frozen=True)
class Fix:
    """One way to make a rule hold: the field values to set (all of them together)."""

    changes: dict[str, Any]

    def __str__(self) -> str:
        return ", ".join(f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"
                         for name, value in self.changes.items())


@dataclass(frozen=True)
class Problem:
    """A broken rule (severity "error") or a risk worth knowing before paying (severity "warning")."""

    fields: tuple[str, ...]
    """The config fields involved, most relevant first."""
    message: str
    """The rule as a formula with the values filled in, e.g.
    "global_batch_size=128 must be a multiple of micro_batch_size × DP = 1 × 24"."""
    fixes: tuple[Fix, ...] = ()
    """Nearest valid alternatives, closest first."""
    severity: Severity = "error"
    rule: str = ""
    """Name of the rule function that reported it (for tests and docs)."""

    def __str__(self) -> str:
        from gym.secrets import redact

        text = f"[{', '.join(self.fields)}] {self.message}"
        if self.fixes:
            text += "; nearest valid: " + " | ".join(_short(fix, self.fields) for fix in self.fixes)
        return redact(text)  # a value quoted back may be a URL with credentials


def _short(fix: Fix, fields: tuple[str, ...]) -> str:
    """Show a one-field fix of the problem's main field as a bare value ("96"), else in full."""
    if len(fix.changes) == 1 and fields and next(iter(fix.changes)) == fields[0]:
        value = next(iter(fix.changes.values()))
        return repr(value) if isinstance(value, str) else str(value)
    return str(fix)


@dataclass
class ConfigError(ValueError):
    """Every error-level problem of a config, raised before anything is launched."""

    problems: list[Problem] = field(default_factory=list)
    subject: str = "config"

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == "error"]
        from gym.secrets import redact

        head = f"{len(errors)} problem{'s' if len(errors) != 1 else ''} in {redact(self.subject)}:"
        return "\n".join([head, *(f"  - {p}" for p in errors)])
