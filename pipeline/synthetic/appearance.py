"""What a person wears: clothing palettes and styles (declarative tables) and how one outfit is drawn.

Colours are BGR (OpenCV order). Each table maps a name to a colour or a style to a weight.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

Colour = tuple[int, int, int]

TOP_COLOURS: dict[str, Colour] = {
    "white": (232, 232, 232),
    "black": (32, 32, 32),
    "grey": (128, 128, 128),
    "navy": (96, 42, 22),
    "blue": (196, 110, 40),
    "light_blue": (228, 192, 140),
    "red": (42, 40, 198),
    "maroon": (44, 30, 118),
    "green": (60, 142, 52),
    "olive": (44, 112, 108),
    "yellow": (44, 202, 230),
    "orange": (30, 132, 238),
    "purple": (132, 52, 112),
    "pink": (184, 150, 238),
    "beige": (160, 198, 218),
    "brown": (42, 72, 122),
    "teal": (132, 128, 28),
}

BOTTOM_COLOURS: dict[str, Colour] = {
    "black": (30, 30, 30),
    "navy": (90, 40, 24),
    "denim": (140, 92, 52),
    "light_denim": (192, 152, 112),
    "grey": (112, 112, 112),
    "khaki": (118, 170, 192),
    "brown": (40, 66, 110),
    "white": (226, 226, 226),
    "red": (40, 38, 170),
    "olive": (48, 104, 96),
}

SHOE_COLOURS: dict[str, Colour] = {
    "black": (24, 24, 24),
    "white": (236, 236, 236),
    "brown": (30, 56, 96),
    "grey": (100, 100, 100),
    "red": (40, 40, 190),
    "blue": (170, 90, 40),
}

SKIN_TONES: dict[str, Colour] = {
    "very_light": (196, 214, 240),
    "light": (160, 190, 228),
    "medium": (118, 156, 206),
    "tan": (86, 128, 180),
    "brown": (58, 92, 142),
    "dark": (38, 60, 96),
}

HAIR_COLOURS: dict[str, Colour] = {
    "black": (22, 22, 26),
    "dark_brown": (28, 42, 66),
    "brown": (40, 70, 110),
    "blonde": (112, 182, 220),
    "grey": (170, 170, 170),
    "red": (36, 70, 170),
}

ACCESSORY_COLOURS: dict[str, Colour] = {
    "black": (28, 28, 28),
    "red": (40, 40, 200),
    "blue": (190, 100, 30),
    "green": (50, 130, 40),
    "yellow": (40, 200, 230),
    "white": (230, 230, 230),
    "brown": (36, 66, 116),
    "grey": (120, 120, 120),
}

# Style tables: name -> relative frequency.
TOP_PATTERNS: dict[str, float] = {
    "solid": 0.40,
    "horizontal_stripes": 0.16,
    "two_tone_vertical": 0.12,
    "chest_band": 0.14,
    "logo": 0.18,
}
SLEEVES: dict[str, float] = {"long": 0.6, "short": 0.4}
BOTTOM_STYLES: dict[str, float] = {"trousers": 0.64, "shorts": 0.20, "skirt": 0.16}
HAIR_STYLES: dict[str, float] = {"short": 0.55, "long": 0.35, "bald": 0.10}
HATS: dict[str, float] = {"none": 0.78, "cap": 0.22}
BAGS: dict[str, float] = {"none": 0.55, "backpack": 0.28, "shoulder_bag": 0.17}

COLOUR_JITTER = 10  # +- grey levels per channel, so that same-named colours still differ a little


@dataclass(frozen=True)
class UpperClothing:
    colour_name: str
    colour: Colour
    pattern: str
    second_colour_name: str
    second_colour: Colour
    sleeves: str


@dataclass(frozen=True)
class LowerClothing:
    style: str
    colour_name: str
    colour: Colour
    shoe_colour_name: str
    shoe_colour: Colour


@dataclass(frozen=True)
class Appearance:
    skin_name: str
    skin: Colour
    hair_style: str
    hair_colour_name: str
    hair_colour: Colour
    upper: UpperClothing
    lower: LowerClothing
    hat: str
    hat_colour: Colour
    bag: str
    bag_colour: Colour

    def to_dict(self) -> dict:
        return asdict(self)

    def with_upper(self, upper: UpperClothing) -> "Appearance":
        return replace(self, upper=upper)

    def with_lower(self, lower: LowerClothing) -> "Appearance":
        return replace(self, lower=lower)


def _choose(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    weights = np.array([table[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _colour(rng: np.random.Generator, palette: dict[str, Colour], avoid: str | None = None) -> tuple[str, Colour]:
    names = [n for n in palette if n != avoid]
    name = names[int(rng.integers(len(names)))]
    jitter = rng.integers(-COLOUR_JITTER, COLOUR_JITTER + 1, size=3)
    colour = tuple(int(v) for v in np.clip(np.array(palette[name]) + jitter, 0, 255))
    return name, colour


def sample_upper(rng: np.random.Generator, avoid_colour: str | None = None) -> UpperClothing:
    name, colour = _colour(rng, TOP_COLOURS, avoid_colour)
    second_name, second = _colour(rng, TOP_COLOURS, name)
    return UpperClothing(name, colour, _choose(rng, TOP_PATTERNS), second_name, second, _choose(rng, SLEEVES))


def sample_lower(rng: np.random.Generator, avoid_colour: str | None = None) -> LowerClothing:
    name, colour = _colour(rng, BOTTOM_COLOURS, avoid_colour)
    shoe_name, shoe = _colour(rng, SHOE_COLOURS)
    return LowerClothing(_choose(rng, BOTTOM_STYLES), name, colour, shoe_name, shoe)


def sample_appearance(rng: np.random.Generator) -> Appearance:
    skin_name, skin = _colour(rng, SKIN_TONES)
    hair_name, hair = _colour(rng, HAIR_COLOURS)
    _, hat_colour = _colour(rng, ACCESSORY_COLOURS)
    _, bag_colour = _colour(rng, ACCESSORY_COLOURS)
    return Appearance(
        skin_name=skin_name,
        skin=skin,
        hair_style=_choose(rng, HAIR_STYLES),
        hair_colour_name=hair_name,
        hair_colour=hair,
        upper=sample_upper(rng),
        lower=sample_lower(rng),
        hat=_choose(rng, HATS),
        hat_colour=hat_colour,
        bag=_choose(rng, BAGS),
        bag_colour=bag_colour,
    )
