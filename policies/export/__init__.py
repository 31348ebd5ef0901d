"""Export of trained actors: ONNX (onnx_export), our own ONNX -> C99 generator (mlp_graph, c_codegen) with
float32 and int8 variants, and a host build for checking the C (host_run)."""
