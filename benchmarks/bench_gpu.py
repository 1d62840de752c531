"""GPU training speed: mnistmlp's CUDA backend against eager PyTorch on the same GPU.

Usage (from the repository root, on a machine with a GPU, torch, and mnistmlp built with the
CUDA backend)::

    python benchmarks/bench_gpu.py --json gpu.json --markdown gpu.md --profile profile.txt
    python benchmarks/bench_gpu.py --cases A-sgd-10 --repeats 3 --samples 5500

Cases (the issue's): A (784-100-10) at batch 10 with SGD (lr 0.01) and with Adam (lr 0.001),
D (784-1024-1024-10) at batch 1024 with Adam; one epoch over 55,000 samples: MNIST-like
random data (float32 in [0, 1] from uint8 pixels, about 80% of them zero, random labels),
or the real MNIST with --data-dir.

- ``mnistmlp``: ``MLP(sizes, device="cuda").fit(X, y, epochs=1 + repeats, batch_size=b)``.
  The first epoch is the warm-up (it uploads the data and captures the CUDA graph); each
  later one is timed from the callbacks' ``on_epoch_begin`` to ``on_epoch_end``: the whole
  epoch as a user waits for it, ending with the weights copied back from the GPU.
- ``torch``: idiomatic eager PyTorch: an ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``,
  ``torch.optim.SGD``/``Adam``, ``F.cross_entropy``, the data already on the GPU, batches
  indexed from a fresh ``torch.randperm`` on the GPU each epoch, loss and accuracy summed on
  the GPU. One warm-up epoch, then each epoch timed between two ``torch.cuda.synchronize()``.
  float32 throughout (PyTorch's default: no TF32 in matrix products).

mnistmlp is also timed with programmatic dependent launch turned off (``MNISTMLP_CUDA_PDL=0``;
the column "without PDL"), to show what overlapping the launches of consecutive kernels gains.
Both start from mnistmlp's initial weights. The table gives ms per epoch (median), samples/s,
the speed-up torch_ms / mnistmlp_ms, and the issue's target for the row (A with SGD at batch
10: 10x and under 80 ms per epoch on an H100; D with Adam at batch 1024: at least 1x).
``--profile`` writes the GPU kernels of one epoch of each mnistmlp case, as torch.profiler
sees them, for finding where the time goes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Dict, List, Optional

import numpy as np

import _common as common
import mnistmlp

CASES = {
    "A-sgd-10": dict(sizes=[784, 100, 10], optimizer="sgd", learning_rate=0.01, batch_size=10,
                     target=dict(speedup=10.0, max_ms=80.0)),
    "A-adam-10": dict(sizes=[784, 100, 10], optimizer="adam", learning_rate=0.001, batch_size=10, target=None),
    "D-adam-1024": dict(sizes=[784, 1024, 1024, 10], optimizer="adam", learning_rate=0.001, batch_size=1024,
                        target=dict(speedup=1.0, max_ms=None)),
}
SEED = 0


class EpochClock:
    """MLP.fit callback: the wall-clock seconds of each epoch."""

    def __init__(self) -> None:
        self.seconds: List[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def time_mnistmlp(case: dict, X: np.ndarray, y: np.ndarray, repeats: int, pdl: bool = True) -> dict:
    # The backend reads MNISTMLP_CUDA_PDL when the model is made.
    previous = os.environ.pop("MNISTMLP_CUDA_PDL", None)
    if not pdl:
        os.environ["MNISTMLP_CUDA_PDL"] = "0"
    try:
        model = mnistmlp.MLP(case["sizes"], optimizer=case["optimizer"], learning_rate=case["learning_rate"],
                             seed=SEED, device="cuda")
    finally:
        os.environ.pop("MNISTMLP_CUDA_PDL", None)
        if previous is not None:
            os.environ["MNISTMLP_CUDA_PDL"] = previous
    clock = EpochClock()
    history = model.fit(X, y, epochs=1 + repeats, batch_size=case["batch_size"], verbose=0, callbacks=[clock])
    return {
        "seconds": clock.seconds[1:],
        "warmup_seconds": clock.seconds[0],
        "loss": history.history["loss"][1:],
        "accuracy": history.history["accuracy"][1:],
    }


def time_torch(torch, case: dict, weights, X: np.ndarray, y: np.ndarray, repeats: int) -> dict:
    device = torch.device("cuda")
    model = common.torch_mlp(torch, weights, device)
    make_optimizer = torch.optim.SGD if case["optimizer"] == "sgd" else torch.optim.Adam
    opt = make_optimizer(model.parameters(), lr=case["learning_rate"])
    inputs = torch.from_numpy(X).to(device)
    labels = torch.from_numpy(y.astype(np.int64)).to(device)
    generator = torch.Generator(device=device).manual_seed(SEED)
    n, batch_size = len(X), case["batch_size"]

    def epoch():
        order = torch.randperm(n, generator=generator, device=device)
        return common.torch_epoch(torch, model, opt, inputs, labels, order, batch_size)

    seconds, losses, accuracies = [], [], []
    for rep in range(1 + repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        total_loss, correct, batches = epoch()
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        if rep:
            seconds.append(elapsed)
            losses.append(total_loss.item() / batches)
            accuracies.append(correct.item() / n)
    return {"seconds": seconds, "loss": losses, "accuracy": accuracies}


def profile_mnistmlp(torch, cases: Dict[str, dict], X, y, path: str) -> None:
    """One epoch of each case under torch.profiler, which records every CUDA kernel of the
    process (CUPTI), mnistmlp's included."""
    from torch.profiler import ProfilerActivity, profile

    with open(path, "w", encoding="utf-8") as out:
        for name, case in cases.items():
            model = mnistmlp.MLP(case["sizes"], optimizer=case["optimizer"], learning_rate=case["learning_rate"],
                                 seed=SEED, device="cuda")
            model.fit(X, y, epochs=1, batch_size=case["batch_size"], verbose=0)  # upload, graph capture
            try:
                with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
                    model.fit(X, y, epochs=1, batch_size=case["batch_size"], verbose=0)
                    torch.cuda.synchronize()
                table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=90)
            except Exception as exc:  # the profile is a diagnosis; the benchmark stands without it
                table = f"profiling failed: {exc!r}"
            out.write(f"## mnistmlp {name}\n\n{table}\n\n")


