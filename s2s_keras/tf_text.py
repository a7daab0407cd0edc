"""The one place that imports tensorflow-text, with an error that says how to fix it.

tensorflow-text must match TensorFlow's minor version, and 2.21.0 fails to import
(an undefined ICU symbol); 2.21.1 works. Importing it also registers the custom ops
that an exported SavedModel needs before `tf.saved_model.load`.
"""

import tensorflow as tf

try:
    import tensorflow_text
except Exception as e:  # ImportError, or a NotFoundError for a mismatched build
    raise ImportError(
        f"tensorflow-text could not be imported next to tensorflow {tf.__version__} "
        f"({type(e).__name__}: {e}). Install the matching build: "
        "pip install 'tensorflow-text>=2.21.1,<2.22' (2.21.0 is broken)."
    ) from e

__all__ = ["tensorflow_text"]
