"""What a build compiles, from whatever the user gave: a QONNX file (untrusted), a bireal_hw
checkpoint, a model name (`bireal18`, `bireal34`, `bireal_small`: random weights with randomized
BatchNorm, marked so in the report), or through the Python API a bireal_hw or Brevitas
`nn.Module`, an `onnx.ModelProto` or a QONNX `ModelWrapper`.

`resolve_model(...)` turns the user's value into a `ModelSource` once, before any work; every
step asks the source, never the raw value: its IR (`onnx_proto`), its integer golden (the
bireal_hw model, when there is one), its digest for the build's fingerprint and its description
for the report.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from bireal_hw.errors import UserError
from compiler.fingerprint import file_digest


def named_models() -> tuple[str, ...]:
    """The Bi-Real models by name, then the Brevitas bnn_pynq zoo (cnv_w1a1, ..., tfc_w2a2)."""
    from bireal_hw.bnn_pynq import MODELS
    from bireal_hw.models import MODEL_CONFIGS

    return tuple(sorted(MODEL_CONFIGS)) + MODELS


def _zoo_source(name: str, seed: int) -> ModelSource:
    """A bnn_pynq zoo model: seeded random weights and randomized BatchNorm, exported with
    Brevitas' own QONNX export and built as a file of another author (its reference: the IR as
    imported)."""
    from bireal_hw import bnn_pynq

    z = bnn_pynq.zoo_model(name)
    source = _brevitas_source(bnn_pynq.build(name, seed), z.input_shape)
    source.kind, source.random_weights = "zoo", True
    source.label = f"{name} (Brevitas bnn_pynq {z.arch.upper()} W{z.weight_bits}A{z.act_bits}, random weights, seed {seed})"
    return source


@dataclass
class ModelSource:
    kind: str  # "onnx" | "checkpoint" | "named" | "zoo" | "module" | "brevitas" | "proto"
    label: str  # how the report names it
    digest: str  # SHA-256 of what defines it (file bytes, or name + options + seed, or the weights)
    path: Path | None = None  # the file, for "onnx" and "checkpoint"
    random_weights: bool = False
    _bireal: object = None  # the bireal_hw BiRealNet (eval mode), when there is one
    _proto: object = None  # an in-memory ModelProto ("module" of Brevitas, "proto")
    _made: dict = field(default_factory=dict)

    @property
    def has_golden(self) -> bool:
        """A bireal_hw model stands behind it: its integer golden is the reference."""
        return self.kind in ("checkpoint", "named", "module")

    def bireal_model(self):
        """The bireal_hw model (loaded or made once)."""
        if "model" not in self._made:
            if self.kind == "checkpoint":
                from bireal_hw.checkpoint import load_model

                self._made["model"] = load_model(self.path)[0]
            elif self._bireal is not None:
                self._made["model"] = self._bireal
            else:
                raise UserError(f"{self.label} is not a bireal_hw model; give --reference CHECKPOINT.pt")
        return self._made["model"]

    def onnx_proto(self, scratch: Path):
        """The model as an ONNX proto, passed through the untrusted-file checks unless this
        project's own exporter made it from a bireal_hw model. `scratch`: a folder of this build
        where an in-memory proto is written to be checked like a file."""
        from compiler.frontend.safe_load import load_untrusted_onnx

        if self.has_golden:
            from bireal_hw.export import export_qonnx_model

            return export_qonnx_model(self.bireal_model())
        if self.kind == "onnx":
            return load_untrusted_onnx(self.path)
        path = scratch / "input.onnx"
        path.write_bytes(self._proto.SerializeToString())
        try:
            return load_untrusted_onnx(path)
        finally:
            path.unlink(missing_ok=True)

    @property
    def graph_name(self) -> str:
        if self.has_golden:
            return self.bireal_model().cfg.name
        return self.path.stem if self.path is not None else self.label

    def describe(self) -> dict:
        out = {"kind": self.kind, "name": self.label, "sha256": self.digest}
        if self.random_weights:
            out["random_weights"] = True
        return out


def _module_digest(module) -> str:
    import torch

    h = hashlib.sha256(type(module).__qualname__.encode())
    cfg = getattr(module, "cfg", None)
    if cfg is not None and hasattr(cfg, "to_dict"):
        h.update(repr(sorted(cfg.to_dict().items())).encode())
    for name, value in module.state_dict().items():
        h.update(name.encode())
        if isinstance(value, torch.Tensor):
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def named_model(name: str, residual_bits: int | None = None, seed: int = 0):
    """The named Bi-Real model with random weights and randomized BatchNorm (negative, zero and
    tiny gamma; rounding ties), a pure function of (name, residual_bits, seed)."""
    import torch

    from bireal_hw.models import model_config
    from bireal_hw.random_models import ModelSpec, make_model

    overrides = {} if residual_bits is None else {"residual_bits": residual_bits}
    try:
        cfg = model_config(name, **overrides)
    except ValueError as exc:
        raise UserError(f"--model {name}: {exc}") from None
    with torch.random.fork_rng():
        return make_model(ModelSpec(seed, cfg, 0))


def _file_source(path: Path) -> ModelSource:
    shown = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UserError(
            f"model {shown} not found; give FILE.onnx, a checkpoint .pt or a model name "
            f"({', '.join(named_models())})"
        ) from None
    except OSError as exc:
        raise UserError(f"model {shown}: cannot read it ({exc.strerror}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"model {shown} is a folder; give the .onnx or .pt file inside it")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"model {shown} is not a regular file (a FIFO or device?); give an .onnx or .pt file")
    if not os.access(path, os.R_OK):
        raise UserError(f"model {shown} is not readable; check its permissions")
    from compiler.frontend.load import CHECKPOINT_SUFFIXES

    kind = "checkpoint" if path.suffix.lower() in CHECKPOINT_SUFFIXES else "onnx"
    return ModelSource(kind, shown, file_digest(path), path=path)


def resolve_model(model, residual_bits: int | None = None, seed: int = 0, input_shape=None) -> ModelSource:
    """The ModelSource of `model` (see the module docstring); UserError on anything else."""
    if isinstance(model, ModelSource):
        return model
    if isinstance(model, str | os.PathLike):
        text = os.fspath(model)
        if not text.strip():
            raise UserError("--model is empty; give FILE.onnx, a checkpoint .pt or a model name")
        from bireal_hw.bnn_pynq import MODELS

        if text in MODELS and not os.path.exists(text):
            if residual_bits is not None:
                raise UserError(f"--residual-bits applies to the Bi-Real models, not to {text}")
            return _zoo_source(text, seed)
        if text in named_models() and not os.path.exists(text):
            net = named_model(text, residual_bits, seed)
            bits = net.cfg.residual_bits
            label = f"{text} (random weights, seed {seed}, {bits}-bit residual grid)"
            return ModelSource("named", label, _module_digest(net), random_weights=True, _bireal=net)
        if residual_bits is not None:
            raise UserError("--residual-bits applies to a named model (bireal18, ...), not to a file")
        return _file_source(Path(text))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        torch = None
    if torch is not None and isinstance(model, torch.nn.Module):
        from bireal_hw.models import BiRealNet

        if isinstance(model, BiRealNet):
            from bireal_hw.validate import require_finite

            for name, value in model.state_dict().items():
                if isinstance(value, torch.Tensor) and value.is_floating_point():
                    require_finite(f"the model's tensor {name!r}", value)
            model.eval()
            return ModelSource("module", model.cfg.name, _module_digest(model), _bireal=model)
        return _brevitas_source(model, input_shape)
    proto = getattr(model, "model", model)  # a QONNX ModelWrapper holds its proto as .model
    try:
        from onnx import ModelProto
    except ImportError:  # pragma: no cover
        ModelProto = ()
    if isinstance(proto, ModelProto):
        data = proto.SerializeToString()
        name = proto.graph.name or "model"
        return ModelSource("proto", name, hashlib.sha256(data).hexdigest(), _proto=proto)
    raise UserError(
        f"cannot build a {type(model).__name__}: give a path (.onnx or .pt), a model name, a bireal_hw "
        "or Brevitas nn.Module, an onnx.ModelProto or a qonnx ModelWrapper"
    )


def _brevitas_source(module, input_shape) -> ModelSource:
    """A Brevitas model of another author, exported with Brevitas' own QONNX export."""
    import torch

    if input_shape is None:
        raise UserError(
            f"a {type(module).__name__} needs input_shape=(1, C, H, W) to be exported; pass it to compile()"
        )
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise UserError(f"input_shape must be (1, C, H, W) integers, got {input_shape!r}") from None
    if len(shape) != 4 or shape[0] != 1 or min(shape) < 1:
        raise UserError(f"input_shape must be (1, C, H, W) with positive sizes, got {input_shape!r}")
    import contextlib
    import io
    import tempfile
    import warnings

    import onnx
    from brevitas.export import export_qonnx

    module.eval()
    try:
        with tempfile.TemporaryDirectory(prefix="bireal-brevitas-") as tmp:
            path = os.path.join(tmp, "model.onnx")
            with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                export_qonnx(module, torch.zeros(shape), export_path=path)
            data = Path(path).read_bytes()
    except Exception as exc:  # Brevitas raises arbitrary types on models it cannot export
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f"Brevitas could not export the {type(module).__name__} ({first})") from None
    proto = onnx.load_from_string(data)
    return ModelSource("brevitas", type(module).__name__, hashlib.sha256(data).hexdigest(), _proto=proto)
