"""The course as one series: what each executed notebook cost, written from its records.

Every course notebook ends with `course.closing_report`: `Ran on HW in N s (...)`, the
course run id, and one `course.model_facts` line per model it used. A learner who runs the
notebooks in order trains each model in the first notebook that uses it, so a notebook's
time is its own execution plus the recorded training time of every model it is the first
to use but found already trained (by `python -m s2s_keras.course`, say). `stamp` writes
that time into the notebook's first cell, so the figure at the top is read from the saved
outputs, never typed; `pin_colab` pins the Colab install cell to a commit.

    python -m s2s_keras.series notebooks            # stamp the times, print the table
    python -m s2s_keras.series notebooks --pin REV  # and pin Colab installs to REV
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_RAN = re.compile(r"^Ran on (?P<hardware>.+?) in (?P<seconds>\d+) s\b")
_RUN_ID = re.compile(r"^course run id: (?P<id>\S+)$")
_FACTS = re.compile(
    r"^(?P<name>[^:\n]+): [\d,]+ parameters, \d+ epochs, [\d,]+ steps"
    r"(?: \((?P<budget>[^)]*)\))?, "
    r"(?:(?P<seconds>\d+) s|time not recorded) on .+?; (?P<where>.+)$"
)
_WHEN = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z?")
# The line `stamp` owns in a notebook's first cell.
TIME_LINE = "**Time on"
_INSTALL = re.compile(r'"s2s-keras @ git\+(?P<url>https://github\.com/[^"@]+?)(?:@[^"]*)?"')


@dataclass
class NotebookRecord:
    """What a notebook's last cell says of its run."""

    name: str
    hardware: str
    seconds: int
    run_id: str | None
    # (model name, when it was trained) → recorded training seconds (None: not recorded);
    # `trained_here` holds the models this notebook trained itself.
    models: dict = field(default_factory=dict)
    trained_here: set = field(default_factory=set)
    # model name → its budget as the facts state it (`budget 4 epochs, no time cap`), or
    # None where the facts state none
    budgets: dict = field(default_factory=dict)


def _last_code_text(cells: Sequence[dict]) -> str:
    code = [c for c in cells if c.get("cell_type") == "code"]
    if not code:
        return ""
    return "".join("".join(o.get("text", "")) for o in code[-1].get("outputs", []))


def read_record(name: str, cells: Sequence[dict]) -> NotebookRecord:
    """Parse the `course.closing_report` printed by a notebook's last code cell.

    Raises:
        ValueError: the last cell did not print a report (no `Ran on ... in N s`).
    """
    lines = _last_code_text(cells).splitlines()
    ran = _RAN.match(lines[0]) if lines else None
    if ran is None:
        raise ValueError(f"{name}: its last cell did not print 'Ran on ... in N s'")
    record = NotebookRecord(name, ran["hardware"], int(ran["seconds"]), None)
    for line in lines[1:]:
        if found := _RUN_ID.match(line):
            record.run_id = found["id"]
        elif found := _FACTS.match(line.strip()):
            where = found["where"]
            when = _WHEN.search(where)
            key = (found["name"].strip(), when.group(0) if when else where)
            seconds = None if found["seconds"] is None else int(found["seconds"])
            record.models[key] = seconds
            record.budgets[key[0]] = found["budget"]
            if where.startswith("trained in"):
                record.trained_here.add(key)
    return record


def one_run(records: Iterable[NotebookRecord], expected: str | None = None) -> str:
    """The one course run id every record shows: the saved outputs are one series.

    Args:
        records: the notebooks' records (`read_record`).
        expected: the id they must show, e.g. `course.run_id()` of the code at hand (the
            id begins with the package version, so this checks the version too).

    Returns:
        The run id.

    Raises:
        ValueError: a notebook shows no id, or not the same id as the others (or as
            `expected`); the message names each notebook and the id it shows.
    """
    records = list(records)
    ids = {record.run_id for record in records}
    wanted = {expected} if expected else ids
    if len(ids) != 1 or None in ids or ids != wanted:
        shown = ", ".join(f"{r.name}: {r.run_id or 'no run id'}" for r in records)
        target = f" (expected {expected})" if expected else ""
        raise ValueError(f"the notebooks are not one course run{target}: {shown}")
    return ids.pop()


