"""bireal-hw: Bi-Real Net binary neural networks from PyTorch training to bit-exact hardware.

This package holds the PyTorch/Brevitas side: models, training, QONNX export and the integer
golden reference (`bireal_hw.integer`) that every other executable form must match with `==`.
"""

__version__ = "0.1.0"

import warnings as _warnings

# Brevitas warns at import about an optional CUDA kernel package that nothing here uses.
_warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found")
