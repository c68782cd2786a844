"""Backbones that turn an image batch into a spatial feature map.

| name          | source                          | channels | stride (384x128 input -> map) |
|---------------|---------------------------------|----------|-------------------------------|
| resnet50      | torchvision, last stride 1      | 2048     | 16 (24x8)                     |
| resnet50_ibn  | torchvision + IBN-a blocks      | 2048     | 16 (24x8)                     |
| resnet18      | torchvision, last stride 1      | 512      | 16 (24x8), small CPU model    |
| hrnet_w32     | timm, 4 branches upsampled+cat  | 1920     | 4 (96x32)                     |
| resnet10t     | timm, ``output_stride`` dilated | 512      | ``output_stride`` (8 or 16), small CPU model |

``output_stride`` applies to the timm ResNets (dilated last stages, so the receptive field is kept);
torchvision ResNets use ``last_stride`` (1 gives stride 16) instead.

``pretrained=True`` loads ImageNet weights the normal way (torch hub cache, or timm's hub); when
they cannot be had (offline), a ``UserError`` names the file to place and where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from reid.errors import UserError


def hub_checkpoint_dir() -> Path:
    """Where torch hub (and so torchvision) looks for downloaded weights: $TORCH_HOME/hub/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


class InstanceBatchNorm(nn.Module):
    """IBN-a normalisation: InstanceNorm on the first half of the channels, BatchNorm on the rest."""

    def __init__(self, channels: int, instance_ratio: float = 0.5):
        super().__init__()
        self.instance_channels = int(channels * instance_ratio)
        self.instance_norm = nn.InstanceNorm2d(self.instance_channels, affine=True)
        self.batch_norm = nn.BatchNorm2d(channels - self.instance_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, C, H, W] -> [N, C, H, W]."""
        instance_part, batch_part = torch.split(x, [self.instance_channels, x.shape[1] - self.instance_channels], dim=1)
        return torch.cat([self.instance_norm(instance_part.contiguous()), self.batch_norm(batch_part.contiguous())], 1)


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without its pooling and classifier; ``last_stride`` 1 keeps 1/16 resolution."""

    def __init__(self, resnet: torchvision.models.ResNet, last_stride: int):
        super().__init__()
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        first_block = self.layer4[0]
        strided_conv = first_block.conv2 if hasattr(first_block, "conv3") else first_block.conv1
        strided_conv.stride = (last_stride, last_stride)
        if first_block.downsample is not None:
            first_block.downsample[0].stride = (last_stride, last_stride)
        self.out_channels = resnet.fc.in_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 3, H, W] -> feature map [N, C, H/16, W/16] (last stride 1)."""
        x = self.stem(images)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class HRNetBackbone(nn.Module):
    """timm HRNet-W32; the four branch outputs are upsampled to 1/4 and concatenated (1920 channels)."""

    def __init__(self, pretrained: bool):
        super().__init__()
        import timm

        kwargs = dict(features_only=True, feature_location="incre", out_indices=(1, 2, 3, 4))
        self.body = _create_timm_model("hrnet_w32", pretrained, kwargs)
        self.out_channels = sum(self.body.feature_info.channels())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 3, H, W] -> feature map [N, 1920, H/4, W/4]."""
        branches = self.body(images)
        size = branches[0].shape[-2:]
        upsampled = [branches[0]] + [
            F.interpolate(branch, size=size, mode="bilinear", align_corners=False) for branch in branches[1:]
        ]
        return torch.cat(upsampled, dim=1)


