"""Train the person detector from scratch with ultralytics' own trainer, resumably.

  python -m train.detector --data DIR/data.yaml --epochs 11 --image-size 320 --out runs/detector
  python -m train.detector --data DIR/data.yaml --out runs/detector --resume      # after an interruption
  python -m train.detector --ship runs/detector/train/weights/best.pt            # -> models/
  python -m train.detector --data DIR/data.yaml --initial-weights models/yolo11n_synthetic_person.pt \
      --epochs 4 --image-size 384 --out runs/finetune                           # fine-tune a trained one

``DIR`` comes from ``python -m train.detector_dataset``. The model is ``yolo11n.yaml`` (randomly
initialised: no pretrained weights are fetched), one class (person); ``--initial-weights`` starts
instead from a detector trained here (its architecture and weights; the optimizer starts afresh). Ultralytics writes
``OUT/train/weights/{last,best}.pt`` and ``OUT/train/results.csv`` (one row per epoch with its
validation precision, recall, mAP50 and mAP50-95 on the held-out worlds).
"""

from __future__ import annotations

import json
from pathlib import Path

from reid.help_format import DefaultsHelpFormatter
from reid.errors import UserError, run_command_line

REPOSITORY = Path(__file__).resolve().parent.parent
SHIPPED_DETECTOR = REPOSITORY / "models" / "yolo11n_synthetic_person.pt"
RUN_NAME = "train"


def train_detector(data: Path, out: Path, epochs: int, image_size: int, batch: int, workers: int,
                   resume: bool, seed: int = 0, fraction: float = 1.0,
                   initial_weights: Path | None = None) -> Path:
    """Run (or resume) ultralytics' trainer; returns the run directory ``OUT/train``.

    ``initial_weights``: a one-class ultralytics checkpoint to fine-tune instead of a random ``yolo11n.yaml``.
    """
    from pipeline.yolo_weights import ultralytics_offline

    ultralytics_offline()
    from ultralytics import YOLO

    run = out / RUN_NAME
    last = run / "weights" / "last.pt"
    if resume:
        if not last.is_file():
            raise UserError(f"--resume: no checkpoint at {last}; start without --resume")
        YOLO(str(last)).train(resume=True)
        return run
    if last.is_file():
        raise UserError(f"{run} already holds a run; pass --resume to continue it or choose another --out")
    model = YOLO(str(initial_weights)) if initial_weights is not None else YOLO("yolo11n.yaml")
    model.train(
        data=str(data), epochs=epochs, imgsz=image_size, batch=batch, workers=workers, device="cpu",
        project=str(out.resolve()), name=RUN_NAME, exist_ok=True, amp=False, plots=False,
        # ultralytics builds the network from the architecture and copies weights only when pretrained is set
        pretrained=initial_weights is not None,
        seed=seed, deterministic=False, single_cls=True, fraction=fraction,  # one class; shipping names it 'person'
        patience=max(epochs, 100),
        close_mosaic=max(1, epochs // 6), warmup_epochs=min(3.0, max(0.5, epochs / 10)), cache="ram",
        # a trained detector's biases would be thrown off by the warm-up's high bias learning rate (0.1)
        warmup_bias_lr=0.0 if initial_weights is not None else 0.1,
    )
    return run


def ship_detector(best: Path, destination: Path = SHIPPED_DETECTOR) -> Path:
    """Copy a trained checkpoint (ultralytics strips the optimizer from best.pt at the end of training)."""
    if not best.is_file():
        raise UserError(f"--ship: {best} not found")
    import torch

    destination.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = torch.load(best, map_location="cpu", weights_only=False)
    # ultralytics names the class "item" when training with single_cls; ours is a person.
    for key in ("model", "ema"):
        if checkpoint.get(key) is not None:
            checkpoint[key].names = {0: "person"}
    torch.save(checkpoint, destination)
    size_mb = destination.stat().st_size / 1e6
    if size_mb > 25:
        raise UserError(f"{destination} is {size_mb:.1f} MB, over the 25 MB limit of models/")
    return destination


def main(argv=None) -> int:
    from pipeline.synthetic.command_line import OneLineErrorParser

    parser = OneLineErrorParser(prog="python -m train.detector", description=__doc__.splitlines()[0],
                                formatter_class=DefaultsHelpFormatter)
    parser.add_argument("--data", help="data.yaml written by python -m train.detector_dataset")
    parser.add_argument("--out", default="runs/detector", help="run directory (ultralytics' project)")
    parser.add_argument("--epochs", type=int, default=11, help="passes over the training images")
    parser.add_argument("--image-size", type=int, default=320,
                        help="training image size (frames are 640x360; people 40-120 px tall there)")
    parser.add_argument("--batch", type=int, default=16, help="images per optimiser step")
    parser.add_argument("--workers", type=int, default=2, help="data loader processes")
    parser.add_argument("--fraction", type=float, default=1.0, help="train on this fraction of the images")
    parser.add_argument("--seed", type=int, default=0, help="ultralytics' training seed")
    parser.add_argument("--initial-weights", metavar="PT",
                        help="fine-tune this trained detector (e.g. models/yolo11n_synthetic_person.pt) "
                             "instead of starting from random weights")
    parser.add_argument("--resume", action="store_true", help="continue OUT/train from its last.pt")
    parser.add_argument("--ship", metavar="BEST_PT", help="copy a trained checkpoint to models/yolo11n_synthetic_person.pt")
    arguments = parser.parse_args(argv)
    if arguments.ship:
        path = ship_detector(Path(arguments.ship))
        print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0
    out = Path(arguments.out)
    if not arguments.resume:
        if not arguments.data:
            raise UserError("--data DATA_YAML is required (python -m train.detector_dataset writes it)")
        if not Path(arguments.data).is_file():
            raise UserError(f"--data: {arguments.data} not found")
    initial_weights = Path(arguments.initial_weights) if arguments.initial_weights else None
    if initial_weights is not None:
        if arguments.resume:
            raise UserError("--initial-weights starts a new run; --resume continues one from its own last.pt")
        if not initial_weights.is_file():
            raise UserError(f"--initial-weights: {initial_weights} not found")
    run = train_detector(Path(arguments.data) if arguments.data else Path(), out, arguments.epochs,
                         arguments.image_size, arguments.batch, arguments.workers, arguments.resume,
                         arguments.seed, arguments.fraction, initial_weights)
    results = run / "results.csv"
    if results.is_file():
        rows = results.read_text().splitlines()
        print(json.dumps({"run": str(run), "epochs_done": len(rows) - 1, "last_row": rows[-1]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command_line(main))
