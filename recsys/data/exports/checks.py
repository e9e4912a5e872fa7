"""Checks shared by the export readers: the size limit, safe names, and errors that say which record is wrong.

Exports come from people's accounts and uploads, so they are treated as hostile: a name with markup or control
characters is refused (it would reach HTML and terminals), not silently cleaned, so the user sees what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from recsys.errors import DataValidationError, Problem

MAX_EXPORT_BYTES = 50 * 2**20  # one Spotify extended file is about 12 MB, 100K Last.fm scrobbles about 8 MB
MAX_NAME_CHARS = 500  # longer "names" are data errors or padding attacks, not titles
MAX_PROBLEMS = 25  # per file; the first ones are enough to see what is wrong

# Markup as browsers parse it: "<" right before a letter (or /, !, ?) opens a tag; "<3" and "a < b" stay allowed.
_MARKUP = re.compile(r"<[/!?]?[A-Za-z][^<>]*>|<!--")
# C0/C1 control characters and the bidirectional overrides that reorder what a terminal or page shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class ExportProblem(Problem):
    """A problem in one record of an export; `unit` says how the file counts its records (row, record, line)."""

    unit: str = "record"
    field_word = "field"

    def shown_value(self) -> str:
        return _shown(self.value)


class ExportValidationError(DataValidationError):
    """A listening export that cannot be read; lists the problems found (file, record, field, value)."""

    def __init__(self, problems: Sequence[Problem], fmt: str, name: str) -> None:
        self.fmt, self.name = fmt, name
        super().__init__(problems, path=name)

    def _heading(self) -> str:
        return f"invalid {self.fmt} export {self.name}"


def _shown(value: object, limit: int = 80) -> str:
    """repr() escapes control characters for the terminal; long values are cut so a message stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def name_problem(value: str) -> str | None:
    """Why a track or artist name is refused, or None when it is fine."""
    if _CONTROL.search(value):
        return "name contains control characters"
    if _MARKUP.search(value):
        return "name contains HTML markup"
    if len(value) > MAX_NAME_CHARS:
        return f"name longer than {MAX_NAME_CHARS} characters"
    return None


def check_size(size: int, limit: int, fmt: str, name: str) -> None:
    """Refuse an export above the size limit before parsing it (parsing JSON needs several times its size)."""
    if size > limit:
        raise ExportValidationError([ExportProblem(name, f"file is {size / 2**20:.1f} MB; the limit is "
                                                         f"{limit / 2**20:.0f} MB (split it, or import in parts)")],
                                    fmt, name)
