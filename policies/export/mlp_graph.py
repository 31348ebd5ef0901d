"""Read an ONNX graph as a plain MLP: a chain of dense layers, element-wise activations and affines.

This is the front end of the C generator. It accepts exactly the graphs our actors export to (one
float32 input, one output, one computed tensor flowing through the chain) and refuses everything else
with an error that names the node: an unsupported op, a second input, a branch, a shape that does not
chain. Supported ops: Gemm, MatMul, Add, Sub, Mul, Div (with constants), Relu, LeakyRelu, Tanh,
Sigmoid, Identity, Flatten.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from roboloop.policies.export.onnx_export import ExportError

SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Tanh", "Sigmoid",
                 "Identity", "Flatten")
ACTIVATIONS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}


class UnsupportedGraphError(ExportError):
    """The ONNX graph uses an op, or a topology, that the C generator does not handle."""


@dataclass
class Dense:
    w: np.ndarray            # (out, in) float32
    b: np.ndarray            # (out,) float32
    relu: bool = False       # ReLU fused into this layer

    @property
    def n_in(self) -> int:
        return self.w.shape[1]

    @property
    def n_out(self) -> int:
        return self.w.shape[0]


@dataclass
class Activation:
    kind: str                # relu | leaky_relu | tanh | sigmoid
    alpha: float = 0.01      # LeakyRelu slope


@dataclass
class Affine:
    scale: np.ndarray        # (n,) float32: y = x * scale + shift, element-wise
    shift: np.ndarray


@dataclass
class MLP:
    obs_dim: int
    act_dim: int
    layers: list = field(default_factory=list)      # Dense | Activation | Affine, in order
    input_name: str = "state"
    output_name: str = "action"
    metadata: dict = field(default_factory=dict)

    @property
    def dense(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Reference evaluation in float64 (N, obs_dim) -> (N, act_dim); used to check the parse."""
        x = np.asarray(x, np.float64)
        for layer in self.layers:
            if isinstance(layer, Dense):
                x = x @ layer.w.T.astype(np.float64) + layer.b
                if layer.relu:
                    x = np.maximum(x, 0.0)
            elif isinstance(layer, Affine):
                x = x * layer.scale + layer.shift
            else:
                x = _activate(x, layer)
        return x


def _activate(x: np.ndarray, act: Activation) -> np.ndarray:
    if act.kind == "relu":
        return np.maximum(x, 0.0)
    if act.kind == "leaky_relu":
        return np.where(x >= 0, x, act.alpha * x)
    if act.kind == "tanh":
        return np.tanh(x)
    return 1.0 / (1.0 + np.exp(-x))


def load_onnx(path: str | Path):
    """onnx.ModelProto from `path`, with clear errors for a missing or corrupt file."""
    import onnx
    from google.protobuf.message import DecodeError
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"ONNX file {path} does not exist")
    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError, RuntimeError) as e:
        raise ExportError(f"ONNX file {path} is corrupt or not an ONNX model: {str(e).splitlines()[0][:200]}") \
            from None
    if not model.graph.node:
        raise ExportError(f"ONNX file {path} is corrupt or not an ONNX model: its graph has no nodes")
    return model


