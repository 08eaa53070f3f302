"""Rich output shared by the commands: progress bars, warning lines, result tables, JSON."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# Results piped to a file or another program would be cut to 80 columns, truncating table headers; a terminal
# (or an explicit COLUMNS) keeps its own width.
out = Console() if sys.stdout.isatty() or "COLUMNS" in os.environ else Console(width=120)  # results
err = Console(stderr=True)  # progress, warnings, errors


def progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def printable(text: str) -> str:
    """`text` with the characters a terminal would act on written as escapes (`\\n`, `\\x1b`): a file name
    holding a newline split its skip line in two, and one holding an escape sequence reached the terminal raw."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def warn(subject: str, reason: str) -> None:
    """One line for one bad input: which file and why."""
    err.print(f"[yellow]skip[/] {_shown(subject)}: {_shown(reason)}", soft_wrap=True, highlight=False)


def _shown(text: str) -> str:
    return escape(printable(text))


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line for a one-line error, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def warning(text: str) -> None:
    """One line about how the run will go (a model file missing, a provider falling back), on one line."""
    err.print(f"[yellow]warning[/] {_shown(text)}", soft_wrap=True, highlight=False)


def note(subject: str, text: str) -> None:
    """One line about a file that was done, with something the user should know."""
    err.print(f"[cyan]note[/] {_shown(subject)}: {_shown(text)}", soft_wrap=True, highlight=False)


# --json promises machine-readable stdout: a command that stops on an error before its summary still owes one
# (`cli.main` writes {"errors": [...], "exit_code": N} from these)
_json = {"requested": False, "emitted": False, "errors": []}


def request_json(value: bool) -> bool:
    """Callback of the --json option."""
    _json["requested"] = _json["requested"] or bool(value)
    return value


def failures() -> list[str]:
    """The error lines printed so far."""
    return list(_json["errors"])


def owed_json_error(code: int) -> dict | None:
    """The error object a command that exits with `code` after --json, and printed no JSON, still owes."""
    if not code or not _json["requested"] or _json["emitted"]:
        return None
    return {"errors": list(_json["errors"]), "exit_code": code}


def fail(message: str) -> None:
    _json["errors"].append(message)
    err.print(f"[red]error[/] {_shown(message)}", soft_wrap=True, highlight=False)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    t = Table(title=title)
    for i, col in enumerate(columns):
        # the first column names the row (a backend, a style): never truncate it, let figures wrap instead
        t.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        t.add_row(*(str(c) for c in row))
    return t


def emit_json(payload: Mapping[str, Any] | Sequence[Any]) -> None:
    _json["emitted"] = True
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    sys.stdout.flush()
