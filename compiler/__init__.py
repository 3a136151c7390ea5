"""The compiler (QONNX -> typed integer IR -> passes -> backends). Next milestone (issue 3); empty today."""
