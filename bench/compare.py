#!/usr/bin/env python3
"""Runs SwiftResNet, PyTorch, TensorFlow, ONNX Runtime and OpenVINO side by side on the benchmark cases
(float32, and bf16 mixed precision where the CPU has it) and prints one Markdown table of medians and
ratios against each case's target.

Why it is built this way: the machines this runs on are small and shared, so single timings lie. Every
framework runs in its own fresh process (peak memory is then per case, and no framework warms another's
caches), the three alternate case by case and round by round (the starting framework rotates each round),
and each table entry is the median over rounds of each run's median step time. Stdlib only: the peers'
packages live in a virtual environment (bench/.venv, or --python) that only the child processes use.
Raw results go to --json-out after every run, so an interrupted session keeps what it measured."""
import argparse, csv, datetime, gzip, json, os, platform, statistics, subprocess, sys, tempfile, time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FRAMEWORKS = ("SwiftResNet", "PyTorch", "TensorFlow", "ONNXRuntime", "OpenVINO")
PEER_SCRIPTS = {"PyTorch": "pytorch_resnet.py", "TensorFlow": "tensorflow_resnet.py",
                "ONNXRuntime": "onnxruntime_resnet.py", "OpenVINO": "openvino_resnet.py"}
PEER_NAMES = {"PyTorch": "torch", "TensorFlow": "tensorflow"}
# The Python modules each peer needs, and the PyPI packages that bring them.
PEER_MODULES = {"PyTorch": ("torch", "torchvision"), "TensorFlow": ("tensorflow",),
                "ONNXRuntime": ("onnxruntime", "torch", "torchvision", "onnx"),
                "OpenVINO": ("openvino", "torch", "torchvision", "onnx")}
PIP_NAMES = {"tensorflow": "tensorflow-cpu" if platform.machine() in ("x86_64", "AMD64") else "tensorflow"}
COLUMN_NAMES = {"SwiftResNet": "SwiftResNet", "PyTorch": "PyTorch", "TensorFlow": "TensorFlow",
                "ONNXRuntime": "ONNX Runtime", "OpenVINO": "OpenVINO"}
INFERENCE_PEERS = ("PyTorch", "TensorFlow", "ONNXRuntime", "OpenVINO")
TRAINING_PEERS = ("PyTorch", "TensorFlow")

