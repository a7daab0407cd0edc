"""s2s_keras: sequence-to-sequence learning and neural machine translation with Keras 3.

The package behind the course notebooks (see README.md for the map). Submodules are
imported on demand so that `import s2s_keras` stays cheap; TensorFlow loads with the
first module that needs it (`text`, `pipeline`, `layers`, `models`, ...).
"""

__version__ = "0.1.0"
