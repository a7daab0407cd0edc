"""s2s_keras: sequence-to-sequence learning and neural machine translation with Keras 3.

The package behind the course notebooks (see README.md for the map). Submodules are
imported on demand so that `import s2s_keras` stays cheap; TensorFlow loads with the
first module that needs it (`text`, `pipeline`, `layers`, `models`, ...).
"""

import os
import sys

__version__ = "0.2.0"


def import_tensorflow():
    """Import TensorFlow and tensorflow-text with their native start-up chatter hidden.

    TF 2.21 writes oneDNN/CUDA notices to file descriptor 2 before its logging is set
    up, where `TF_CPP_MIN_LOG_LEVEL` cannot reach them. The command line and the
    notebooks' setup cells call this first; an import error still surfaces as a Python
    exception.

    Returns:
        The `tensorflow` module.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
                import s2s_keras.tf_text  # noqa: F401  (imports tensorflow too)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return sys.modules["tensorflow"]
