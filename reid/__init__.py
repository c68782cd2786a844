"""BPSEMA occluded person re-identification: the model and everything about part features."""

from reid.config import ReIDConfig, load_config
from reid.features import PartFeatures
from reid.model import BPSEMA, ModelOutput, build_model

__all__ = ["BPSEMA", "ModelOutput", "PartFeatures", "ReIDConfig", "build_model", "load_config"]
