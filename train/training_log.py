"""Training log: one CSV row per step (every loss term and the learning rate), TensorBoard when installed."""

from __future__ import annotations

import csv
from pathlib import Path


class TrainingLog:
    def __init__(self, directory: Path, append: bool):
        self.path = directory / "log.csv"
        self._columns: list[str] | None = None
        if append and self.path.is_file():
            with open(self.path, newline="") as handle:
                header = next(csv.reader(handle), None)
            self._columns = header
        elif self.path.exists():
            self.path.unlink()
        self._tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(str(directory / "tensorboard"))
        except Exception:  # tensorboard is optional
            self._tensorboard = None

    def write(self, epoch: int, step: int, global_step: int, values: dict[str, float]) -> None:
        row = {"epoch": epoch, "step": step, **values}
        if self._columns is None:
            self._columns = list(row)
            with open(self.path, "w", newline="") as handle:
                csv.writer(handle).writerow(self._columns)
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([row.get(column, "") for column in self._columns])
        if self._tensorboard is not None:
            for name, value in values.items():
                self._tensorboard.add_scalar(name, value, global_step)

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
