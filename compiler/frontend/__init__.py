"""The frontend: the only code that imports onnx/qonnx. Loads a QONNX file (treated as untrusted)
or a bireal_hw checkpoint and builds the IR (`compiler.frontend.importer`)."""

from compiler.frontend.load import load_model_graph

__all__ = ["load_model_graph"]
