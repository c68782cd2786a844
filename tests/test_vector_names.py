"""One name per vector: "foreground" is the foreground embedding (index 0 of the part features),
"global" the model's average-pooled one (training and ReID evaluation). The association's old name
for the foreground, "global", is still read, with a deprecation line."""

import json

import pytest
import yaml

from pipeline.calibration import DISTANCE_MODES, load_calibration
from pipeline.config import load_pipeline_config
from tests.conftest import REPOSITORY_ROOT


def test_the_shipped_calibration_names_its_modes_as_the_association_does():
    calibration = load_calibration(REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt")
    assert set(calibration.thresholds) == set(DISTANCE_MODES) == {"visible_parts", "foreground"}
    assert set(calibration.tracklet_thresholds_by_shared) == set(DISTANCE_MODES)


def test_a_calibration_file_of_the_old_names_is_read_under_the_new_ones(tmp_path):
    model = tmp_path / "m.pt"
    shipped = json.loads((REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt.calibration.json").read_text())
    old = {key: ({("global" if k == "foreground" else k): v for k, v in value.items()} if isinstance(value, dict)
                 else value) for key, value in shipped.items()}
    (tmp_path / "m.pt.calibration.json").write_text(json.dumps(old))
    calibration = load_calibration(model)
    assert calibration.thresholds["foreground"] == pytest.approx(shipped["thresholds"]["foreground"])
    assert calibration.tracklet_thresholds_by_shared["foreground"] == shipped["tracklet_thresholds_by_shared"]["foreground"]


def test_the_old_distance_name_in_a_config_is_accepted_with_one_warning(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"association": {"distance": "global"}}))
    assert load_pipeline_config(path).association.distance == "foreground"
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "'global' is now called 'foreground'" in warning[0]
