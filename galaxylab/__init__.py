"""galaxylab: the package behind a notebook course on Galaxy Zoo morphology with CNNs."""

import os as _os

# TensorFlow prints oneDNN and CPU-feature notices on import; they are noise for students and
# for nbval. Set before any module imports TensorFlow; a user's own setting wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__version__ = "0.1.0"
