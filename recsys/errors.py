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

    unit = "row"  # what the file counts its records as; `field_word` what it calls a column
    field_word = "column"

    def shown_value(self) -> str:
        return repr(self.value)

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", {self.unit} {self.row}"
        if self.column is not None:
            where += f", {self.field_word} '{self.column}'"
        value = "" if self.value is None else f" (value {self.shown_value()})"
        return f"{where}: {self.message}{value}"


class DataValidationError(RecsysError):
    """A dataset folder breaks the format; lists every problem found, not only the first."""

    max_shown = 25

    def __init__(self, problems: Sequence[Problem], path: object = None) -> None:
        self.problems = list(problems)
        self.path = path
        super().__init__(self._render())

    def _heading(self) -> str:
        return f"invalid dataset{f' {self.path}' if self.path else ''}"

    def _render(self) -> str:
        head = f"{self._heading()}: {len(self.problems)} problem(s)"
        lines = [f"  - {p}" for p in self.problems[: self.max_shown]]
        if len(self.problems) > self.max_shown:
            lines.append(f"  ... and {len(self.problems) - self.max_shown} more")
        return "\n".join([head, *lines])


class UnknownIdError(RecsysError, KeyError):
    """An ID that is not in the dataset; the message suggests close matches."""

    max_shown = 10

    def __init__(self, kind: str, value: object, known: Iterable[str] = ()) -> None:
        """``value``: one ID, or a list of IDs (a listening history), each named with its close matches."""
        self.kind, self.value = kind, value
        known = list(known)
        if not isinstance(value, list | tuple) or len(value) == 1:
            one = str(value[0] if isinstance(value, list | tuple) else value)
            super().__init__(f"unknown {kind} {one!r}{self._hint(one, known, '; did you mean {}?')}")
            return
        shown = [f"{str(v)!r}{self._hint(str(v), known, ' (did you mean {}?)')}" for v in value[: self.max_shown]]
        more = f" and {len(value) - self.max_shown} more" if len(value) > self.max_shown else ""
        super().__init__(f"{len(value)} unknown {kind} IDs: {', '.join(shown)}{more}")

    @staticmethod
    def _hint(value: str, known: list[str], template: str) -> str:
        matches = difflib.get_close_matches(value, known, n=3, cutoff=0.6)
        return template.format(", ".join(repr(m) for m in matches)) if matches else ""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class CheckpointError(RecsysError):
    """A checkpoint that is missing, corrupted, unsafe, or made for other data or another version."""


class ConfigError(RecsysError, ValueError):
    """A parameter or configuration value outside its allowed range."""
