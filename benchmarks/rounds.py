"""Alternated rounds, the benchmarks' way of timing variants side by side on a shared machine: every
round measures each variant once, in turn, so that a slow spell hits all of them alike."""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, TypeVar

Variant = TypeVar("Variant", bound=Hashable)
Measurement = TypeVar("Measurement")


def alternated_rounds(variants: Iterable[Variant], rounds: int,
                      measure: Callable[[Variant], Measurement]) -> dict[Variant, list[Measurement]]:
    """``measure(variant)`` for every variant, round after round: variant -> its ``rounds`` measurements,
    in the variants' order."""
    variants = list(variants)
    results: dict = {variant: [] for variant in variants}
    for _ in range(rounds):
        for variant in variants:
            results[variant].append(measure(variant))
    return results
