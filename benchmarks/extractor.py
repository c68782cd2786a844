"""Part-feature extractor throughput: crops per second and peak memory, per backend and batch size.

    python benchmarks/extractor.py            # paper model and small model, batch 1, 8, 32
    python benchmarks/extractor.py --quick    # one round of two iterations

Models: the paper's (configs/model/bpsema_occluded_duke.yaml with pretrained=False: ResNet-50,
384x128, K=8, D=512) and the small one (configs/model/small_synthetic.yaml), randomly initialised
(``--models corpus,corpus_256x128``: the shipped model's architecture at 128x64 and 256x128)
with a fixed seed. Backends: PyTorch eager (torch.inference_mode, torch's default threads) and ONNX
Runtime on the CPU (full graph optimisation, intra-op threads = usable cores) running the fp32 graph
and the int8 graph (backbone convolutions in int8, calibrated here on 64 crops drawn like the timed
ones but with another seed; the timed crops are noise, so this measures speed only: accuracy is
``benchmarks/quantization.py``'s job); with a CUDA device and tensorrt installed, also the TensorRT
engine in fp32 and fp16. "GFLOP/s" is the convolutions' and matrix products' floating-point work
per crop (2 x multiply-adds, counted on the fp32 graph) times crops per second.

Each backend runs in its own worker process holding one loaded extractor, so its peak resident
memory (VmHWM, reset before each batch size; it includes the Python/torch baseline) is its own.
The backends are measured side by side: in each round, every batch size is run by every backend
in turn, so that a slow spell on a shared machine hits all of them. A measurement times
``extractor.extract(crops)`` end to end (the shared preprocessing included) on crops of
person-like sizes; the figure is the median over all rounds' timed iterations.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))  # runnable from a checkout without installing it


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
MODELS = {
    "paper": REPOSITORY_ROOT / "configs" / "model" / "bpsema_occluded_duke.yaml",
    "small": REPOSITORY_ROOT / "configs" / "model" / "small_synthetic.yaml",
    # the shipped model's architecture (ResNet-10-T, 128x64, stride 8) and its 256x128 variant
    "corpus": REPOSITORY_ROOT / "configs" / "model" / "small_synthetic_corpus.yaml",
    "corpus_256x128": REPOSITORY_ROOT / "configs" / "model" / "small_synthetic_corpus_256x128.yaml",
}
CPU_BACKENDS = ("torch", "onnxruntime", "onnxruntime-int8")
GPU_BACKENDS = ("tensorrt-fp32", "tensorrt-fp16")
TARGET_SPEEDUP = 1.6  # ONNX Runtime over PyTorch eager, paper model, batch 8
CALIBRATION_CROPS = 64


@dataclass(frozen=True)
class Measurement:
    model: str
    backend: str
    batch: int
    crops_per_second: float
    best_crops_per_second: float
    milliseconds_per_batch: float
    peak_rss_mib: float
    peak_device_mib: float | None
    iterations: int
    gigaflops_per_second: float


def person_crops(count: int, seed: int):
    """BGR uint8 crops of person-like sizes (about 2.5:1), as cut from frames."""
    import numpy as np

    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        height = int(rng.integers(120, 360))
        width = int(height / rng.uniform(2.2, 2.8))
        crops.append(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8))
    return crops


def convolution_flops_per_crop(onnx_path: Path) -> float:
    """2 x multiply-adds of the Conv, MatMul and Gemm nodes of an fp32 graph, for one crop
    (shapes from ONNX shape inference at batch 1)."""
    import numpy as np
    import onnx

    model = onnx.load(str(onnx_path))
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 1
    model = onnx.shape_inference.infer_shapes(model)
    shapes = {
        value.name: [dim.dim_value for dim in value.type.tensor_type.shape.dim]
        for value in [*model.graph.value_info, *model.graph.input, *model.graph.output]
    }
    shapes.update({tensor.name: list(tensor.dims) for tensor in model.graph.initializer})
    flops = 0.0
    for node in model.graph.node:
        if node.op_type == "Conv":  # weight [C_out, C_in/groups, kh, kw], output [1, C_out, H, W]
            weight, output = shapes[node.input[1]], shapes[node.output[0]]
            flops += 2.0 * float(np.prod(weight[1:])) * float(np.prod(output[1:]))
        elif node.op_type in ("MatMul", "Gemm") and all(name in shapes for name in node.input[:2]):
            left, output = shapes[node.input[0]], shapes[node.output[0]]
            flops += 2.0 * float(np.prod(output)) * left[-1] if left and output else 0.0
    return flops


def matrix_multiply_peak_gigaflops(size: int = 4096, repeats: int = 5) -> float:
    """This machine's practical fp32 ceiling: the best GFLOP/s of a size x size float32 matrix
    product (torch, its default threads), the friendliest shape there is for the CPU's FMA units."""
    import torch

    left, right = torch.randn(size, size), torch.randn(size, size)
    left @ right  # warm-up
    best = min(_timed(lambda: left @ right) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


# --- worker: one (model, backend) in its own process, driven over stdin/stdout -------------------


def _resident_peak_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_resident_peak() -> None:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); a no-op elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _worker(spec: dict) -> None:
    """Loads one extractor, then answers requests {"batch": B, "iterations": N} with timings."""
    import torch

    from reid.runtime import load_extractor

    runtime_backend = spec["backend"].split("-")[0]
    on_gpu = runtime_backend == "tensorrt"
    free_before = None
    if on_gpu:
        torch.cuda.init()
        free_before = torch.cuda.mem_get_info()[0]
    extractor = load_extractor(
        spec["model_path"], runtime_backend, device="cuda" if on_gpu else "cpu", max_batch=spec["max_batch"]
    )
    print("READY", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        batch, iterations = request["batch"], request["iterations"]
        crops = person_crops(batch, seed=batch)
        _reset_resident_peak()
        extractor.extract(crops)  # warm-up (allocations, kernel selection)
        durations = []
        for _ in range(iterations):
            started = time.perf_counter()
            extractor.extract(crops)
            durations.append(time.perf_counter() - started)
        device_mib = (free_before - torch.cuda.mem_get_info()[0]) / 2**20 if on_gpu else None
        answer = {"durations": durations, "peak_rss_mib": _resident_peak_mib(), "device_mib": device_mib}
        print("RESULT " + json.dumps(answer), flush=True)


class WorkerProcess:
    """A worker process holding one loaded extractor."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY_ROOT,
        )
        self._expect("READY")

    def _expect(self, prefix: str) -> str:
        for line in self.process.stdout:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        raise RuntimeError(f"benchmark worker {self.spec['model']}/{self.spec['backend']} exited (see its stderr above)")

    def measure(self, batch: int, iterations: int) -> dict:
        self.process.stdin.write(json.dumps({"batch": batch, "iterations": iterations}) + "\n")
        self.process.stdin.flush()
        return json.loads(self._expect("RESULT "))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"quit": True}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


# --- the run ---------------------------------------------------------------------------------------


def _prepare_models(names: list[str], directory: Path, tensorrt: bool, max_batch: int) -> dict[str, dict[str, Path]]:
    """Per model: a random checkpoint, its fp32 and int8 ONNX exports and (GPU) its engines; none of it timed."""
    import torch

    import reid
    from reid.checkpoint import save_checkpoint
    from reid.export import BatchProfile, ModelSignature, build_engine, export_onnx, onnx_for_checkpoint
    from reid.runtime.preprocessing import preprocess_crops

    files = {}
    for name in names:
        torch.manual_seed(0)
        model = reid.build_model(MODELS[name], pretrained=False)
        checkpoint = save_checkpoint(directory / f"{name}.pt", model.eval())
        print(f"preparing {name}: exporting ONNX ...", file=sys.stderr, flush=True)
        paths = {"torch": checkpoint, "onnxruntime": onnx_for_checkpoint(checkpoint, "fp32", directory / "cache")}
        print(f"preparing {name}: quantizing to int8 ...", file=sys.stderr, flush=True)
        signature = ModelSignature.from_config(model.config)
        calibration = preprocess_crops(
            person_crops(CALIBRATION_CROPS, seed=10_000), signature.input_size, signature.mean, signature.std
        )
        paths["onnxruntime-int8"] = directory / f"{name}-int8.onnx"
        export_onnx(model, paths["onnxruntime-int8"], precision="int8", calibration_images=calibration)
        if tensorrt:
            for precision in ("fp32", "fp16"):
                print(f"preparing {name}: building TensorRT {precision} engine ...", file=sys.stderr, flush=True)
                onnx_path = onnx_for_checkpoint(checkpoint, precision, directory / "cache")
                paths[f"tensorrt-{precision}"] = build_engine(onnx_path, BatchProfile.up_to(max_batch), directory / "cache")
        files[name] = paths
    return files


def _table(measurements: list[Measurement]) -> str:
    """Markdown table; "vs torch" compares median crops/s with PyTorch eager at the same model and batch."""
    baseline = {(m.model, m.batch): m.crops_per_second for m in measurements if m.backend == "torch"}
    columns = [
        "model", "backend", "batch", "crops/s", "best crops/s", "ms/batch", "GFLOP/s", "peak RSS MiB", "GPU MiB", "vs torch"
    ]
    rows = []
    for m in measurements:
        speedup = m.crops_per_second / baseline[(m.model, m.batch)] if (m.model, m.batch) in baseline else float("nan")
        rows.append(
            [
                m.model,
                m.backend,
                str(m.batch),
                f"{m.crops_per_second:.2f}",
                f"{m.best_crops_per_second:.2f}",
                f"{m.milliseconds_per_batch:.1f}",
                f"{m.gigaflops_per_second:.0f}",
                f"{m.peak_rss_mib:.0f}",
                f"{m.peak_device_mib:.0f}" if m.peak_device_mib is not None else "-",
                f"{speedup:.2f}x",
            ]
        )
    widths = [max(len(column), *(len(row[index]) for row in rows)) for index, column in enumerate(columns)]
    left = {0, 1}

    def line(cells):
        return "| " + " | ".join(
            cell.ljust(width) if index in left else cell.rjust(width) for index, (cell, width) in enumerate(zip(cells, widths))
        ) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(columns), separator] + [line(row) for row in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 iterations instead of 3 rounds of 3")
    parser.add_argument("--rounds", type=int, default=None, help="rounds alternating the backends")
    parser.add_argument("--iterations", type=int, default=None, help="timed iterations per round")
    parser.add_argument("--models", default="paper,small", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--batches", default="1,8,32", help="comma-separated batch sizes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        _worker(json.loads(arguments.worker))
        return 0

    import onnxruntime
    import torch

    from reid.export import tensorrt_status
    from reid.cpu_cores import cpu_core_count

    models = [name.strip() for name in arguments.models.split(",") if name.strip()]
    unknown = [name for name in models if name not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; known: {', '.join(MODELS)}")
    batches = [int(value) for value in arguments.batches.split(",")]
    iterations = arguments.iterations or (2 if arguments.quick else 3)
    rounds = arguments.rounds or (1 if arguments.quick else 3)
    status = tensorrt_status()
    backends = list(CPU_BACKENDS) + (list(GPU_BACKENDS) if status.available else [])

    print(
        f"machine: {platform.processor() or platform.machine()}, {cpu_core_count()} cores usable, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__} "
        f"({cpu_core_count()} intra-op threads), load average at start {os.getloadavg()[0]:.2f}"
    )
    if not status.available:
        print(f"TensorRT not measured: {status.reason}")
    measurements = []
    busy_at_start, own_at_start, started = _busy_cpu_seconds(), _own_cpu_seconds(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bpsema-benchmark-") as directory:
        files = _prepare_models(models, Path(directory), status.available, max(batches))
        flops = {model: convolution_flops_per_crop(files[model]["onnxruntime"]) for model in models}
        for model in models:
            workers = {
                backend: WorkerProcess(
                    {"model": model, "backend": backend, "model_path": str(files[model][backend]), "max_batch": max(batches)}
                )
                for backend in backends
            }
            try:
                durations = {(backend, batch): [] for backend in backends for batch in batches}
                peaks: dict[tuple[str, int], dict] = {}
                # Rounds alternate the backends, so a slow spell on a shared machine hits all of them.
                for round_index in range(rounds):
                    for batch in batches:
                        for backend in backends:
                            answer = workers[backend].measure(batch, iterations)
                            durations[(backend, batch)] += answer["durations"]
                            previous = peaks.get((backend, batch), {"peak_rss_mib": 0.0, "device_mib": None})
                            peaks[(backend, batch)] = {
                                "peak_rss_mib": max(previous["peak_rss_mib"], answer["peak_rss_mib"]),
                                "device_mib": answer["device_mib"],
                            }
                            median = statistics.median(answer["durations"])
                            print(
                                f"  round {round_index + 1}/{rounds} {model} {backend} batch {batch}: "
                                f"{batch / median:.2f} crops/s",
                                file=sys.stderr,
                                flush=True,
                            )
            finally:
                for worker in workers.values():
                    worker.close()
            for batch in batches:
                for backend in backends:
                    median = statistics.median(durations[(backend, batch)])
                    measurements.append(
                        Measurement(
                            model=model,
                            backend=backend,
                            batch=batch,
                            crops_per_second=batch / median,
                            best_crops_per_second=batch / min(durations[(backend, batch)]),
                            milliseconds_per_batch=median * 1000,
                            peak_rss_mib=peaks[(backend, batch)]["peak_rss_mib"],
                            peak_device_mib=peaks[(backend, batch)]["device_mib"],
                            iterations=len(durations[(backend, batch)]),
                            gigaflops_per_second=flops[model] * batch / median / 1e9,
                        )
                    )
    peak = matrix_multiply_peak_gigaflops()
    contention = ""
    busy_at_end = _busy_cpu_seconds()
    if busy_at_start is not None and busy_at_end is not None:
        others = (busy_at_end - busy_at_start) - (_own_cpu_seconds() - own_at_start)
        share = max(0.0, others) / ((time.perf_counter() - started) * cpu_core_count())
        contention = f"; other processes used {share:.0%} of the CPU during the run"
        if share > 0.1:
            contention += " (figures disturbed: rerun on a quiet machine)"
    print(
        f"\nmedian of {rounds} rounds x {iterations} timed iterations (each round after 1 warm-up); "
        f"load average at end {os.getloadavg()[0]:.2f}{contention}"
    )
    print(_table(measurements))
    print(
        f"best-case fp32 rate of this machine: a 4096x4096 float32 matrix product runs at {peak:.0f} GFLOP/s "
        f"(the int8 rows count the same work as fp32, so they can exceed it)"
    )
    by_key = {(m.model, m.backend, m.batch): m for m in measurements}
    torch_run = by_key.get(("paper", "torch", 8))
    if torch_run is not None:
        print(f"\ntarget: ONNX Runtime at batch 8 >= {TARGET_SPEEDUP}x PyTorch eager (paper model):")
        for backend, graph in (("onnxruntime", "fp32 graph"), ("onnxruntime-int8", "int8 graph")):
            onnx_run = by_key.get(("paper", backend, 8))
            if onnx_run is None:
                continue
            speedup = onnx_run.crops_per_second / torch_run.crops_per_second
            best_speedup = onnx_run.best_crops_per_second / torch_run.best_crops_per_second
            verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
            print(
                f"  {graph}: {speedup:.2f}x by median, {best_speedup:.2f}x best against best: {verdict} "
                f"({onnx_run.gigaflops_per_second:.0f} vs {torch_run.gigaflops_per_second:.0f} GFLOP/s)"
            )
        needed = TARGET_SPEEDUP * torch_run.gigaflops_per_second
        print(
            f"  {TARGET_SPEEDUP}x in fp32 needs {needed:.0f} GFLOP/s of convolution work; "
            f"the best-case fp32 rate measured above is {peak:.0f} GFLOP/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
