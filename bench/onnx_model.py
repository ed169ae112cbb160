"""The ONNX file the inference peers (ONNX Runtime, OpenVINO) run: torchvision's model with random
weights, exported once per (model, image size) into bench/.cache and reused, so every run of a case
times the same graph and no run pays for the export."""
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def onnx_path(model, image_size):
    """Exports torchvision's `model` (dynamic batch, opset 17) if it is not cached yet; returns the path,
    or None for a model torchvision lacks (the pre-activation resnet_v2_*)."""
    if model.startswith("resnet_v2_"):
        return None
    path = CACHE / f"{model}-{image_size}.onnx"
    if path.exists():
        return path
    import torch
    import torchvision

    CACHE.mkdir(exist_ok=True)
    torch.manual_seed(0)
    net = getattr(torchvision.models, model)(num_classes=1000).eval()
    x = torch.rand(1, 3, image_size, image_size)
    tmp = path.with_suffix(".tmp")
    torch.onnx.export(net, x, str(tmp), opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    tmp.rename(path)
    return path


def inference_peer(precisions):
    """What both ONNX peers do first: parse `resnet benchmark`'s CLI, answer "unsupported" for
    training modes, precisions not in `precisions` and models torchvision lacks; else return the
    arguments and the ONNX file."""
    from peer_timing import exit_unsupported, parse_args

    a = parse_args(nchw_help="accepted for the common CLI; the ONNX graph is NCHW")
    if a.mode != "forward":
        exit_unsupported(a, "mode")
    if a.precision not in precisions:
        exit_unsupported(a, "precision")
    path = onnx_path(a.model, a.image_size)
    if path is None:
        exit_unsupported(a)
    return a, path
