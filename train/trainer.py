"""The training loop: identity-sampled batches, GiLt + part attention loss, Adam with warm-up and
step decay, checkpoints every epoch (resumable exactly), evaluation at the end."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from reid.progress import progress_bar

from reid.checkpoint import load_network_weights, read_checkpoint, save_checkpoint
from reid.config import ReIDConfig
from reid.errors import UserError
from reid.losses import BPSEMALoss
from reid.part_groups import mirrored_part_order
from reid.model import BPSEMA, VISIBILITY_RULE_KEYS
from train.augmentation import AugmentationSettings
from train.datasets import ReIDDataset
from train.evaluation import EvaluationReport, evaluate_model
from train.image_datasets import TrainingImages
from train.part_visibility import calibrate_visibility
from train.sampler import IdentityBatchSampler
from train.schedule import learning_rate_factor
from train.training_log import TrainingLog


def augmentation_settings(config: ReIDConfig) -> AugmentationSettings:
    return AugmentationSettings(
        height=config.input.height,
        width=config.input.width,
        mean=tuple(config.input.mean),
        std=tuple(config.input.std),
        padding=config.train.padding,
        random_erasing=config.train.random_erasing,
        horizontal_flip=config.train.horizontal_flip,
        colour_jitter=config.train.colour_jitter,
        mirrored_part_order=mirrored_part_order(config.model.num_parts),
    )


def feature_map_size(model: BPSEMA, config: ReIDConfig) -> tuple[int, int]:
    """The (h, w) of the pixel classifier's map for this input size, from a dry run."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        output = model(torch.zeros(1, 3, config.input.height, config.input.width, device=device))
    model.train(was_training)
    return tuple(output.part_attention_logits.shape[-2:])


@dataclass
class EpochSummary:
    epoch: int  # 1-based, completed
    losses: dict[str, float]
    images_per_second: float


