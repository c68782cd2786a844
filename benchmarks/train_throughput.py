"""Training-step throughput (images/s) and peak memory for the small CPU model and the paper's model.

    python benchmarks/train_throughput.py [--steps 5] [--batch-size 16] [--device cpu]

Each configuration runs in its own subprocess (so peak resident memory is its own), on random
images and labels with the full loss (GiLt + part attention), after one warm-up step. On CUDA the
peak is ``torch.cuda.max_memory_allocated``; on the CPU it is the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
CONFIGURATIONS = {
    "small (ResNet-18, 128x64, K=8)": REPOSITORY / "configs/model/small_synthetic.yaml",
    "paper (ResNet-50, 384x128, K=8)": REPOSITORY / "configs/model/bpsema_occluded_duke.yaml",
}


def measure(config_path: str, steps: int, batch_size: int, device: str) -> dict:
    import torch

    sys.path.insert(0, str(REPOSITORY))
    from reid.config import load_config
    from reid.losses import BPSEMALoss
    from reid.model import build_model
    from reid.part_labels import pixel_part_labels

    config = load_config(config_path)
    identities = max(2, batch_size // config.train.images_per_identity)
    model = build_model(config, pretrained=False, num_classes=identities).to(device).train()
    criterion = BPSEMALoss(config.loss)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    images = torch.randn(batch_size, 3, config.input.height, config.input.width, device=device)
    labels = (torch.arange(batch_size, device=device) % identities)
    with torch.no_grad():
        size = tuple(model.eval()(images[:1]).part_attention_logits.shape[-2:])
    model.train()
    pixel_labels = pixel_part_labels(torch.rand(batch_size, config.model.num_parts, *size, device=device), size)

    def step():
        optimizer.zero_grad(set_to_none=True)
        criterion(model(images), labels, pixel_labels).total.backward()
        optimizer.step()

    step()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - started
    peak_mib = (
        torch.cuda.max_memory_allocated() / 2**20
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {"images_per_second": steps * batch_size / elapsed, "peak_mib": peak_mib, "seconds_per_step": elapsed / steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(measure(arguments.child, arguments.steps, arguments.batch_size, arguments.device)))
        return 0
    import torch

    print(f"training step, batch {arguments.batch_size}, {arguments.steps} timed steps, device {arguments.device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'configuration':<34} | {'images/s':>8} | {'s/step':>7} | {'peak MiB':>8}")
    for name, path in CONFIGURATIONS.items():
        completed = subprocess.run(
            [sys.executable, __file__, "--child", str(path), "--steps", str(arguments.steps),
             "--batch-size", str(arguments.batch_size), "--device", arguments.device],
            capture_output=True, text=True,
        )
        if completed.returncode != 0:
            print(f"{name:<34} | failed: {completed.stderr.strip().splitlines()[-1]}")
            continue
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        print(f"{name:<34} | {result['images_per_second']:8.2f} | {result['seconds_per_step']:7.2f} | {result['peak_mib']:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
