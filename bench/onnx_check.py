#!/usr/bin/env python3
"""Cross-checks `resnet export --format onnx` against ONNX Runtime.

For each model: a freshly initialised network (`resnet export --init-seed`) is written as
torchvision-keyed safetensors, its batch-norm statistics, scales and shifts are then randomised here
(so folding them is really exercised), and that file is exported to ONNX twice, batch norm folded
and kept. Random RGB images of exactly the crop size are written as PNGs, so SwiftResNet's resize
and crop leave them as they are; `resnet predict --format json --logits` gives SwiftResNet's logits
and ONNX Runtime runs the ONNX files on the same pixels, normalised with the mean and std the
model's ONNX metadata records. Every logit must agree within --tolerance (absolute).

    pip install onnxruntime numpy
    python3 bench/onnx_check.py --resnet .build/debug/resnet [--models resnet18,resnet50] [--tolerance 1e-4]

Exits 1 when a model disagrees, 2 when a tool fails.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import onnxruntime as ort

DEFAULT_MODELS = "resnet18,resnet50,resnet_v2_50,resnet20"


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64}[e["dtype"]]
        b, end = e["data_offsets"]
        tensors[name] = np.frombuffer(data[b:end], dtype=dtype).reshape(e["shape"]).copy()
    return tensors


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name])
        raw = t.tobytes()
        header[name] = {"dtype": "I64" if t.dtype == np.int64 else "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_png(path, rgb):
    """An 8-bit RGB PNG of `rgb` (H, W, 3), no library needed."""
    h, w, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def randomise(tensors, rng):
    """Batch-norm statistics and affine parameters drawn at random, biases too."""
    for name, t in tensors.items():
        if t.dtype != np.float32:
            continue
        if name.endswith("running_mean") or (name.endswith(".bias") and not name.startswith("fc")):
            tensors[name] = rng.normal(0, 0.1, t.shape).astype(np.float32)
        elif name.endswith("running_var"):
            tensors[name] = rng.uniform(0.5, 2.0, t.shape).astype(np.float32)
        elif t.ndim == 1 and name.endswith(".weight"):
            tensors[name] = rng.uniform(0.5, 1.5, t.shape).astype(np.float32)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"onnx_check: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[:2000]}", file=sys.stderr)
        sys.exit(2)
    return r.stdout


def check(resnet, model, work, rng, tolerance, images):
    init = os.path.join(work, f"{model}.init.safetensors")
    weights = os.path.join(work, f"{model}.safetensors")
    classes_args = []
    # The CIFAR nets have 10 outputs: name them.
    if model.startswith("resnet") and model[6:].isdigit() and int(model[6:]) in (20, 32, 44, 56, 110):
        classes = os.path.join(work, "classes10.txt")
        with open(classes, "w") as f:
            f.write("\n".join(f"class {i}" for i in range(10)) + "\n")
        classes_args = ["--classes", classes]
    run([resnet, "export", "--model", model, "--init-seed", "7", *classes_args, "--format", "safetensors", "--out", init])
    tensors = read_safetensors(init)
    randomise(tensors, rng)
    write_safetensors(weights, tensors)
    source = ["--model", model, "--weights", weights, *classes_args]
    side = 32 if classes_args else 224
    if not images.get(side):
        pixels = [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(3)]
        files = []
        for i, p in enumerate(pixels):
            files.append(os.path.join(work, f"image{side}-{i}.png"))
            write_png(files[-1], p)
        images[side] = (pixels, files)
    pixels, files = images[side]
    predict = [resnet, "predict", *source, "--resize-shorter", str(side), "--image-size", str(side),
               "--format", "json", "--logits", "--top-k", "1", *files]
    # Random weights without normalised residual streams (v2) give logits in the hundreds, where
    # float32 itself rounds by 1e-4: the classifier is scaled so the largest logit is 10, about a
    # trained network's, and the file written again.
    first = np.array([row["logits"] for row in json.loads(run(predict))], dtype=np.float64)
    factor = np.float32(10.0 / max(float(np.max(np.abs(first))), 1e-6))
    tensors["fc.weight"] *= factor
    tensors["fc.bias"] *= factor
    write_safetensors(weights, tensors)
    results = {"swift": np.array([row["logits"] for row in json.loads(run(predict))], dtype=np.float64)}
    for fold in ("--fold-bn", "--no-fold-bn"):
        path = os.path.join(work, f"{model}{fold}.onnx")
        run([resnet, "export", *source, "--format", "onnx", "--out", path, fold])
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        meta = session.get_modelmeta().custom_metadata_map
        pre = json.loads(meta["preprocessing"])
        assert pre["height"] == side and pre["width"] == side, f"ONNX metadata says {pre['height']}x{pre['width']}, expected {side}"
        x = np.stack([p.astype(np.float32) * np.float32(pre["rescale"]) for p in pixels])
        x = (x - np.array(pre["mean"], np.float32)) / np.array(pre["std"], np.float32)
        logits = session.run(None, {session.get_inputs()[0].name: x.transpose(0, 3, 1, 2).astype(np.float32)})[0]
        # The batch dimension is symbolic: one image alone gives the same logits.
        single = session.run(None, {session.get_inputs()[0].name: x[:1].transpose(0, 3, 1, 2).astype(np.float32)})[0]
        diff = float(np.max(np.abs(logits.astype(np.float64) - results["swift"])))
        scale = float(np.max(np.abs(results["swift"])))
        batch_diff = float(np.max(np.abs(single[0] - logits[0])))
        results[fold] = (diff, scale, batch_diff)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resnet", default=".build/debug/resnet")
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    failed = False
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}; tolerance {args.tolerance} (max abs logit difference)")
    with tempfile.TemporaryDirectory(prefix="onnx-check-") as work:
        images = {}
        for model in args.models.split(","):
            results = check(os.path.abspath(args.resnet), model, work, rng, args.tolerance, images)
            for fold in ("--fold-bn", "--no-fold-bn"):
                diff, scale, batch_diff = results[fold]
                ok = diff <= args.tolerance and batch_diff <= args.tolerance
                failed |= not ok
                print(f"{'ok  ' if ok else 'FAIL'} {model:14} {fold:12} max |swift - onnxruntime| = {diff:.3g} "
                      f"(largest |logit| {scale:.3g}); batch 1 vs 3: {batch_diff:.3g}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
