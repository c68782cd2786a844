"""Pretrained ImageNet weights: loaded from the torch hub cache the normal way, one clear line offline."""

import urllib.error

import pytest
import torch
import torchvision

import reid
from reid.errors import UserError
from tests.conftest import small_config


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # torch hub's cache is $TORCH_HOME/hub
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    return tmp_path / "hub" / "checkpoints"


def _offline(*args, **kwargs):
    raise urllib.error.URLError("network unreachable")


def test_offline_weights_give_one_clear_line_naming_the_file(empty_hub, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    with pytest.raises(UserError) as caught:
        reid.build_model(small_config(backbone="resnet18", pretrained=True))
    message = str(caught.value)
    expected_file = empty_hub / torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    assert str(expected_file) in message and "\n" not in message


def test_placed_weights_file_is_loaded(empty_hub, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    reference = torchvision.models.resnet18(weights=None)
    empty_hub.mkdir(parents=True)
    file_name = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[1]
    torch.save(reference.state_dict(), empty_hub / file_name)
    model = reid.build_model(small_config(backbone="resnet18", pretrained=True))
    torch.testing.assert_close(model.backbone.stem[0].weight, reference.conv1.weight)
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_pretrained_argument_overrides_the_file(empty_hub, monkeypatch):
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    config = small_config(backbone="resnet18", pretrained=True)
    reid.build_model(config, pretrained=False)  # no download attempted, so no error
    with pytest.raises(UserError):
        reid.build_model(config)
