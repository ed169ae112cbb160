"""What the two peer scripts (pytorch_resnet.py, tensorflow_resnet.py) share: the CLI of `resnet
benchmark`, the "unsupported model" reply, and the timing loop with its one-line JSON report, so both
peers are timed exactly alike. Standard library only: TensorFlow must not be imported before its
threads are set."""
import argparse, json, resource, statistics, sys, time


def parse_args(warmup_help=None, nchw_help="use PyTorch's default NCHW layout instead of channels_last"):
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="resnet50")
    p.add_argument("--mode", choices=["forward", "backward", "train"], default="forward")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=10, help=warmup_help)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--nchw", action="store_true", help=nchw_help)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: the framework's own mixed precision (autocast, an inference precision hint)")
    return p.parse_args()


def exit_unsupported(a, why="model"):
    """Answers a model, mode or precision this framework lacks, so bench/compare.py can ask every
    framework for every case."""
    print(json.dumps({"model": a.model, "mode": a.mode, "precision": a.precision, "unsupported": True, "why": why}))
    sys.exit(0)


def time_and_report(a, step, **extra):
    """`a.warmup` untimed steps, then `a.steps` timed ones; prints the JSON line compare.py reads."""
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(json.dumps({"model": a.model, "mode": a.mode, "precision": a.precision, "median": statistics.median(times), "mean": statistics.mean(times),
                      "std": statistics.pstdev(times),
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, **extra}))
