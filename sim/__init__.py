"""The cycle-level simulator of the dataflow design (compiler/hw): values, timing, reports."""

import sys as _sys

if _sys.argv[:1] == ["-m"]:  # `python -m ...` is importing its module: signals end it in one line
    from bireal_hw.errors import exit_early_on_signals as _early

    _early()
