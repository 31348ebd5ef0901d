"""Bad input to the exporters: clear errors that name what is wrong."""
import onnx
import pytest
from onnx import TensorProto, helper

from roboloop.cli import main
from roboloop.policies.export.c_codegen import export_c
from roboloop.policies.export.mlp_graph import UnsupportedGraphError
from roboloop.policies.export.onnx_export import ExportError


def _save(tmp_path, nodes, inputs=("x",), name="g.onnx"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(i, TensorProto.FLOAT, [1, 4]) for i in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), tmp_path / name)
    return tmp_path / name


def test_unsupported_op_is_named(tmp_path):
    path = _save(tmp_path, [helper.make_node("Softmax", ["x"], ["y"], name="probs")])
    with pytest.raises(UnsupportedGraphError, match=r"unsupported op Softmax at node probs .*Gemm, MatMul"):
        export_c(path, tmp_path / "c")


def test_branching_graph_is_not_an_mlp(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Tanh", ["x"], ["b"]),
             helper.make_node("Add", ["a", "b"], ["y"], name="merge")]
    with pytest.raises(UnsupportedGraphError, match=r"not an MLP: node .*\(Tanh\) reads \[.x.\].*branches"):
        export_c(_save(tmp_path, nodes), tmp_path / "c")


def test_two_inputs_are_not_an_mlp(tmp_path):
    path = _save(tmp_path, [helper.make_node("Add", ["x", "z"], ["y"])], inputs=("x", "z"))
    with pytest.raises(UnsupportedGraphError, match="this graph has 2"):
        export_c(path, tmp_path / "c")


def test_corrupt_onnx_file(tmp_path, capsys):
    good = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])])
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(good.read_bytes()[:-9] + b"\xff" * 9)
    with pytest.raises(ExportError, match="corrupt"):
        export_c(bad, tmp_path / "c")
    assert main(["export", "c", str(bad), "--out", str(tmp_path / "c")]) == 2
    assert "bad.onnx is corrupt" in capsys.readouterr().err
    assert main(["export", "c", str(tmp_path / "missing.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # nothing half-written


def test_export_onnx_of_a_missing_checkpoint_is_a_clear_cli_error(tmp_path, capsys):
    assert main(["export", "onnx", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
