"""The generated C99 (host gcc) against onnxruntime, op coverage of the generator, and its guarantees."""
import re
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from roboloop.policies.export.c_codegen import check_fits, export_c, generate_c
from roboloop.policies.export.host_run import HostPolicy
from roboloop.policies.export.mlp_graph import load_onnx, parse_mlp

from .conftest import max_err


def test_float32_c_matches_onnxruntime(c_policies, recorded_obs, ort_actions):
    act, codes = c_policies["none"][1](recorded_obs["state"])
    assert np.all(codes == 0)
    assert max_err(act, ort_actions) <= 1e-5


def test_int8_c_is_within_2e_2_of_onnxruntime(c_policies, recorded_obs, ort_actions):
    act, codes = c_policies["int8"][1](recorded_obs["state"])
    assert np.all(codes == 0)
    err = max_err(act, ort_actions)
    assert err <= 2e-2
    assert err > 1e-6  # it really is the quantized network


def test_generated_c_is_self_contained(c_policies):
    for quant, (d, _) in c_policies.items():
        c = (d / "policy.c").read_text()
        includes = re.findall(r"#include\s+[<\"]([^>\"]+)", c)
        assert includes == ["stdint.h", "policy.h"], includes   # no stdio, no stdlib (malloc), no libm
        assert "malloc(" not in c and "printf(" not in c
        # every weight array lives in flash (const), the only mutable data are the static buffers
        arrays = re.findall(r"^static (const )?(\w+) (\w+)\[", c, flags=re.M)
        assert all(const for const, _, name in arrays if name.startswith("L")), arrays
        assert {name for const, _, name in arrays if not const} <= {"buf_a", "buf_b", "xq_buf"}
        h = (d / "policy.h").read_text()
        assert "int policy_step(const float *obs, float *act);" in h and "#define POLICY_OBS_DIM 13" in h


def test_non_finite_observation_is_refused(c_policies):
    obs = np.zeros((2, 13), np.float32)
    obs[0, 3], obs[1, 7] = np.nan, np.inf
    for _, policy in c_policies.values():
        act, codes = policy(obs)
        assert np.all(codes == 1) and np.all(act == 0.0)


def _graph_with_every_op(path):
    """Sub/Div input normalization, MatMul + Add, LeakyRelu, Gemm(transB=0, alpha, beta), Sigmoid, Mul."""
    rng = np.random.default_rng(0)
    c = {"mean": rng.normal(size=6), "std": rng.uniform(0.5, 2, 6), "w1": rng.normal(size=(6, 16)) * 0.5,
         "b1": rng.normal(size=16), "w2": rng.normal(size=(16, 3)) * 0.5, "b2": rng.normal(size=3),
         "scale": np.array([2.0, -1.0, 0.5])}
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in c.items()]
    nodes = [helper.make_node("Sub", ["x", "mean"], ["t0"]), helper.make_node("Div", ["t0", "std"], ["t1"]),
             helper.make_node("MatMul", ["t1", "w1"], ["t2"]), helper.make_node("Add", ["t2", "b1"], ["t3"]),
             helper.make_node("LeakyRelu", ["t3"], ["t4"], alpha=0.1),
             helper.make_node("Gemm", ["t4", "w2", "b2"], ["t5"], alpha=0.5, beta=2.0),
             helper.make_node("Sigmoid", ["t5"], ["t6"]), helper.make_node("Mul", ["t6", "scale"], ["y"])]
    graph = helper.make_graph(nodes, "ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)


@pytest.mark.parametrize("quant,tol", [("none", 1e-5), ("int8", 2e-2)])
def test_every_supported_op_matches_onnxruntime(tmp_path, quant, tol):
    _graph_with_every_op(tmp_path / "ops.onnx")
    export_c(tmp_path / "ops.onnx", tmp_path, "host", quant, name="ops")
    x = np.random.default_rng(1).normal(size=(500, 6)).astype(np.float32) * 3
    want = ort.InferenceSession(str(tmp_path / "ops.onnx")).run(None, {"x": x})[0]
    got, codes = HostPolicy(tmp_path / "ops.c", name="ops")(x)
    assert np.all(codes == 0) and max_err(got, want) <= tol


def test_too_big_actor_warns_for_the_target(tmp_path):
    w = numpy_helper.from_array(np.zeros((512, 256), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "big",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 512])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), tmp_path / "big.onnx")
    src = generate_c(parse_mlp(load_onnx(tmp_path / "big.onnx")))
    with pytest.warns(UserWarning, match="flash"):
        msgs = check_fits(src, "cortex-m4")       # 512 KiB of float32 weights > 256 KiB
    assert len(msgs) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_fits(src, "stm32f405") == []  # fits in 1 MiB
        assert check_fits(generate_c(src.mlp, quant="int8"), "cortex-m4") == []  # int8 is 4x smaller