class TimmFeatureBackbone(nn.Module):
    """A timm network's last feature stage at ``output_stride`` (timm dilates the later stages)."""

    def __init__(self, name: str, pretrained: bool, output_stride: int):
        super().__init__()
        kwargs = dict(features_only=True, out_indices=(-1,), output_stride=output_stride)
        self.body = _create_timm_model(name, pretrained, kwargs)
        self.out_channels = self.body.feature_info.channels()[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: [N, 3, H, W] -> feature map [N, C, H/output_stride, W/output_stride]."""
        return self.body(images)[-1]


# --- pretrained weights -------------------------------------------------------------------------

_IBN_A_WEIGHTS_URL = "https://github.com/XingangPan/IBN-Net/releases/download/v1.0/resnet50_ibn_a-d9d0bb7b.pth"


def _download_state_dict(url: str, what: str) -> dict:
    """torch hub's normal download into the hub cache, or one clear line when it cannot be had."""
    target = hub_checkpoint_dir() / os.path.basename(url)
    try:
        return torch.hub.load_state_dict_from_url(url, progress=False, map_location="cpu")
    except Exception as error:  # network failures surface as URLError, OSError, HTTPError, ...
        raise UserError(
            f"ImageNet weights for {what} are not available offline ({type(error).__name__}); "
            f"place the file {target.name} at {target} (from {url}) or set pretrained: false"
        ) from error


def _create_timm_model(name: str, pretrained: bool, kwargs: dict) -> nn.Module:
    import timm

    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    local = hub_checkpoint_dir() / f"{name}.pth"
    if local.is_file():
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(local)}, **kwargs)
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as error:
        raise UserError(
            f"ImageNet weights for {name} are not available offline ({type(error).__name__}); "
            f"place timm's '{name}' state dict as {local} or set pretrained: false"
        ) from error


def _rename_ibn_keys(state_dict: dict) -> dict:
    """IBN-Net's release names the halves ``IN``/``BN``; ours are ``instance_norm``/``batch_norm``."""
    renamed = {}
    for key, value in state_dict.items():
        key = key.replace(".bn1.IN.", ".bn1.instance_norm.").replace(".bn1.BN.", ".bn1.batch_norm.")
        renamed[key] = value
    return renamed


def _torchvision_resnet(depth: int, pretrained: bool, ibn: bool) -> torchvision.models.ResNet:
    factory = {18: torchvision.models.resnet18, 50: torchvision.models.resnet50}[depth]
    resnet = factory(weights=None)
    if ibn:
        for layer in (resnet.layer1, resnet.layer2, resnet.layer3):
            for block in layer:
                block.bn1 = InstanceBatchNorm(block.bn1.num_features)
    if pretrained:
        if ibn:
            state_dict = _rename_ibn_keys(_download_state_dict(_IBN_A_WEIGHTS_URL, "resnet50_ibn (IBN-a)"))
        else:
            weights = {
                18: torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
                50: torchvision.models.ResNet50_Weights.IMAGENET1K_V1,
            }[depth]
            state_dict = _download_state_dict(weights.url, f"resnet{depth}")
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith("fc.")}
        missing, unexpected = resnet.load_state_dict(state_dict, strict=False)
        missing = [key for key in missing if not key.startswith("fc.")]
        if missing or unexpected:
            raise UserError(
                f"the ImageNet weights file for resnet{depth}{'_ibn' if ibn else ''} does not match the network "
                f"(missing {len(missing)} keys, e.g. {missing[:1]}; unexpected {len(unexpected)}, e.g. {unexpected[:1]})"
            )
    return resnet


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[bool, int, int], nn.Module]  # (pretrained, last_stride, output_stride)
    description: str


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50": BackboneSpec(
        lambda pretrained, last_stride, output_stride: ResNetBackbone(_torchvision_resnet(50, pretrained, False), last_stride),
        "ResNet-50 (torchvision), 2048 channels",
    ),
    "resnet50_ibn": BackboneSpec(
        lambda pretrained, last_stride, output_stride: ResNetBackbone(_torchvision_resnet(50, pretrained, True), last_stride),
        "ResNet-50-IBN-a, 2048 channels",
    ),
    "resnet18": BackboneSpec(
        lambda pretrained, last_stride, output_stride: ResNetBackbone(_torchvision_resnet(18, pretrained, False), last_stride),
        "ResNet-18 (torchvision), 512 channels, for CPU use",
    ),
    "hrnet_w32": BackboneSpec(lambda pretrained, last_stride, output_stride: HRNetBackbone(pretrained), "HRNet-W32 (timm), 1920 channels"),
    "resnet10t": BackboneSpec(
        lambda pretrained, last_stride, output_stride: TimmFeatureBackbone("resnet10t", pretrained, output_stride),
        "ResNet-10-T (timm), 512 channels, for CPU use",
    ),
}


def build_backbone(name: str, pretrained: bool, last_stride: int = 1, output_stride: int = 16) -> nn.Module:
    """A backbone module with an ``out_channels`` attribute; forward: [N,3,H,W] -> [N,C,h,w]."""
    if name not in BACKBONES:
        raise UserError(f"unknown backbone '{name}'; known: {', '.join(BACKBONES)}")
    return BACKBONES[name].build(pretrained, last_stride, output_stride)
