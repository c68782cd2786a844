"""The cast: one identity per person id, with outfit, body shape, and deliberate look-alikes.

About a fifth of the identities copy another identity's upper clothing and differ below, and about
a fifth copy the lower clothing and differ above, so that a model must look at the parts an
occluder hides to tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.synthetic.appearance import Appearance, sample_appearance, sample_lower, sample_upper
from pipeline.synthetic.articulated_body import BodyShape, sample_body_shape
from pipeline.synthetic.random_streams import random_stream

SHARE_UPPER_PROBABILITY = 0.2
SHARE_LOWER_PROBABILITY = 0.2


@dataclass(frozen=True)
class Identity:
    person_id: int  # global id, 1-based
    appearance: Appearance
    body: BodyShape
    shares_upper_with: int | None = None
    shares_lower_with: int | None = None

    def to_dict(self) -> dict:
        return {
            "person_id": self.person_id,
            "height_m": self.body.height_m,
            "build": self.body.build,
            "appearance": self.appearance.to_dict(),
            "shares_upper_with": self.shares_upper_with,
            "shares_lower_with": self.shares_lower_with,
        }


def sample_identities(count: int, seed: int, purpose: str = "identity") -> list[Identity]:
    """``count`` identities drawn from the ``purpose`` streams of ``seed`` (worlds: "identity";
    the ReID corpus: "corpus_identity", a namespace no world uses)."""
    identities: list[Identity] = []
    for index in range(count):
        rng = random_stream(seed, purpose, index)
        appearance = sample_appearance(rng)
        body = sample_body_shape(rng)
        shares_upper = shares_lower = None
        if identities:
            draw = rng.uniform()
            model = identities[int(rng.integers(len(identities)))]
            if draw < SHARE_UPPER_PROBABILITY:
                lower = sample_lower(rng, avoid_colour=model.appearance.lower.colour_name)
                appearance = appearance.with_upper(model.appearance.upper).with_lower(lower)
                shares_upper = model.person_id
            elif draw < SHARE_UPPER_PROBABILITY + SHARE_LOWER_PROBABILITY:
                upper = sample_upper(rng, avoid_colour=model.appearance.upper.colour_name)
                appearance = appearance.with_lower(model.appearance.lower).with_upper(upper)
                shares_lower = model.person_id
        identities.append(Identity(index + 1, appearance, body, shares_upper, shares_lower))
    return identities
