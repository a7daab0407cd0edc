"""Colab's setup step: a stale runtime is stopped with advice; Drive keeps the models."""

import pytest

from s2s_keras import colab
from s2s_keras.errors import S2SError


def module(version):
    return type("module", (), {"__version__": version})


def test_a_module_replaced_under_the_running_runtime_asks_for_a_restart():
    modules = {"numpy": module("1.26.4"), "tensorflow": module("2.21.0")}
    versions = {"numpy": "2.1.3", "tensorflow": "2.21.0"}
    with pytest.raises(S2SError, match=r"\(numpy 1\.26\.4 in memory, 2\.1\.3 installed\): restart"):
        colab.setup(modules=modules, installed=versions.get)


def test_an_unchanged_runtime_passes_and_drive_sets_the_runs_folder():
    mounted, environ = [], {}
    folder = colab.setup(
        drive=True,
        modules={"numpy": module("2.1.3")},
        installed={"numpy": "2.1.3"}.get,
        mount=mounted.append,
        environ=environ,
    )
    assert mounted == ["/content/drive"]
    assert str(folder) == environ["S2S_RUNS_DIR"] == "/content/drive/MyDrive/s2s-keras-runs"


def test_without_drive_nothing_is_mounted():
    assert colab.setup(modules={}, installed={}.get, mount=pytest.fail) is None


def test_a_module_that_is_not_installed_or_has_no_version_is_ignored():
    def missing(name):
        raise colab.metadata.PackageNotFoundError(name)

    assert colab.replaced({"keras": module("3.15.1")}, missing) == []
    assert colab.replaced({"numpy": object()}, {"numpy": "2.1.3"}.get) == []
