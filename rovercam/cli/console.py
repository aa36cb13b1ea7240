"""What the ``rovercam`` command prints: the consoles, progress bars, record tables and JSON.

Ids and paths are what users copy into the next command, so they are printed whole:

- a line holding a path or an id is printed with ``soft_wrap=True`` (rich inserts no line break;
  the terminal may fold it visually, a copy still gives one piece);
- :func:`print_records` prints a table only when every id/path column fits the console whole;
  otherwise it prints one block per record, the id on its own line and each field below it.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, Callable, Collection, Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

__all__ = ["console", "err", "say", "fail", "progress", "progress_callback", "print_records", "print_json",
           "record_json"]

console = Console(stderr=False)
err = Console(stderr=True, soft_wrap=True)  # errors never wrap: paths stay copyable


def say(text: str) -> None:
    """Print one line that may hold paths or ids (rich markup allowed), never hard-wrapped."""
    console.print(text, soft_wrap=True)


def fail(message: str) -> None:
    """Print an expected error as one red line on stderr (markup in ``message`` is escaped)."""
    err.print(f"[red]rovercam: {escape(message)}[/]")


def progress(*, enabled: bool = True) -> Progress:
    """A progress bar on the standard console (description, bar, done/total, elapsed).

    ``enabled=False`` (verbs printing ``--json``) shows nothing, so stdout holds only the JSON.
    """
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False, disable=not enabled,
    )


def progress_callback(prog: Progress, label: str) -> Callable[[int, int, str], None]:
    """A ``progress(done, total, message)`` callback driving a new task of ``prog``."""
    task_id = prog.add_task(label, total=None)

    def cb(done: int, total: int, message: str) -> None:
        prog.update(task_id, completed=done, total=total, description=f"{label}: {message}"[:70])

    return cb


#: a folding column is never narrower than this (or its longest value, when shorter)
_MIN_FOLD = 12


def print_records(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *,
                  whole: Collection[str], target: Console | None = None) -> None:
    """Print records as a table, keeping every id and path whole.

    Parameters
    ----------
    title : str
        Printed on its own line above the records (it may hold a path).
    columns : sequence of str
        Column headers.
    rows : iterable of sequences of str
        One value per column, already formatted (rich markup is escaped here).
    whole : collection of str
        Columns whose values must never be wrapped or cut (ids, paths, keys).
    target : Console, optional
        Where to print (default the standard console).

    Notes
    -----
    The table is printed when its narrowest layout fits the console: every ``whole`` column as
    wide as its longest value, the others folding at no fewer than 12 characters. Otherwise each record becomes a
    block: the first ``whole`` value on its own line, then ``column: value`` lines.
    """
    target = target or console
    rows = [[str(v) for v in r] for r in rows]
    target.print(f"[bold]{escape(title)}[/]", soft_wrap=True)
    if not rows:
        return
    longest = [max(len(col), *(len(r[i]) for r in rows)) for i, col in enumerate(columns)]
    widths = [n if col in whole else min(n, _MIN_FOLD) for col, n in zip(columns, longest)]
    if sum(widths) + 3 * len(columns) + 1 <= target.width:  # cell padding and rules
        table = Table()
        for col, width in zip(columns, widths):
            table.add_column(col, no_wrap=col in whole, overflow="fold", min_width=width)
        for r in rows:
            table.add_row(*(escape(v) for v in r))
        target.print(table)
        return
    key = next((i for i, c in enumerate(columns) if c in whole), 0)
    for r in rows:
        target.print(f"[bold]{escape(r[key])}[/]", soft_wrap=True)
        for i, col in enumerate(columns):
            if i != key and r[i]:
                target.print(f"  {col}: {escape(r[i])}", soft_wrap=True)


def print_json(doc: Any) -> None:
    """Write ``doc`` as one JSON line on stdout (datetimes and paths as strings)."""
    sys.stdout.write(json.dumps(doc, default=str) + "\n")


def record_json(record: Any) -> dict[str, Any]:
    """A catalog record (a dataclass) as a JSON-ready dict, times in ISO 8601."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(record).items()}
