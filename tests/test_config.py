import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import reid
from reid.config import ConfigError, load_config
from tests.conftest import CONFIG_DIR, REPOSITORY_ROOT

SHIPPED_CONFIGS = sorted(CONFIG_DIR.glob("model/**/*.yaml"))


def test_every_shipped_model_config_loads():
    assert len(SHIPPED_CONFIGS) >= 7
    for path in SHIPPED_CONFIGS:
        load_config(path)


def test_paper_configs_have_the_paper_settings():
    duke = load_config(CONFIG_DIR / "model" / "bpsema_duke.yaml")
    occluded = load_config(CONFIG_DIR / "model" / "bpsema_occluded_duke.yaml")
    assert (duke.model.num_parts, duke.loss.preset) == (5, "holistic")
    assert (occluded.model.num_parts, occluded.loss.preset) == (8, "occluded")
    for config in (duke, occluded):
        assert config.model.backbone == "resnet50" and config.model.last_stride == 1
        assert (config.input.height, config.input.width) == (384, 128)
        assert config.model.residual and config.model.se and config.model.ema
        assert config.train.learning_rate == 3.5e-4 and config.train.milestones == [40, 70]
        assert config.loss.part_attention_weight == 0.35 and config.loss.triplet_margin == 0.3


def _write(tmp_path: Path, values) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize(
    "values, key",
    [
        ({"model": {"num_part": 8}}, "model.num_part"),
        ({"modle": {}}, "modle"),
        ({"model": {"embedding_dim": "512"}}, "model.embedding_dim"),
        ({"model": {"ema": "yes"}}, "model.ema"),
        ({"model": {"backbone": "vgg16"}}, "model.backbone"),
        ({"train": {"milestones": [40, "seventy"]}}, "train.milestones[1]"),
        ({"loss": {"weights": {"parts": {"triplet": "1"}}}}, "loss.weights.parts.triplet"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path, values, key):
    path = _write(tmp_path, values)
    with pytest.raises(ConfigError) as caught:
        reid.build_model(path)
    message = str(caught.value)
    assert str(path) in message and f"'{key}'" in message
    assert "\n" not in message


def test_bad_config_on_the_command_line_is_one_line_and_exit_code_2(tmp_path):
    path = _write(tmp_path, {"model": {"num_parts": "eight"}})
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY_ROOT / "run_pipeline.py"), "--selfcheck", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert str(path) in lines[0] and "model.num_parts" in lines[0]
    assert "Traceback" not in completed.stderr


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "values, expected",
    [
        ({"detector": {"imagesize": 640}}, "unknown key 'detector.imagesize' (known keys here: backend, confidence,"),
        ({"detector": {"image_size": "640"}}, "key 'detector.image_size': Input should be a valid integer, got str"),
        ({"output": {"videos": 1}}, "key 'output.videos': Input should be a valid boolean, got int (1)"),
        ({"association": {"distance_threshold": "nope"}},
         "key 'association.distance_threshold': Input should be a valid number or Input should be 'auto'"),
        ({"sources": {"streams": [{"name": "cam1", "path": "a.mp4"}, {"name": "cam2"}]}},
         "key 'sources.streams[1].path': required, not given"),
        ({"live": {"min_camera_fps": 0.3}}, "key 'live': live settings: read_timeout_s (2) must span two frames"),
        ({"association": {"ratio": 1.5}}, "key 'association.ratio': expected a number in (0, 1]"),
    ],
)
def test_bad_pipeline_config_is_one_line_naming_file_and_key(tmp_path, values, expected):
    from pipeline.config import load_pipeline_config

    path = _write(tmp_path, values)
    with pytest.raises(ConfigError) as caught:
        load_pipeline_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message


def test_pipeline_config_reads_numbers_as_the_fields_types(tmp_path):
    from pipeline.config import load_pipeline_config

    config = load_pipeline_config(_write(tmp_path, {
        "association": {"distance_threshold": 1, "transit_windows": [{"cameras": ["a", "b"], "max_s": float("inf")}]},
        "live": {"min_camera_fps": 0.25, "read_timeout_s": 8},
    }))
    assert config.association.distance_threshold == 1.0 and isinstance(config.association.distance_threshold, float)
    assert config.association.transit_windows[0].max_s == float("inf")
    assert config.live.read_timeout_s == 8.0 and config.sources.streams == []
