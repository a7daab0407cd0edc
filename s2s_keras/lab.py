"""Open the course: register this environment's Jupyter kernel and start JupyterLab.

`make lab` runs `python -m s2s_keras.lab` with the project's virtual environment. It

1. registers a kernel named `s2s-keras` ("Python 3 (s2s-keras)") that runs this
   environment's Python, inside the environment (`sys.prefix`), so JupyterLab offers it
   and nothing outside the project changes;
2. starts JupyterLab with `notebooks/` as its root, opening the first notebook;
3. on a machine without a display (a server, a container, SSH without X forwarding)
   does not try to open a browser: JupyterLab prints the URL to open instead.

The notebooks themselves name the generic `python3` kernel, which in this JupyterLab is
the same environment; the named kernel is for a JupyterLab installed elsewhere (see the
README).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

KERNEL_NAME = "s2s-keras"
KERNEL_DISPLAY_NAME = "Python 3 (s2s-keras)"
FIRST_NOTEBOOK = "00_data_and_tokenization.ipynb"


def kernel_spec(python: str = sys.executable) -> dict:
    """The `kernel.json` of the course kernel: ipykernel run by `python`."""
    return {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }


def install_kernel(prefix: str | os.PathLike = sys.prefix, python: str = sys.executable) -> Path:
    """Write the kernel spec under `prefix/share/jupyter/kernels/s2s-keras/`.

    Written directly rather than with `ipykernel install`, so that it is the same file
    wherever it runs and needs no Jupyter import; rewritten every time (an environment
    recreated at another path gets the right Python).

    Returns:
        The kernel's directory.
    """
    directory = Path(prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kernel.json").write_text(json.dumps(kernel_spec(python), indent=1) + "\n")
    return directory


def has_display(environ=os.environ, platform: str = sys.platform) -> bool:
    """Whether a browser can open here: always on macOS and Windows, with X or Wayland on Linux."""
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def lab_command(notebooks: str | os.PathLike, *, browser: bool) -> list[str]:
    """The JupyterLab command line: root `notebooks/`, the first notebook open."""
    root = Path(notebooks).resolve()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={root}",
        str(root / FIRST_NOTEBOOK),  # a path JupyterLab opens once it has started
    ]
    if not browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Containers and Colab-like machines run as root, which JupyterLab refuses by default.
        command.append("--allow-root")
    return command


def main(argv: list[str] | None = None) -> int:
    """Register the kernel and replace this process with JupyterLab."""
    argv = sys.argv[1:] if argv is None else argv
    notebooks = Path(argv[0]) if argv else Path("notebooks")
    if not (notebooks / FIRST_NOTEBOOK).is_file():
        print(
            f"s2s-keras lab: error: no {FIRST_NOTEBOOK} in {str(notebooks)!r}; run it from "
            "the repository root or give the notebooks folder",
            file=sys.stderr,
        )
        return 2
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        print(
            "s2s-keras lab: error: JupyterLab is not installed in this environment; "
            "install the notebooks extra: pip install -e '.[notebooks]'",
            file=sys.stderr,
        )
        return 2
    directory = install_kernel()
    print(f"Kernel {KERNEL_DISPLAY_NAME!r} registered in {directory}")
    browser = has_display()
    if not browser:
        print("No display here: not opening a browser; open the http://127.0.0.1 URL below.")
    print(f"Start with {FIRST_NOTEBOOK}, then follow the numbers.", flush=True)
    command = lab_command(notebooks, browser=browser)
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
