"""IR ops, one file each. Importing this package registers them all in `OPS`."""

from compiler.ir.ops import (  # noqa: F401  (imported for registration)
    add,
    conv,
    dequantize_output,
    flatten,
    global_sum_pool,
    matmul,
    max_pool,
    multi_threshold,
    quantize_input,
    requantize,
    scaled_add,
    sign,
    sliding_window,
    sum_pool,
    xnor_popcount_matmul,
)
from compiler.ir.ops.base import OPS, Op

__all__ = ["OPS", "Op"]
