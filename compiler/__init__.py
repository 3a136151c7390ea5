"""The compiler: QONNX -> typed integer IR -> passes -> backends.

`compiler.frontend` reads models, `compiler.ir` is the IR and its interpreter, `compiler.passes`
streamlines it to integers, `compiler.build` is the command line (`python -m compiler.build`), `compiler.compile(...)` the
Python API (compiler/api.py).
"""

import sys as _sys

if _sys.argv[:1] == ["-m"]:  # `python -m ...` is importing its module: signals end it in one line
    from bireal_hw.errors import exit_early_on_signals as _early

    _early()


def __getattr__(name: str):
    """`compiler.compile` and `compiler.BuildResult` (compiler/api.py), imported on first use."""
    if name in ("compile", "BuildResult"):
        from compiler import api

        return getattr(api, name)
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")
