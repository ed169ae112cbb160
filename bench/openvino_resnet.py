#!/usr/bin/env python3
"""Times OpenVINO's CPU plugin on torchvision's ResNet exported to ONNX (random weights,
bench/onnx_model.py), the way `resnet benchmark --mode forward` times SwiftResNet: same batch, image size,
threads, burn-in and timed steps, one synchronous request at a time (the latency hint). The inference
precision is pinned, never left to the plugin's default (which is bf16 on CPUs with bf16):
INFERENCE_PRECISION_HINT f32 for --precision fp32, bf16 for --precision bf16. Inference only.
Prints pytorch_resnet.py's JSON line."""
from onnx_model import inference_peer
from peer_timing import exit_unsupported, time_and_report

a, path = inference_peer(("fp32", "bf16"))

import numpy as np  # noqa: E402
import openvino as ov  # noqa: E402

core = ov.Core()
model = core.read_model(str(path))
model.reshape({"input": [a.batch_size, 3, a.image_size, a.image_size]})  # static shape, as SwiftResNet plans per shape
config = {"INFERENCE_PRECISION_HINT": "f32" if a.precision == "fp32" else "bf16",
          "INFERENCE_NUM_THREADS": a.threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
compiled = core.compile_model(model, "CPU", config)
got = compiled.get_property("INFERENCE_PRECISION_HINT")
if a.precision == "bf16" and got != ov.Type.bf16:
    exit_unsupported(a, f"precision: the CPU plugin compiled {got} (this CPU has no bf16 for OpenVINO)")
got = str(got)
request = compiled.create_infer_request()
x = np.random.default_rng(0).random((a.batch_size, 3, a.image_size, a.image_size), dtype=np.float32)


def step():
    request.infer({"input": x})


time_and_report(a, step, openvino=ov.__version__, inference_precision=got)
