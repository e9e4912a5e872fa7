"""One exception hierarchy, so every front end (CLI, dashboard) has a single error boundary."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class RecsysError(Exception):
    """Base class of every error the project raises on purpose (bad input, not bugs)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset, located as precisely as the check allows."""

    file: str
    message: str
    row: int | None = None  # 1-based data row (the CSV line is row + 1 because of the header)
    column: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        value = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.message}{value}"


class DataValidationError(RecsysError):
    """A dataset folder breaks the format; lists every problem found, not only the first."""

    max_shown = 25

    def __init__(self, problems: Sequence[Problem], path: object = None) -> None:
        self.problems = list(problems)
        self.path = path
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"invalid dataset{f' {self.path}' if self.path else ''}: {len(self.problems)} problem(s)"
        lines = [f"  - {p}" for p in self.problems[: self.max_shown]]
        if len(self.problems) > self.max_shown:
            lines.append(f"  ... and {len(self.problems) - self.max_shown} more")
        return "\n".join([head, *lines])


class UnknownIdError(RecsysError, KeyError):
    """An ID that is not in the dataset; the message suggests close matches."""

    def __init__(self, kind: str, value: object, known: Iterable[str] = ()) -> None:
        self.kind, self.value = kind, value
        matches = difflib.get_close_matches(str(value), list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
        super().__init__(f"unknown {kind} {str(value)!r}{hint}")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class CheckpointError(RecsysError):
    """A checkpoint that is missing, corrupted, unsafe, or made for other data or another version."""


class ConfigError(RecsysError, ValueError):
    """A parameter or configuration value outside its allowed range."""