# kind: "step" = `resnet benchmark` and its peers; "memory" = peak RSS of another case's runs;
# "epoch" = one Fashion-MNIST ResNet-20 training epoch. target: the highest SwiftResNet / best-peer ratio.
# precision "bf16": every framework in its own mixed precision (SwiftResNet --precision bf16, PyTorch CPU
# autocast, OpenVINO's bf16 inference hint); those cases need a CPU with bf16 (AVX512_BF16 or AMX).
CASES = {
    "v2_152_forward": dict(kind="step", model="resnet_v2_152", mode="forward", batch=32, peers=("TensorFlow",), target=0.90),
    "r50_forward": dict(kind="step", model="resnet50", mode="forward", batch=32, peers=INFERENCE_PEERS, target=0.90),
    "r50_train": dict(kind="step", model="resnet50", mode="train", batch=32, peers=TRAINING_PEERS, target=0.90),
    "r50_train_memory": dict(kind="memory", source="r50_train", target=0.75),
    "r50_latency": dict(kind="step", model="resnet50", mode="forward", batch=1, steps_factor=3, unit="ms",
                        peers=INFERENCE_PEERS, target=0.90),
    "fmnist_epoch": dict(kind="epoch", peers=TRAINING_PEERS, target=0.90),
    "r50_forward_bf16": dict(kind="step", model="resnet50", mode="forward", batch=32, precision="bf16",
                             peers=("PyTorch", "OpenVINO"), target=0.95),
    "r50_train_bf16": dict(kind="step", model="resnet50", mode="train", batch=32, precision="bf16", peers=("PyTorch",), target=0.90),
    "r50_train_memory_bf16": dict(kind="memory", source="r50_train_bf16", target=0.60),
    "r50_latency_bf16": dict(kind="step", model="resnet50", mode="forward", batch=1, steps_factor=3, unit="ms",
                             precision="bf16", peers=("PyTorch", "OpenVINO"), target=0.95),
}
DEFAULT_CASES = [c for c in CASES if CASES[c].get("precision", CASES.get(CASES[c].get("source"), {}).get("precision")) != "bf16"]
FULL_TRAIN_IMAGES = 54000  # SwiftResNet's 9:1 train/validation split of Fashion-MNIST's 60000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="cases: " + ", ".join(CASES))
    p.add_argument("--python", help="an interpreter that already has torch, torchvision and tensorflow (default: bench/.venv, created if missing)")
    p.add_argument("--resnet", default=str(ROOT / ".build/release/resnet"), help="the SwiftResNet CLI (default: %(default)s)")
    p.add_argument("--cases", default=",".join(DEFAULT_CASES),
                   help="comma-separated subset of the cases, or `all` (default: the float32 ones; add the *_bf16 cases on a CPU with bf16)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epoch-rounds", type=int, default=1, help="rounds of the fmnist_epoch case (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, help="override the batch of the batch-32 cases")
    p.add_argument("--images", type=int, default=FULL_TRAIN_IMAGES, help="training images of the fmnist_epoch case")
    p.add_argument("--dataset-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--json-out", default=str(BENCH / "results.json"))
    p.add_argument("--quick", action="store_true", help="smoke test: batch 4, image 64, warmup 1, steps 2, 1024 images")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                   help="comma-separated subset to run (default: all); `SwiftResNet` alone needs no Python packages and "
                        "compares two builds of it when run once per --resnet, back to back")
    a = p.parse_args()
    if a.quick:
        a.batch_size, a.image_size, a.warmup, a.steps, a.images = 4, 64, 1, 2, 1024
    a.cases = list(CASES) if a.cases == "all" else [c.strip() for c in a.cases.split(",") if c.strip()]
    a.frameworks = [f.strip() for f in a.frameworks.split(",") if f.strip()]
    if "SwiftResNet" not in a.frameworks or any(f not in FRAMEWORKS for f in a.frameworks):
        p.error(f"--frameworks must name SwiftResNet and any of {', '.join(FRAMEWORKS[1:])}")
    unknown = [c for c in a.cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    return a


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_python(a):
    """The interpreter for the peers: --python, else bench/.venv (created, and filled by pip with the
    chosen peers' packages when they are missing); none when only SwiftResNet runs."""
    if a.frameworks == ["SwiftResNet"]:
        return None
    if a.python:
        return a.python
    venv = BENCH / ".venv"
    py = venv / "bin" / "python"
    if not py.exists():
        say(f"creating {venv}")
        subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
    modules = sorted({m for fw in a.frameworks[1:] for m in PEER_MODULES[fw]} | {"numpy"})
    missing = [m for m in modules if subprocess.call([str(py), "-c", f"import {m}"], stdout=subprocess.DEVNULL,
                                                      stderr=subprocess.DEVNULL) != 0]
    if missing:
        packages = [PIP_NAMES.get(m, m) for m in missing]
        say(f"installing {', '.join(packages)} into {venv}")
        # PyTorch's CPU-only wheels where their index is reachable; PyPI's (larger) wheels otherwise.
        torch_pkgs = [p for p in packages if p in ("torch", "torchvision")]
        if torch_pkgs and subprocess.call([str(py), "-m", "pip", "install", *torch_pkgs, "--index-url",
                                           "https://download.pytorch.org/whl/cpu"]) == 0:
            packages = [p for p in packages if p not in torch_pkgs]
        if packages:
            subprocess.check_call([str(py), "-m", "pip", "install", *packages])
    return str(py)


def run(cmd, cwd=ROOT):
    """Runs one benchmark process; returns (stdout, stderr, rc, wall seconds)."""
    t = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    return r.stdout, r.stderr, r.returncode, time.perf_counter() - t


def last_json_line(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


def step_run(fw, case, a, py):
    """One `resnet benchmark` or peer-script run; returns the record with 'seconds' and 'peak_bytes'."""
    c = CASES[case]
    batch = a.batch_size if (a.batch_size and c["batch"] != 1) else c["batch"]
    steps = a.steps * c.get("steps_factor", 1)
    common = ["--model", c["model"], "--mode", c["mode"], "--batch-size", batch, "--image-size", a.image_size,
              "--warmup", a.warmup, "--steps", steps, "--threads", a.threads]
    precision = c.get("precision", "fp32")
    if fw == "SwiftResNet":
        cmd = [a.resnet, "benchmark", *common, *(["--precision", precision] if precision != "fp32" else []), "--format", "json"]
    else:
        cmd = [py, BENCH / PEER_SCRIPTS[fw], *common, "--precision", precision]
    out, err, rc, wall = run(cmd)
    rec = {"cmd": [str(x) for x in cmd], "wall": wall, "rc": rc}
    if rc != 0:
        return {**rec, "error": err.strip()[-2000:]}
    if fw == "SwiftResNet":
        res = json.JSONDecoder().raw_decode(out[out.index("{"):])[0]
        return {**rec, "result": res, "seconds": res["median"], "peak_bytes": res.get("peakResidentBytes")}
    res = last_json_line(out)
    if res.get("unsupported"):
        return {**rec, "result": res, "unsupported": True}
    return {**rec, "result": res, "seconds": res["median"], "peak_bytes": res.get("peak_rss_bytes")}


def subset_idx(src, dst, count, header):
    """Writes the first `count` records of a gzip IDX file (header bytes, then records) with the count fixed."""
    with gzip.open(src, "rb") as f:
        raw = f.read()
    total = int.from_bytes(raw[4:8], "big")
    size = (len(raw) - header) // total
    count = min(count, total)
    with gzip.open(dst, "wb", compresslevel=1) as f:
        f.write(raw[:4] + count.to_bytes(4, "big") + raw[8:header] + raw[header:header + count * size])


def swift_dataset_dir(a, tmp):
    """SwiftResNet trains on 9/10 of the official training file; for --images other than 54000 give it a
    Fashion-MNIST folder cut to about images / 0.9 (and a small test file, since it also tests)."""
    if a.images == FULL_TRAIN_IMAGES:
        return a.dataset_dir
    d = Path(tmp) / "fashion-mnist"
    d.mkdir()
    train, test = round(a.images / 0.9), max(100, a.images // 9)
    for part, n in (("train", train), ("t10k", test)):
        subset_idx(Path(a.dataset_dir) / f"{part}-images-idx3-ubyte.gz", d / f"{part}-images-idx3-ubyte.gz", n, 16)
        subset_idx(Path(a.dataset_dir) / f"{part}-labels-idx1-ubyte.gz", d / f"{part}-labels-idx1-ubyte.gz", n, 8)
    return str(d)


def epoch_run(fw, a, py, swift_data):
    """One training epoch; 'seconds' is the epoch's training pass (SwiftResNet: history.csv's `time`,
    else the wall time of the whole `resnet train` command, flagged 'wall_fallback')."""
    if fw != "SwiftResNet":
        cmd = [py, BENCH / "fmnist_epoch.py", "--framework", PEER_NAMES[fw], "--threads", a.threads,
               "--images", a.images, "--batch-size", 128, "--dataset-dir", a.dataset_dir]
        out, err, rc, wall = run(cmd)
        rec = {"cmd": [str(x) for x in cmd], "wall": wall, "rc": rc}
        if rc != 0:
            return {**rec, "error": err.strip()[-2000:]}
        res = last_json_line(out)
        return {**rec, "result": res, "seconds": res["epoch_seconds"], "peak_bytes": res["peak_rss_bytes"]}
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [a.resnet, "train", "--model", "resnet20", "--dataset", "fashion-mnist", "--dataset-dir", swift_data,
               "--epochs", 1, "--batch-size", 128, "--schedule", "constant", "--out", run_dir, "--threads", a.threads]
        out, err, rc, wall = run(cmd)
        rec = {"cmd": [str(x) for x in cmd], "wall": wall, "rc": rc}
        if rc != 0:
            return {**rec, "error": (err.strip() or out.strip())[-2000:]}
        with open(run_dir / "history.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    row = rows[-1] if rows else {}
    if row.get("time"):
        return {**rec, "result": row, "seconds": float(row["time"])}
    return {**rec, "result": row, "seconds": wall, "wall_fallback": True}


def medians(runs, case, key):
    """Per framework: the median over rounds of each run's `key` (None where no run gave one)."""
    out = {}
    for fw in FRAMEWORKS:
        vals = [r[key] for r in runs if r["case"] == case and r["framework"] == fw and r.get(key) is not None]
        out[fw] = statistics.median(vals) if vals else None
    return out


def fmt(value, unit):
    if value is None:
        return "–"
    if unit == "bytes":
        return f"{value / 2**30:.2f} GiB"
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def label(case, a):
    c = CASES[case]
    if c["kind"] == "epoch":
        return f"{case} (resnet20 Fashion-MNIST, {a.images} images, s/epoch)"
    if c["kind"] == "memory":
        return f"{case} (peak RSS of {c['source']})"
    batch = a.batch_size if (a.batch_size and c["batch"] != 1) else c["batch"]
    per = "ms/image" if c.get("unit") == "ms" else "s/batch"
    return f"{case} ({c['model']} {c['mode']}, b{batch}, {a.image_size}px, {per})"


def shown_cases(a):
    """The chosen cases in table order, plus the runs a memory case reads."""
    return [c for c in CASES if c in a.cases or any(CASES[x].get("source") == c for x in a.cases)]


def table(a, runs):
    lines = ["| case | " + " | ".join(COLUMN_NAMES[f] for f in FRAMEWORKS) + " | ratio SwiftResNet / best peer | target | met? |",
             "|---" * (len(FRAMEWORKS) + 4) + "|"]
    summary, notes = {}, set()
    for case in shown_cases(a):
        c = CASES[case]
        if c["kind"] == "memory":
            vals, unit = medians(runs, c["source"], "peak_bytes"), "bytes"
        else:
            vals, unit = medians(runs, case, "seconds"), c.get("unit", "s")
        peers = c.get("peers", CASES.get(c.get("source"), {}).get("peers", TRAINING_PEERS))
        cells = []
        for fw in FRAMEWORKS:
            case_runs = [r for r in runs if r["case"] == (c.get("source") or case) and r["framework"] == fw]
            if fw != "SwiftResNet" and fw not in peers:
                cells.append("n/a")
            elif fw not in a.frameworks:
                cells.append("not run")
            elif vals[fw] is None and any("error" in r for r in case_runs):
                cells.append("failed")
            elif vals[fw] is None and case_runs and all(r.get("unsupported") for r in case_runs):
                cells.append("n/a")
            else:
                mark = "*" if any(r.get("wall_fallback") for r in case_runs) else ""
                notes |= {"*"} if mark else set()
                cells.append(fmt(vals[fw], unit) + mark)
        best = min((vals[p] for p in peers if vals.get(p) is not None), default=None)
        ratio = vals["SwiftResNet"] / best if best and vals["SwiftResNet"] is not None else None
        met = "–" if ratio is None else ("yes" if ratio <= c["target"] else "no")
        summary[case] = {"values": vals, "ratio": ratio, "target": c["target"], "met": met}
        lines.append(f"| {label(case, a)} | " + " | ".join(cells) + f" | {'–' if ratio is None else f'{ratio:.2f}'} | "
                     f"≤ {c['target']:.2f} | {met} |")
    return "\n".join(lines), summary, notes


def cpu_isa():
    """The vector extensions that decide which kernels every framework runs, from /proc/cpuinfo's flags."""
    flags = set()
    if os.path.exists("/proc/cpuinfo"):
        flags = next((set(l.split(":", 1)[1].split()) for l in open("/proc/cpuinfo") if l.startswith("flags")), set())
    named = [("avx512f", "AVX-512"), ("avx512_vnni", "VNNI"), ("avx512_bf16", "AVX512_BF16"), ("amx_bf16", "AMX-BF16")]
    found = [name for flag, name in named if flag in flags]
    return " + ".join(found) if found else ("AVX2" if "avx2" in flags else "no AVX2")


def environment(a, py):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    probe = ("import os, json, importlib.metadata as m; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'\n"
             "def v(n):\n try: return m.version(n)\n except Exception: return '–'\n"
             "print(json.dumps({'torch': v('torch'), 'tensorflow': v('tensorflow-cpu') if v('tensorflow-cpu') != '–' else v('tensorflow'), "
             "'onnxruntime': v('onnxruntime'), 'openvino': v('openvino')}))")
    out, _, rc, _ = run([py, "-c", probe]) if py else ("", "", 1, 0)
    versions = last_json_line(out) if rc == 0 else {k: "?" for k in ("torch", "tensorflow", "onnxruntime", "openvino")}
    info, _, _, _ = run([a.resnet, "info"])
    git, _, _, _ = run(["git", "describe", "--always", "--dirty"])
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "cpu": cpu, "isa": cpu_isa(),
            "cores": os.cpu_count(), "threads": a.threads, "python": py, **versions,
            "resnet": (info.splitlines() or ["?"])[0], "git": git.strip() or "?",
            "settings": {k: getattr(a, k) for k in ("rounds", "epoch_rounds", "warmup", "steps", "image_size", "batch_size", "images", "quick")}}


def main():
    a = parse_args()
    if not Path(a.resnet).exists():
        sys.exit(f"{a.resnet} is missing: build SwiftResNet first with `make build` (or `swift build -c release`).")
    py = ensure_python(a)
    env = environment(a, py)
    runs, out_path = [], Path(a.json_out)

    def save():
        out_path.write_text(json.dumps({"environment": env, "runs": runs}, indent=1) + "\n")

    todo = [c for c in shown_cases(a) if CASES[c]["kind"] != "memory"]
    with tempfile.TemporaryDirectory() as tmp:
        swift_data = swift_dataset_dir(a, tmp) if "fmnist_epoch" in todo else None
        for case in todo:
            c = CASES[case]
            rounds = a.epoch_rounds if c["kind"] == "epoch" else a.rounds
            fws = ["SwiftResNet", *(p for p in c.get("peers", TRAINING_PEERS) if p in a.frameworks)]
            for rnd in range(rounds):
                for fw in fws[rnd % len(fws):] + fws[:rnd % len(fws)]:  # rotate who goes first
                    try:
                        rec = epoch_run(fw, a, py, swift_data) if c["kind"] == "epoch" else step_run(fw, case, a, py)
                    except Exception as e:  # a malformed output must not lose the other runs
                        rec = {"error": f"{type(e).__name__}: {e}"}
                    runs.append({"case": case, "round": rnd + 1, "framework": fw, **rec})
                    save()
                    shown = rec.get("error", "").splitlines()[-1:] or [f"{rec['seconds']:.4f} s" if "seconds" in rec else "unsupported"]
                    say(f"[{case} {rnd + 1}/{rounds}] {fw}: {shown[0]}")
    text, summary, notes = table(a, runs)
    out_path.write_text(json.dumps({"environment": env, "runs": runs, "summary": summary}, indent=1) + "\n")
    print(f"Date: {env['date']}  \nCPU: {env['cpu']}, {env['cores']} cores, {a.threads} threads  \n"
          f"ISA: {env['isa']}  \n"
          f"SwiftResNet: {env['resnet']} (git {env['git']}); PyTorch {env['torch']}; TensorFlow {env['tensorflow']}; "
          f"ONNX Runtime {env['onnxruntime']}; OpenVINO {env['openvino']}  \n"
          f"Rounds: {a.rounds} (fmnist_epoch: {a.epoch_rounds}), warmup {a.warmup}, steps {a.steps}"
          f"{' (--quick)' if a.quick else ''}\n")
    print(text)
    print("\nEach entry: the median over rounds of each run's median step time (memory: peak resident bytes; "
          "fmnist_epoch: the epoch's training pass). Ratio: SwiftResNet / the best (lowest) peer; met when ≤ target. "
          "*_bf16 cases: each framework's mixed precision (SwiftResNet --precision bf16, PyTorch CPU autocast, "
          "OpenVINO INFERENCE_PRECISION_HINT bf16); the others float32 (OpenVINO pinned to f32).")
    if notes:
        print("* SwiftResNet's history.csv has no `time` column yet: wall time of the whole `resnet train` "
              "command (data loading, validation and test included).")
    print(f"Raw results: {out_path}")


if __name__ == "__main__":
    main()
