"""galaxylab: the package behind a notebook course on Galaxy Zoo morphology with CNNs."""

import os as _os
import sys as _sys

# TensorFlow prints oneDNN and CPU-feature notices on import; they are noise for students and
# for nbval. Set before any module imports TensorFlow; a user's own setting wins. oneDNN itself
# stays on: it trains several times faster here (bench/bench_models.py --compare-onednn).
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow 2.21 prints its CUDA-probing lines whatever that variable says. In a notebook
# (where they would appear under the first import cell) import it now with them muted; the
# command line keeps importing it lazily, only for the commands that need it. Notebooks also
# drop TensorFlow's Python-level warnings, such as retracing notices.
if "ipykernel" in _sys.modules:
    from galaxylab._quiet import import_tensorflow_quietly, quiet_notebook_logging

    import_tensorflow_quietly()
    quiet_notebook_logging()

__version__ = "0.1.0"
