"""Conventions every course notebook keeps. nbval runs them; this checks their shape."""

import json
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell):
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/NN_*.ipynb found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badges_point_at_this_notebook_in_the_repository_of_pyproject(path):
    first = source(cells(path)[0])
    assert first.startswith("# "), "the first cell is the title"
    slug = REPOSITORY.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{path.name}"
    github = f"{REPOSITORY}/blob/main/notebooks/{path.name}"
    assert colab in first and github in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_parameters_cell_holds_the_smoke_switch(path):
    tagged = [c for c in cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert re.search(r'^SMOKE = os\.environ\.get\("S2S_SMOKE"\) == "1"', source(tagged[0]), re.M)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_outputs_come_from_a_full_run_without_errors(path):
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    assert all(c.get("outputs") for c in code[-1:]), "committed with outputs"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    last = "".join("".join(o.get("text", "")) for o in code[-1]["outputs"])
    assert last.startswith("Ran on ") and "corpus toy" not in last, last


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_define_no_classes(path):
    # Reusable code belongs in s2s_keras; a notebook that defines a class has drifted.
    assert not [c for c in cells(path) if re.search(r"^class ", source(c), re.M)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_valid_nbformat_with_cell_ids(path):
    # nbval reads them with nbformat, which warns (an error under pytest) when a cell lacks
    # the id that nbformat 4.5 requires: a hand-inserted cell must carry one.
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
    assert all("id" in cell for cell in cells(path))


def test_the_time_at_the_top_of_each_notebook_is_read_from_the_saved_outputs():
    # `python -m s2s_keras.series notebooks` writes it; a typed or stale figure fails here.
    from s2s_keras import series

    records = [series.read_record(p.stem, cells(p)) for p in NOTEBOOKS]
    stamped = [
        [line for line in source(cells(p)[0]).splitlines() if line.startswith(series.TIME_LINE)]
        for p in NOTEBOOKS
    ]
    if not any(stamped):
        pytest.skip("no notebook is stamped yet")
    expected = [[series.time_line(row)] for row in series.series_times(records)]
    assert stamped == expected


def test_the_saved_notebooks_are_one_run_of_this_code():
    # One run id (a hash of every course setting, after the package version) in every
    # notebook, and the id of the code at hand: outputs kept from an older version or
    # other settings fail here. The series is stamped when it is complete (`make series`).
    from s2s_keras import course, series

    if not any(series.TIME_LINE in source(cells(p)[0]) for p in NOTEBOOKS):
        pytest.skip("no notebook is stamped yet")
    records = [series.read_record(p.stem, cells(p)) for p in NOTEBOOKS]
    assert series.one_run(records, expected=course.run_id())


def test_no_clock_cut_a_model_of_the_saved_series():
    # Budgets are epochs or steps: every model's facts in the saved outputs state its budget
    # and that no time cap cut it (`course.model_facts`).
    from s2s_keras import series

    if not any(series.TIME_LINE in source(cells(p)[0]) for p in NOTEBOOKS):
        pytest.skip("no notebook is stamped yet")
    budgets = {
        (p.stem, name): budget
        for p in NOTEBOOKS
        for name, budget in series.read_record(p.stem, cells(p)).budgets.items()
    }
    assert budgets, "no model facts in the saved outputs"
    assert {key: b for key, b in budgets.items() if not b or "no time cap" not in b} == {}
