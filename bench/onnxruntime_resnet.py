#!/usr/bin/env python3
"""Times ONNX Runtime's CPU execution provider on torchvision's ResNet exported to ONNX (random
weights, bench/onnx_model.py), the way `resnet benchmark --mode forward` times SwiftResNet: same batch,
image size, threads, burn-in and timed steps, all graph optimisations on. Inference only, float32 (ONNX
Runtime's CPU provider has no bf16 convolutions); other modes and precisions answer "unsupported".
Prints pytorch_resnet.py's JSON line."""
from onnx_model import inference_peer
from peer_timing import time_and_report

a, path = inference_peer(("fp32",))

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

opts = ort.SessionOptions()
opts.intra_op_num_threads = a.threads
opts.inter_op_num_threads = 1
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).random((a.batch_size, 3, a.image_size, a.image_size), dtype=np.float32)


def step():
    session.run(None, {"input": x})


time_and_report(a, step, onnxruntime=ort.__version__)
