"""Learning-rate schedule: linear warm-up, then step decay at the milestones (per epoch)."""

from __future__ import annotations

from reid.config import TrainConfig


def learning_rate_factor(epoch: int, config: TrainConfig) -> float:
    """Multiplier of the base learning rate during 0-based ``epoch``.

    Warm-up: from ``warmup_start_factor`` at epoch 0 rising linearly to 1 at ``warmup_epochs``;
    then ``gamma`` to the power of the number of milestones already reached.
    """
    if epoch < config.warmup_epochs:
        start = config.warmup_start_factor
        return start + (1.0 - start) * epoch / config.warmup_epochs
    return config.gamma ** sum(1 for milestone in config.milestones if epoch >= milestone)
