"""bireal-hw: Bi-Real Net binary neural networks from PyTorch training to bit-exact hardware.

This package holds the PyTorch/Brevitas side: models, training, QONNX export and the integer
golden reference (`bireal_hw.integer`) that every other executable form must match with `==`.
"""

__version__ = "0.1.0"

import sys as _sys
import warnings as _warnings

# Brevitas warns at import about an optional CUDA kernel package that nothing here uses.
_warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")

if _sys.argv[:1] == ["-m"]:  # `python -m ...` is importing its module: signals end it in one line
    from bireal_hw.errors import exit_early_on_signals as _early

    _early()