class Trainer:
    def __init__(
        self,
        config: ReIDConfig,
        dataset: ReIDDataset,
        output: Path,
        test_dataset: ReIDDataset | None = None,
        device: str | None = None,
        num_workers: int | None = None,
        progress: bool = True,
        load_initial_weights: bool = True,
    ):
        """``load_initial_weights=False`` skips ``train.initial_weights`` (a resumed run's weights
        come from its own checkpoint)."""
        if not dataset.train:
            raise UserError(f"dataset '{dataset.name}' has no training split (train on another dataset)")
        self.config = config
        self.dataset = dataset
        self.test_dataset = test_dataset or dataset
        self.output = Path(output)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.num_workers = config.train.num_workers if num_workers is None else num_workers
        self.progress = progress
        self.settings = augmentation_settings(config)
        self.use_amp = self.device.type == "cuda" and config.train.mixed_precision
        if self.device.type == "cpu":
            # Channels that die in training carry subnormal floats (BatchNorm running variances,
            # Adam moments, activations); x86 CPUs compute on them many times slower. Measured on
            # the 2-core CPU: a fine-tune's second epoch fell from 1.9 to 0.17 steps/s without this
            # (models/README.md, "A third fine-tune"). Flushed to zero, they change no result that matters.
            torch.set_flush_denormal(True)
        torch.manual_seed(config.train.seed)

        self.model = BPSEMA(config, num_classes=dataset.num_train_identities)
        if config.train.initial_weights and load_initial_weights:
            copied = load_network_weights(self.model, config.train.initial_weights)
            if progress:
                print(f"initial weights: {copied} tensors from {config.train.initial_weights}", flush=True)
        self.model = self.model.to(self.device)
        if self.device.type == "cuda" and config.train.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.label_size = feature_map_size(self.model, config)
        self.criterion = BPSEMALoss(config.loss)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.train.learning_rate, weight_decay=config.train.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda epoch: learning_rate_factor(epoch, config.train)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.weights_average = (
            AveragedModel(
                self.model,
                multi_avg_fn=get_ema_multi_avg_fn(config.train.weights_moving_average_decay),
                use_buffers=True,
            )
            if config.train.weights_moving_average
            else None
        )
        self.sampler = IdentityBatchSampler(
            [sample.pid for sample in dataset.train],
            config.train.identities_per_batch,
            config.train.images_per_identity,
            seed=config.train.seed,
        )
        self.images = TrainingImages(
            dataset.train, self.settings, config.model.num_parts, self.label_size, dataset.name, config.loss.part_label_rule
        )
        self.start_epoch = 0

    # --- checkpoints ------------------------------------------------------------------------
    def _training_state(self, epoch: int) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "sampler": {"seed": self.sampler.seed, "epoch": epoch},
            "weights_average": None if self.weights_average is None else self.weights_average.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
            "dataset": self.dataset.name,
        }

    def save(self, epoch: int) -> Path:
        state = self._training_state(epoch)
        path = save_checkpoint(self.output / "last.pt", self.model, epoch=epoch, training=state)
        every = self.config.train.checkpoint_every
        # The last epoch's weights are last.pt: an epoch_N.pt of them would be a second copy.
        if every > 0 and epoch % every == 0 and epoch != self.config.train.epochs:
            save_checkpoint(self.output / f"epoch_{epoch}.pt", self.model, epoch=epoch, training=state)
        return path

    def resume(self, path: Path | None = None) -> int:
        """Load model, optimiser, scheduler, sampler and RNG state; returns the next epoch (0-based)."""
        path = Path(path or self.output / "last.pt")
        payload = read_checkpoint(path)
        training = payload.get("training")
        if training is None:
            raise UserError(f"{path}: checkpoint has no training state to resume from")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(training["optimizer"])
        self.scheduler.load_state_dict(training["scheduler"])
        self.scaler.load_state_dict(training["scaler"])
        if self.weights_average is not None and training.get("weights_average") is not None:
            self.weights_average.load_state_dict(training["weights_average"])
        torch.set_rng_state(training["rng"]["torch"])
        np.random.set_state(training["rng"]["numpy"])
        random.setstate(training["rng"]["python"])
        self.start_epoch = int(payload["epoch"])
        return self.start_epoch

    # --- training ---------------------------------------------------------------------------
    def _loader(self, epoch: int) -> DataLoader:
        self.sampler.set_epoch(epoch)
        return DataLoader(
            self.images,
            batch_sampler=self.sampler,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def train_epoch(self, epoch: int, log: TrainingLog) -> EpochSummary:
        """One pass over the identity-sampled batches of 0-based ``epoch``."""
        self.model.train()
        loader = self._loader(epoch)
        totals: dict[str, float] = {}
        images_seen, started = 0, time.perf_counter()
        bar = progress_bar(
            loader,
            desc=f"epoch {epoch + 1}/{self.config.train.epochs}",
            unit="batch",
            enabled=self.progress,
            leave=False,
        )
        for step, batch in enumerate(bar):
            images = batch["image"].to(self.device, non_blocking=True)
            if self.device.type == "cuda" and self.config.train.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            labels = batch["pid"].to(self.device)
            pixel_labels = batch["pixel_labels"].to(self.device)
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.use_amp):
                output = self.model(images)
            breakdown = self.criterion(output, labels, pixel_labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(breakdown.total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.weights_average is not None:
                self.weights_average.update_parameters(self.model)

            values = {name: float(value.detach()) for name, value in breakdown.terms.items()}
            values["total"] = float(breakdown.total.detach())
            values["learning_rate"] = self.optimizer.param_groups[0]["lr"]
            for name, value in values.items():
                totals[name] = totals.get(name, 0.0) + value
            images_seen += len(images)
            rate = images_seen / max(time.perf_counter() - started, 1e-9)
            log.write(epoch + 1, step, epoch * len(loader) + step, values)
            bar.set_postfix({name: f"{value:.3f}" for name, value in values.items() if name != "learning_rate"} | {"img/s": f"{rate:.1f}"})
        steps = max(1, len(loader))
        self.scheduler.step()
        return EpochSummary(
            epoch=epoch + 1,
            losses={name: total / steps for name, total in totals.items()},
            images_per_second=images_seen / max(time.perf_counter() - started, 1e-9),
        )

    def calibrate_visibility(self, epoch: int) -> None:
        """Fit the visibility rule (per-part thresholds or classifiers) on labelled training crops
        (no augmentation) and write it into the checkpoint of ``epoch``."""
        report = calibrate_visibility(
            self.evaluation_model(), self.dataset.train, self.settings, self.dataset.name,
            seed=self.config.train.seed, batch_size=self.config.train.evaluation_batch_size,
            num_workers=self.num_workers, progress=self.progress,
        )
        if self.weights_average is not None:  # the fitted rule was written into the average's copy
            fitted = {key: value for key, value in self.weights_average.module.state_dict().items()
                      if key.startswith(VISIBILITY_RULE_KEYS)}
            self.model.load_state_dict(fitted, strict=False)
        self.save(epoch)
        if self.progress:
            print(f"visibility rule ({self.config.model.visibility}) fitted on training crops:", flush=True)
            print(report.table(), flush=True)

    def evaluation_model(self) -> BPSEMA:
        return self.weights_average.module if self.weights_average is not None else self.model

    def evaluate(self) -> EvaluationReport:
        return evaluate_model(
            self.evaluation_model(),
            self.test_dataset,
            self.settings,
            batch_size=self.config.train.evaluation_batch_size,
            num_workers=self.num_workers,
            progress=self.progress,
        )

    def fit(self, epochs: int | None = None, evaluate_at_end: bool = True) -> list[EpochSummary]:
        """Train from ``start_epoch`` to ``epochs`` (default: the config's), checkpointing every epoch."""
        epochs = self.config.train.epochs if epochs is None else epochs
        self.output.mkdir(parents=True, exist_ok=True)
        log = TrainingLog(self.output, append=self.start_epoch > 0)
        summaries = []
        try:
            for epoch in range(self.start_epoch, epochs):
                summary = self.train_epoch(epoch, log)
                summaries.append(summary)
                self.save(summary.epoch)
                losses = " ".join(f"{name}={value:.4f}" for name, value in summary.losses.items() if name != "learning_rate")
                if self.progress:
                    print(f"epoch {summary.epoch}/{epochs}: {losses} ({summary.images_per_second:.1f} img/s)", flush=True)
                every = self.config.train.evaluate_every
                if every > 0 and summary.epoch % every == 0 and summary.epoch != epochs:
                    report = self.evaluate()
                    report.write_json(self.output / f"evaluation_epoch_{summary.epoch}.json")
                    if self.progress:
                        print(report.table(), flush=True)
            self.start_epoch = epochs
        finally:
            log.close()
        if self.config.model.visibility in ("calibrated", "classifier") and summaries:
            self.calibrate_visibility(epochs)
        if evaluate_at_end:
            report = self.evaluate()
            report.write_json(self.output / "evaluation.json")
            if self.progress:
                print(report.table(), flush=True)
        return summaries
