"""Training and evaluation of the BPSEMA model (datasets, augmentation, sampler, trainer)."""
