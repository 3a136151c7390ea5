"""hls4ml extension: the `BirealThreshold` layer (folded BatchNorm + requantization as integer
thresholds, and the Bi-Real sign), registered with hls4ml's extension API (layer class, config
and function templates, HLS source) for its Vivado and Vitis backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np

HEADER = Path(__file__).resolve().parent / "nnet_bireal_threshold.h"

_config_template = """struct config{index} : nnet::bireal_threshold_config {{
    static const unsigned n_pixels = {n_pixels};
    static const unsigned n_chan = {n_chan};
    static const unsigned levels = {levels};
    static const int qmin = {qmin};
    static const int step = {step};
    typedef {threshold_t} threshold_t;
    typedef {direction_t} direction_t;
    typedef {accum_t} accum_t;
}};\n"""
_function_template = (
    "nnet::bireal_threshold<{input_t}, {output_t}, {config}>({input}, {output}, {thresholds}, {directions});"
)
_registered = False


def register() -> None:
    """Register the layer with hls4ml once per process."""
    global _registered
    if _registered:
        return
    import hls4ml
    from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
    from hls4ml.model.attributes import Attribute
    from hls4ml.model.layers import Layer
    from hls4ml.model.types import IntegerPrecisionType

    class BirealThreshold(Layer):
        _expected_attributes = [
            Attribute("n_pixels"),
            Attribute("n_chan"),
            Attribute("levels"),
            Attribute("qmin"),
            Attribute("step"),
        ]

        def initialize(self):
            shape = self.get_input_variable().shape
            self.add_output_variable(shape)
            t = self.get_attr("thresholds_data")
            self.add_weights_variable(
                name="thresholds",
                var_name="t{index}",
                data=t,
                precision=IntegerPrecisionType(width=int(self.get_attr("threshold_bits")), signed=True),
            )
            self.add_weights_variable(
                name="directions",
                var_name="d{index}",
                data=self.get_attr("directions_data"),
                precision=IntegerPrecisionType(width=2, signed=True),
            )

    class ConfigTemplate(LayerConfigTemplate):
        def __init__(self):
            super().__init__(BirealThreshold)
            self.template = _config_template

        def format(self, node):
            params = self._default_config_params(node)
            params["threshold_t"] = node.get_weights("thresholds").type.name
            params["direction_t"] = node.get_weights("directions").type.name
            params["accum_t"] = f"ap_int<{int(node.get_attr('accum_bits'))}>"
            return self.template.format(**params)

    class FunctionTemplate(FunctionCallTemplate):
        def __init__(self):
            super().__init__(BirealThreshold, include_header=["nnet_utils/nnet_bireal_threshold.h"])
            self.template = _function_template

        def format(self, node):
            params = self._default_function_params(node)
            params["thresholds"] = node.get_weights("thresholds").name
            params["directions"] = node.get_weights("directions").name
            return self.template.format(**params)

    hls4ml.model.layers.register_layer("BirealThreshold", BirealThreshold)
    for name in ("Vivado", "Vitis"):
        backend = hls4ml.backends.get_backend(name)
        backend.register_template(ConfigTemplate)
        backend.register_template(FunctionTemplate)
        backend.register_source(HEADER)
    _registered = True


def padded_thresholds(t: np.ndarray, accum_bits: int) -> tuple[np.ndarray, int, int]:
    """(channels * (2**levels - 1) thresholds, levels, bits): each channel's ascending thresholds
    padded with a value above every accumulator value, flattened channel-major."""
    steps = t.shape[1]
    levels = max(1, int(np.ceil(np.log2(steps + 1))))
    bits = max(accum_bits + 1, int(np.abs(t).max(initial=0)).bit_length() + 2)
    pad = (1 << (bits - 1)) - 1
    full = np.full((t.shape[0], 2**levels - 1), pad, dtype=np.int64)
    full[:, :steps] = t
    return full.ravel(), levels, bits
