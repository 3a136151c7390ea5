"""The compiler: QONNX -> typed integer IR -> passes -> backends.

`compiler.frontend` reads models, `compiler.ir` is the IR and its interpreter, `compiler.passes`
streamlines it to integers, `compiler.build` is the command line (`python -m compiler.build`).
"""
