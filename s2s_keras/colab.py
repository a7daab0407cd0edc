"""Running the course on Google Colab: a fresh runtime each time, its own TensorFlow.

Each notebook's setup cell installs the pinned stack and this package on Colab, then calls
`setup`. Two things differ from a local run:

- Colab preloads its own NumPy and TensorFlow. When the install replaced one that this
  runtime had already imported, the old version stays in memory until the runtime
  restarts; `setup` stops with a message saying so, rather than letting a notebook fail
  later with a confusing error.
- Every runtime is fresh, so a model trained in one notebook would be gone in the next.
  `setup(drive=True)` mounts Google Drive and points `S2S_RUNS_DIR` at a folder there,
  so the next notebook (and the next session) reuses the models.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

from s2s_keras.errors import S2SError

# Distributions Colab preloads that the install may replace, and their module names.
WATCHED = {"numpy": "numpy", "tensorflow": "tensorflow", "keras": "keras", "ml-dtypes": "ml_dtypes"}
DRIVE_MOUNT = "/content/drive"
DRIVE_FOLDER = "s2s-keras-runs"  # under MyDrive


def replaced(
    modules: Mapping[str, object] = sys.modules,
    installed: Callable[[str], str] = metadata.version,
) -> list[str]:
    """The watched distributions imported here at another version than the installed one.

    Example:
        >>> fake = type("module", (), {"__version__": "1.26.4"})
        >>> replaced({"numpy": fake}, installed={"numpy": "2.1.3"}.get)
        ['numpy 1.26.4 in memory, 2.1.3 installed']
    """
    found = []
    for distribution, module_name in WATCHED.items():
        module = modules.get(module_name)
        loaded = getattr(module, "__version__", None)
        if loaded is None:
            continue
        try:
            now = installed(distribution)
        except metadata.PackageNotFoundError:
            continue
        if now is not None and now != loaded:
            found.append(f"{distribution} {loaded} in memory, {now} installed")
    return found


def setup(
    drive: bool = False,
    *,
    modules: Mapping[str, object] = sys.modules,
    installed: Callable[[str], str] = metadata.version,
    mount: Callable[[str], None] | None = None,
    environ: dict = os.environ,
) -> Path | None:
    """Check the runtime after the install and, with `drive`, keep models in Google Drive.

    Args:
        drive: mount Google Drive and set `S2S_RUNS_DIR` to `MyDrive/s2s-keras-runs`.
        modules, installed, mount, environ: for tests; `mount` defaults to
            `google.colab.drive.mount`.

    Returns:
        The runs folder set in `S2S_RUNS_DIR`, or `None` without `drive`.

    Raises:
        S2SError: the install replaced a module already in memory: restart the runtime.
    """
    stale = replaced(modules, installed)
    if stale:
        raise S2SError(
            "the install above replaced what this Colab runtime had already imported ("
            + "; ".join(stale)
            + "): restart the runtime (Runtime > Restart session), then run the notebook "
            "again from the top; the install is then already done"
        )
    if not drive:
        return None
    if mount is None:
        from google.colab import drive as google_drive  # only on Colab

        mount = google_drive.mount
    mount(DRIVE_MOUNT)
    folder = Path(DRIVE_MOUNT) / "MyDrive" / DRIVE_FOLDER
    environ["S2S_RUNS_DIR"] = str(folder)
    return folder