def gpu_name(torch) -> str:
    props = torch.cuda.get_device_properties(0)
    return f"{props.name} (compute {props.major}.{props.minor}, {props.multi_processor_count} SMs)"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=common.choice_list(list(CASES)), default=list(CASES), metavar="NAME,...",
                        help=f"cases to run (default: all of {','.join(CASES)})")
    parser.add_argument("--repeats", type=common.positive_int, default=5, metavar="N",
                        help="timed epochs per contender after one warm-up epoch (default %(default)s)")
    parser.add_argument("--samples", type=common.positive_int, default=55_000, metavar="N",
                        help="training samples per epoch (default %(default)s)")
    parser.add_argument("--data-dir", help="train on the real MNIST from this folder instead of random data")
    parser.add_argument("--json", metavar="PATH", help="write every timing and the environment to PATH")
    parser.add_argument("--markdown", metavar="PATH", help="write the table to PATH")
    parser.add_argument("--profile", metavar="PATH", help="write the GPU kernels of one mnistmlp epoch per case to PATH")
    args = parser.parse_args(argv)

    if not mnistmlp.cuda_available():
        raise SystemExit(f"error: device 'cuda' is not available: {mnistmlp.get_config()['cuda']['problem']}")
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and not torch.cuda.is_available():
        torch = None
    notes = [] if torch is not None else ["torch with CUDA not available: torch columns left out"]

    if args.data_dir:
        data = common.load_mnist(args.data_dir)
    else:
        data = common.synthetic_mnist(args.samples, 0, seed=SEED)
    X, y = data.train_images[: args.samples], data.train_labels[: args.samples]
    env = common.environment(torch.__version__ if torch is not None else None)
    env["gpu"] = gpu_name(torch) if torch is not None else "; ".join(mnistmlp.get_config()["cuda"]["devices"])

    rows, results = [], []
    for name in args.cases:
        case = CASES[name]
        common.progress(f"{name}: mnistmlp")
        result = {"case": name, "sizes": case["sizes"], "optimizer": case["optimizer"],
                  "batch_size": case["batch_size"], "samples": len(X), "peers": {}}
        result["peers"]["mnistmlp"] = time_mnistmlp(case, X, y, args.repeats)
        common.progress(f"{name}: mnistmlp without programmatic dependent launch")
        result["peers"]["mnistmlp_no_pdl"] = time_mnistmlp(case, X, y, args.repeats, pdl=False)
        if torch is not None:
            common.progress(f"{name}: torch")
            weights = mnistmlp.MLP(case["sizes"], seed=SEED).get_weights()
            result["peers"]["torch"] = time_torch(torch, case, weights, X, y, args.repeats)
        for peer in result["peers"].values():
            peer["median_seconds"] = common.median(peer["seconds"])
            peer["samples_per_second"] = len(X) / peer["median_seconds"]
            if not all(np.isfinite(peer["loss"])):
                raise SystemExit(f"error: {name}: a loss is not finite: {peer['loss']}")
        ms = result["peers"]["mnistmlp"]["median_seconds"] * 1e3
        torch_ms = result["peers"]["torch"]["median_seconds"] * 1e3 if torch is not None else None
        speedup = torch_ms / ms if torch_ms else None
        result["speedup"] = speedup
        target = case["target"]
        verdict = "-"
        if target is not None and speedup is not None:
            met = speedup >= target["speedup"] and (target["max_ms"] is None or ms < target["max_ms"])
            result["target"] = dict(target, met=met)
            want = f">= {target['speedup']:g}x" + (f", < {target['max_ms']:g} ms" if target["max_ms"] else "")
            verdict = f"{'met' if met else 'MISSED'} ({want})"
        results.append(result)
        rows.append([
            f"{name} ({'-'.join(map(str, case['sizes']))})",
            common.fmt(ms, 1), common.fmt(result["peers"]["mnistmlp_no_pdl"]["median_seconds"] * 1e3, 1),
            common.fmt(torch_ms, 1),
            common.fmt(len(X) / (ms / 1e3)), common.fmt(len(X) / (torch_ms / 1e3)) if torch_ms else "-",
            common.fmt_ratio(speedup), verdict,
            f"{result['peers']['mnistmlp']['loss'][-1]:.4f}",
            f"{result['peers']['torch']['loss'][-1]:.4f}" if torch is not None else "-",
        ])
    env["load_average_end"] = common.load_average()

    table = common.markdown_table(
        ["case", "mnistmlp ms/epoch", "without PDL", "torch ms/epoch", "mnistmlp samples/s", "torch samples/s", "speed-up",
         "target", "mnistmlp loss", "torch loss"], rows)
    lines = ["## GPU training: mnistmlp (CUDA backend) against eager PyTorch", "",
             f"- GPU: {env['gpu']}",
             f"- mnistmlp CUDA backend: {mnistmlp.get_config()['cuda']['architectures']}, "
             f"torch {env['torch']}, {data.source}, {len(X):,} samples, median of {args.repeats} epochs after one warm-up"]
    lines += [f"- note: {note}" for note in notes] + ["", table]
    report = "\n".join(lines)
    print(report)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(report + "\n")
    if args.json:
        common.write_json(args.json, {"environment": env, "settings": vars(args), "cases": results, "notes": notes})
    if args.profile and torch is not None:
        profile_mnistmlp(torch, {name: CASES[name] for name in args.cases}, X, y, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
