"""`make lab`: the course kernel and the notebooks extra, checked without starting a server."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from s2s_keras import lab

ROOT = Path(__file__).resolve().parents[1]


def test_the_kernel_spec_runs_this_environments_python(tmp_path):
    directory = lab.install_kernel(prefix=tmp_path)
    assert directory == tmp_path / "share" / "jupyter" / "kernels" / "s2s-keras"
    spec = json.loads((directory / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert spec["display_name"] == "Python 3 (s2s-keras)"


def test_jupyter_finds_the_registered_kernel(tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager

    lab.install_kernel(prefix=tmp_path)
    manager = KernelSpecManager(kernel_dirs=[str(tmp_path / "share" / "jupyter" / "kernels")])
    assert "s2s-keras" in manager.find_kernel_specs()
    assert manager.get_kernel_spec("s2s-keras").argv[0] == sys.executable


def test_the_registered_kernel_imports_the_package(tmp_path):
    """Start the kernel (not a server) and ask it where it runs."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    lab.install_kernel(prefix=tmp_path)
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "share" / "jupyter" / "kernels")])
    manager = KernelManager(kernel_name="s2s-keras", kernel_spec_manager=specs)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        outputs = []
        reply = client.execute_interactive(
            "import sys, s2s_keras; print(sys.prefix, s2s_keras.__version__)",
            output_hook=lambda msg: outputs.append(msg["content"].get("text", "")),
            timeout=60,
        )
        assert reply["content"]["status"] == "ok"
        import s2s_keras

        assert "".join(outputs).split() == [sys.prefix, s2s_keras.__version__]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_the_notebooks_extra_is_installed():
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["notebooks"]
    names = sorted(r.split(">")[0] for r in extra)
    assert names == ["ipykernel", "ipywidgets", "jupyterlab"]
    from importlib.metadata import version

    for name in names:
        assert version(name), name


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"DISPLAY": ""}, "linux", False),
        ({}, "darwin", True),
        ({}, "win32", True),
    ],
)
def test_a_browser_is_opened_only_where_there_is_a_display(environ, platform, expected):
    assert lab.has_display(environ, platform) is expected


def test_without_a_display_jupyterlab_is_told_not_to_open_a_browser():
    notebooks = ROOT / "notebooks"
    command = lab.lab_command(notebooks, browser=False)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={notebooks}" in command
    assert str(notebooks / lab.FIRST_NOTEBOOK) in command
    assert "--no-browser" in command
    assert "--no-browser" not in lab.lab_command(notebooks, browser=True)


def test_lab_outside_the_repository_says_where_to_run_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "s2s_keras.lab", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("s2s-keras lab: error: no 00_data_and_tokenization.ipynb in")
