"""The course series: notebook times read from saved outputs, stamped, Colab pinned."""

import json

import pytest

from s2s_keras import course, series


def notebook(report: str, install: bool = True) -> dict:
    setup = '%pip install -q "s2s-keras @ git+https://github.com/s2s-keras/s2s-keras"\n'
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "source": ["# 02 · Title\n", "\n", "[![Run](x)](y)\n", "\n", "Text.\n"],
            },
            {"cell_type": "code", "source": [setup if install else "import os\n"], "outputs": []},
            {
                "cell_type": "code",
                "source": ["report\n"],
                "outputs": [{"output_type": "stream", "text": report}],
            },
        ]
    }


def info(seconds, reused, when):
    return {
        "params": 1000,
        "epochs_run": 4,
        "steps_run": 7160,
        "train_seconds": seconds,
        "hardware": "CPU x2",
        "reused": reused,
        "finished_at": when,
    }


def report(seconds, models):
    lines = [
        f"Ran on CPU x2 (AMD EPYC), TensorFlow 2.21.0 in {seconds} s (corpus spa-eng).",
        "course run id: 0.2.0-abcdef0123",
    ]
    return "\n".join(lines + [course.model_facts(n, i) for n, i in models.items()]) + "\n"


T1, T2 = "2026-12-03T10:00:00Z", "2026-12-03T11:00:00Z"


def test_a_reused_model_counts_once_towards_the_first_notebook_that_uses_it():
    records = [
        series.read_record("02", notebook(report(120, {"seq2seq": info(1800, True, T1)}))["cells"]),
        series.read_record("03", notebook(report(60, {"seq2seq": info(1800, True, T1)}))["cells"]),
        series.read_record(
            "04", notebook(report(900, {"bahdanau": info(700, False, T2)}))["cells"]
        ),
    ]
    assert records[0].run_id == "0.2.0-abcdef0123"
    rows = series.series_times(records)
    assert [(r["execution_seconds"], r["training_seconds"], r["seconds"]) for r in rows] == [
        (120, 1800, 1920),
        (60, 0, 60),
        (900, 0, 900),
    ]  # 04 trained bahdanau itself
    assert rows[0]["models"] == ["seq2seq"] and rows[2]["models"] == []


def test_the_facts_state_each_models_budget_and_the_record_reads_it_back():
    epochs = {**info(1800, True, T1), "epochs": 4, "max_minutes": None}
    capped = {**epochs, "max_minutes": 10, "stopped_by_time_budget": True}
    stepped = {**epochs, "epochs": 10, "steps": 5000, "patience": 3}
    facts = course.model_facts("seq2seq", epochs)
    assert "4 epochs, 7,160 steps (budget 4 epochs, no time cap), 1800 s on CPU x2" in facts
    assert "(budget 4 epochs, time cap 10 min, cut by it)" in course.model_facts("b", capped)
    assert (
        "(budget 5,000 steps, early stopping after 3 epochs without a better validation loss, "
        "no time cap)" in course.model_facts("t", stepped)
    )
    lines = report(60, {"seq2seq": epochs, "bahdanau": capped, "old": info(5, True, T2)})
    record = series.read_record("02", notebook(lines)["cells"])
    assert record.budgets == {
        "seq2seq": "budget 4 epochs, no time cap",
        "bahdanau": "budget 4 epochs, time cap 10 min, cut by it",
        "old": None,  # a record without its settings states no budget
    }
    assert record.models[("seq2seq", T1)] == 1800  # the seconds still read past the budget


def test_a_model_trained_here_and_reused_later_is_the_same_model():
    here = report(100, {"transformer": info(500, False, T1)})
    later = report(10, {"transformer": info(500, True, T1)})
    rows = series.series_times(
        [
            series.read_record("06", notebook(here)["cells"]),
            series.read_record("07", notebook(later)["cells"]),
        ]
    )
    assert [r["seconds"] for r in rows] == [100, 10]


def test_a_notebook_without_a_report_is_refused():
    with pytest.raises(ValueError, match="did not print 'Ran on"):
        series.read_record("05", notebook("hello\n")["cells"])


def test_one_run_is_one_run_id_in_every_notebook_and_names_the_odd_ones():
    same = [series.read_record(n, notebook(report(5, {}))["cells"]) for n in ("02", "03")]
    assert series.one_run(same) == "0.2.0-abcdef0123"
    assert series.one_run(same, expected="0.2.0-abcdef0123") == "0.2.0-abcdef0123"
    with pytest.raises(ValueError, match=r"\(expected 0.3.0-abcdef0123\): 02: 0.2.0-abcdef0123"):
        series.one_run(same, expected="0.3.0-abcdef0123")  # another version, same settings
    other = report(5, {}).replace("abcdef0123", "9999999999")
    bare = "Ran on CPU x2 in 5 s (corpus spa-eng).\n"
    mixed = same + [series.read_record("04", notebook(other)["cells"])]
    with pytest.raises(ValueError, match="03: 0.2.0-abcdef0123, 04: 0.2.0-9999999999$"):
        series.one_run(mixed)
    with pytest.raises(ValueError, match="05: no run id"):
        series.one_run(same + [series.read_record("05", notebook(bare)["cells"])])


def test_stamp_refuses_notebooks_of_two_runs_and_writes_nothing(tmp_path):
    paths = [tmp_path / "02_x.ipynb", tmp_path / "03_y.ipynb"]
    paths[0].write_text(json.dumps(notebook(report(5, {}))))
    paths[1].write_text(json.dumps(notebook(report(5, {}).replace("abcdef", "fedcba"))))
    before = [p.read_text() for p in paths]
    with pytest.raises(ValueError, match="not one course run"):
        series.stamp(paths)
    assert [p.read_text() for p in paths] == before


def test_stamp_writes_the_time_after_the_badges_once_and_pins_colab(tmp_path):
    path = tmp_path / "02_x.ipynb"
    path.write_text(json.dumps(notebook(report(120, {"seq2seq": info(1800, True, T1)}))))
    for _ in range(2):  # stamping again replaces the line
        rows = series.stamp([path], revision="0123abc")
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"])
    assert first == (
        "# 02 · Title\n\n[![Run](x)](y)\n\n"
        "**Time on CPU x2 (AMD EPYC), TensorFlow 2.21.0:** 32 min in the saved run (2 min executing "
        "it, 30 min training seq2seq, which `python -m s2s_keras.course` trained ahead).\n\nText.\n"
    )
    assert rows[0]["seconds"] == 1920
    assert "".join(cells[1]["source"]) == (
        '%pip install -q "s2s-keras @ git+https://github.com/s2s-keras/s2s-keras@0123abc"\n'
    )


def test_the_command_refuses_a_folder_without_notebooks(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        series.main([str(tmp_path)])
    assert exit_.value.code == 2 and "no NN_*.ipynb notebooks" in capsys.readouterr().err