def series_times(records: Iterable[NotebookRecord]) -> list[dict]:
    """Each notebook's time in a learner's run, in the order given (the course order).

    A model counts once, towards the first notebook that lists it: its recorded training
    seconds are added there unless that notebook trained it itself (then its execution
    time already holds them).

    Returns:
        One `{"notebook", "hardware", "execution_seconds", "training_seconds", "seconds",
        "models"}` per notebook; `models` names the reused models whose training it adds.
    """
    seen: set = set()
    rows = []
    for record in records:
        added, names = 0, []
        for key, seconds in record.models.items():
            if key in seen:
                continue
            seen.add(key)
            if key not in record.trained_here and seconds is not None:
                added += seconds
                names.append(key[0])
        rows.append(
            {
                "notebook": record.name,
                "hardware": record.hardware,
                "execution_seconds": record.seconds,
                "training_seconds": added,
                "seconds": record.seconds + added,
                "models": names,
            }
        )
    return rows


def time_line(row: dict) -> str:
    """The sentence `stamp` writes at the top of a notebook.

    Example:
        >>> time_line({"hardware": "CPU x2", "execution_seconds": 600, "training_seconds": 1800,
        ...            "seconds": 2400, "models": ["seq2seq"]})
        '**Time on CPU x2:** 40 min in the saved run (10 min executing it, 30 min training seq2seq, which `python -m s2s_keras.course` trained ahead).'
    """
    total = f"{row['seconds'] / 60:.0f} min"
    if not row["models"]:
        return f"{TIME_LINE} {row['hardware']}:** {total} in the saved run, training included."
    return (
        f"{TIME_LINE} {row['hardware']}:** {total} in the saved run "
        f"({row['execution_seconds'] / 60:.0f} min executing it, "
        f"{row['training_seconds'] / 60:.0f} min training {', '.join(row['models'])}, "
        "which `python -m s2s_keras.course` trained ahead)."
    )


def _set_time_line(first_cell: dict, line: str) -> None:
    text = "".join(first_cell["source"])
    kept = [part for part in text.split("\n") if not part.startswith(TIME_LINE)]
    # after the badges: the first blank line that follows them
    badges = max((i for i, part in enumerate(kept) if part.startswith("[![")), default=0)
    kept[badges + 1 : badges + 1] = ["", line]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept))
    first_cell["source"] = text.splitlines(keepends=True)


def pin_colab(cells: Sequence[dict], revision: str) -> int:
    """Pin every Colab install of this package in `cells` to `revision` (a tag or commit).

    Returns:
        How many install lines it changed.
    """
    changed = 0
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell["source"])
        pinned = _INSTALL.sub(lambda m: f'"s2s-keras @ git+{m["url"]}@{revision}"', text)
        if pinned != text:
            cell["source"] = pinned.splitlines(keepends=True)
            changed += 1
    return changed


def stamp(paths: Sequence[str | Path], revision: str | None = None) -> list[dict]:
    """Write each notebook's time (`series_times`) at the top of its first cell, in place.

    Args:
        paths: the executed notebooks, in course order.
        revision: if set, also pin their Colab installs to it (`pin_colab`).

    Returns:
        The rows of `series_times`.

    Raises:
        ValueError: a notebook has no closing report, or the notebooks do not show one
            run id (`one_run`); nothing is written then.
    """
    notebooks = [(Path(p), json.loads(Path(p).read_text(encoding="utf-8"))) for p in paths]
    records = [read_record(p.stem, nb["cells"]) for p, nb in notebooks]
    one_run(records)  # a series mixed from two runs would be stamped with wrong times
    rows = series_times(records)
    for (path, nb), row in zip(notebooks, rows, strict=True):
        _set_time_line(nb["cells"][0], time_line(row))
        if revision:
            pin_colab(nb["cells"], revision)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows


def main(argv=None) -> int:
    """`python -m s2s_keras.series DIR [--pin REV]`: stamp the executed notebooks of DIR."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m s2s_keras.series", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("directory", help="the folder of the executed NN_*.ipynb notebooks")
    parser.add_argument("--pin", metavar="REV", help="pin the Colab installs to this tag or commit")
    args = parser.parse_args(argv)
    paths = sorted(Path(args.directory).glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        parser.error(f"no NN_*.ipynb notebooks in {args.directory!r}")
    try:
        rows = stamp(paths, args.pin)
    except ValueError as e:
        parser.error(str(e))
    for row in rows:
        print(f"{row['notebook']:32} {row['seconds'] / 60:6.1f} min")
    course = [r for r in rows if r["notebook"][:2] <= "08"]
    print(f"00–08 in a row: {sum(r['seconds'] for r in course) / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