def parse_mlp(model) -> MLP:
    """The MLP held by an onnx.ModelProto; raises UnsupportedGraphError for anything else."""
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        names = ", ".join(f"{i.name}{_shape(i)}" for i in inputs)
        raise UnsupportedGraphError(f"not an MLP: the C generator takes one float32 vector input, this graph has "
                                    f"{len(inputs)} ({names}); image actors export to ONNX only")
    inp = inputs[0]
    shape = _shape(inp)
    if inp.type.tensor_type.elem_type != TensorProto.FLOAT or len(shape) != 2 or not isinstance(shape[1], int):
        raise UnsupportedGraphError(f"not an MLP: input {inp.name!r} must be float32 (batch, D), "
                                    f"got {TensorProto.DataType.Name(inp.type.tensor_type.elem_type)} {shape}")
    if len(g.output) != 1:
        raise UnsupportedGraphError(f"not an MLP: {len(g.output)} outputs; the C generator takes one")
    mlp = MLP(obs_dim=shape[1], act_dim=0, input_name=inp.name, output_name=g.output[0].name,
              metadata={p.key: p.value for p in model.metadata_props})
    current, width = inp.name, shape[1]

    for node in g.node:
        where = f"node {node.name or '?'} ({node.op_type})"
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t).astype(np.float64)
            continue
        if node.op_type not in SUPPORTED_OPS:
            raise UnsupportedGraphError(f"unsupported op {node.op_type} at {where}; the C generator handles "
                                        f"{', '.join(SUPPORTED_OPS)}")
        dynamic = [i for i in node.input if i and i not in consts]
        if dynamic != [current] or len(node.output) != 1:
            raise UnsupportedGraphError(f"not an MLP: {where} reads {list(node.input)}, but a chain must read "
                                        f"exactly the previous result {current!r} (branches and extra inputs "
                                        "are not supported)")
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        op = node.op_type
        if op == "Gemm":
            if attrs.get("transA", 0):
                raise UnsupportedGraphError(f"{where}: transA=1 is not supported")
            w = consts[node.input[1]]
            w = w if attrs.get("transB", 0) else w.T   # -> (out, in)
            w = w * attrs.get("alpha", 1.0)
            b = consts[node.input[2]] * attrs.get("beta", 1.0) if len(node.input) > 2 and node.input[2] else 0.0
            width = _add_dense(mlp, w, b, width, where)
        elif op == "MatMul":
            if node.input[0] != current:
                raise UnsupportedGraphError(f"{where}: constant @ activation is not an MLP layer")
            width = _add_dense(mlp, consts[node.input[1]].T, 0.0, width, where)
        elif op in ("Add", "Sub", "Mul", "Div"):
            const_first = node.input[0] != current
            c = consts[node.input[0 if const_first else 1]]
            c = _vector(c, width, where)
            one, zero = np.ones(width), np.zeros(width)
            if op == "Add":
                aff = Affine(one, c)
            elif op == "Sub":
                aff = Affine(-one, c) if const_first else Affine(one, -c)
            elif op == "Mul":
                aff = Affine(c, zero)
            else:
                if const_first:
                    raise UnsupportedGraphError(f"{where}: constant / activation is not supported")
                aff = Affine(1.0 / c, zero)
            mlp.layers.append(aff)
        elif op in ACTIVATIONS:
            mlp.layers.append(Activation(ACTIVATIONS[op], float(attrs.get("alpha", 0.01))))
        elif op == "Flatten" and attrs.get("axis", 1) != 1:
            raise UnsupportedGraphError(f"{where}: only Flatten(axis=1) on (batch, D) is supported")
        current = node.output[0]

    if current != mlp.output_name:
        raise UnsupportedGraphError(f"not an MLP: the output {mlp.output_name!r} is not the end of the chain")
    if not mlp.dense:
        raise UnsupportedGraphError("not an MLP: the graph has no Gemm/MatMul layer")
    mlp.act_dim = width
    mlp.layers = _simplify(mlp.layers)
    return mlp


def _shape(value_info) -> tuple:
    dims = value_info.type.tensor_type.shape.dim
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims)


def _vector(c: np.ndarray, width: int, where: str) -> np.ndarray:
    c = np.asarray(c, np.float64)
    if c.size == 1:
        return np.full(width, float(c.reshape(())))
    c = c.reshape(-1) if c.ndim == 1 or (c.ndim == 2 and c.shape[0] == 1) else None
    if c is None or c.size != width:
        raise UnsupportedGraphError(f"{where}: constant must be a scalar or a ({width},) vector")
    return c


def _add_dense(mlp: MLP, w: np.ndarray, b, width: int, where: str) -> int:
    if w.ndim != 2:
        raise UnsupportedGraphError(f"{where}: weight must be a matrix, got shape {w.shape}")
    if w.shape[1] != width:
        raise UnsupportedGraphError(f"{where}: weight expects {w.shape[1]} inputs, the previous layer gives {width}")
    b = np.broadcast_to(np.asarray(b, np.float64), (w.shape[0],)).copy()
    mlp.layers.append(Dense(w, b))
    return w.shape[0]


def _simplify(layers: list) -> list:
    """Fold affines into the neighbouring dense layer and ReLUs into the dense before them; cast to float32."""
    out: list = []
    pending: Affine | None = None           # an affine waiting for the next dense layer (input scaling)
    for layer in layers:
        prev = out[-1] if out else None
        if isinstance(layer, Affine):
            if isinstance(prev, Dense) and not prev.relu:
                # y = (W x + b) * s + t  ==  (s W) x + (s b + t)
                prev.w, prev.b = prev.w * layer.scale[:, None], prev.b * layer.scale + layer.shift
            elif prev is None:
                pending = layer if pending is None else Affine(pending.scale * layer.scale,
                                                               pending.shift * layer.scale + layer.shift)
            elif isinstance(prev, Affine):
                prev.scale, prev.shift = prev.scale * layer.scale, prev.shift * layer.scale + layer.shift
            else:
                out.append(Affine(layer.scale.copy(), layer.shift.copy()))
        elif isinstance(layer, Dense):
            if pending is not None:
                # W (x s + t) + b  ==  (W s) x + (W t + b)
                layer.b = layer.w @ pending.shift + layer.b
                layer.w = layer.w * pending.scale[None, :]
                pending = None
            out.append(layer)
        elif isinstance(layer, Activation) and layer.kind == "relu" and isinstance(prev, Dense) and not prev.relu:
            prev.relu = True
        else:
            if pending is not None:
                out.append(pending)
                pending = None
            out.append(layer)
    for layer in out:
        if isinstance(layer, Dense):
            layer.w, layer.b = layer.w.astype(np.float32), layer.b.astype(np.float32)
        elif isinstance(layer, Affine):
            layer.scale, layer.shift = layer.scale.astype(np.float32), layer.shift.astype(np.float32)
    return out
