#!/usr/bin/env python3
"""Times a torchvision ResNet the way `resnet benchmark` times SwiftResNet: same model, batch,
image size, threads, burn-in and timed steps; channels_last (PyTorch's fast CPU layout).
Prints one JSON line: {"model", "mode", "median", "mean", "std", "peak_rss_bytes"}, or
{"model", "mode", "unsupported": true} for SwiftResNet's pre-activation resnet_v2_* models, which
torchvision lacks (so bench/compare.py can ask every framework for every case).
--precision bf16 runs the forward pass and the loss under CPU autocast to bfloat16, float32 master
weights and optimizer (what a PyTorch user does for mixed precision on a CPU with bf16)."""
import contextlib

import torch
import torchvision

from peer_timing import exit_unsupported, parse_args, time_and_report

a = parse_args()
if a.model.startswith("resnet_v2_"):
    exit_unsupported(a)

torch.set_num_threads(a.threads)
net = getattr(torchvision.models, a.model)(num_classes=1000)
fmt = torch.contiguous_format if a.nchw else torch.channels_last
net = net.to(memory_format=fmt)
x = torch.rand(a.batch_size, 3, a.image_size, a.image_size).to(memory_format=fmt)
y = torch.randint(0, 1000, (a.batch_size,))
opt = torch.optim.SGD(net.parameters(), lr=1e-4, momentum=0.9)
loss_fn = torch.nn.CrossEntropyLoss()


def autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16) if a.precision == "bf16" else contextlib.nullcontext()


def step():
    if a.mode == "forward":
        with torch.inference_mode(), autocast():
            net(x)
        return
    with autocast():
        loss = loss_fn(net(x), y)
    loss.backward()
    if a.mode == "train":
        opt.step()
    opt.zero_grad(set_to_none=True)


net.eval() if a.mode == "forward" else net.train()
time_and_report(a, step)
