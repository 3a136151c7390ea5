"""bireal-hw: Bi-Real Net binary neural networks from PyTorch training to bit-exact hardware.

This package holds the PyTorch/Brevitas side: models, training, QONNX export and the integer
golden reference (`bireal_hw.integer`) that every other executable form must match with `==`.
"""

__version__ = "0.1.0"
