import json
import subprocess
import sys

import pytest
import torch
import yaml

from reid.checkpoint import load_model, read_checkpoint
from reid.config import config_from_dict, config_to_dict
from train.datasets import load_dataset
from train.trainer import Trainer
from tests.conftest import REPOSITORY_ROOT
from tests.reid_dataset_factory import write_duke_layout

TINY = {
    "model": {"backbone": "resnet18", "pretrained": False, "num_parts": 5, "embedding_dim": 32, "ema_groups": 8},
    "input": {"height": 64, "width": 32},
    "loss": {"preset": "holistic"},
    "train": {
        "dataset": "dukemtmc",
        "epochs": 2,
        "warmup_epochs": 1,
        "milestones": [5],
        "identities_per_batch": 4,
        "images_per_identity": 2,
        "num_workers": 0,
        "checkpoint_every": 1,
        "evaluation_batch_size": 16,
    },
}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_duke_layout(root / "DukeMTMC-reID", range(8), range(8, 12), images_per_identity=4, cameras=2)
    return root


def _trainer(root, output):
    config = config_from_dict(TINY)
    return Trainer(config, load_dataset("dukemtmc", root), output, device="cpu", progress=False)


def test_resume_after_epoch_one_gives_the_same_epoch_two_weights(tiny_root, tmp_path):
    uninterrupted = _trainer(tiny_root, tmp_path / "a")
    uninterrupted.fit(2, evaluate_at_end=False)

    first = _trainer(tiny_root, tmp_path / "b")
    first.fit(1, evaluate_at_end=False)
    assert read_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 1
    resumed = _trainer(tiny_root, tmp_path / "b")
    assert resumed.resume() == 1
    resumed.fit(2, evaluate_at_end=False)

    expected = uninterrupted.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=1e-6, msg=name)
    assert resumed.optimizer.param_groups[0]["lr"] == pytest.approx(uninterrupted.optimizer.param_groups[0]["lr"])
    assert (tmp_path / "b" / "epoch_1.pt").is_file()
    assert not (tmp_path / "b" / "epoch_2.pt").exists()  # the last epoch is last.pt, not a second copy
    log = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,step,") and "learning_rate" in log[0] and "part_attention" in log[0]
    assert {line.split(",")[0] for line in log[1:]} == {"1", "2"}


def test_train_and_evaluate_commands(tiny_root, tmp_path):
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(TINY))
    output = tmp_path / "run"
    completed = subprocess.run(
        [sys.executable, "-m", "train", "--config", str(config_path), "--data-root", str(tiny_root),
         "--output", str(output), "--epochs", "1"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    assert "train    |     8 |      32" in completed.stdout  # split sizes printed at start
    assert "visible parts" in completed.stdout and "Rank-1" in completed.stdout
    results = json.loads((output / "evaluation.json").read_text())
    assert set(results["visible_parts"]) == {"rank1", "rank5", "rank10", "rank20", "mAP"}
    model = load_model(output / "last.pt")
    assert model.num_classes == 8 and config_to_dict(model.config)["train"]["epochs"] == 1

    json_path = tmp_path / "eval.json"
    completed = subprocess.run(
        [sys.executable, "-m", "train.evaluate", "--checkpoint", str(output / "last.pt"), "--dataset", "dukemtmc",
         "--data-root", str(tiny_root), "--json", str(json_path), "--workers", "0"],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    evaluated = json.loads(json_path.read_text())
    for key in ("visible_parts", "global"):
        assert set(evaluated[key]) == {"rank1", "rank5", "rank10", "rank20", "mAP"}
        assert all(0.0 <= value <= 1.0 for value in evaluated[key].values())
    # the same model on the same data gives the same numbers as the end-of-training evaluation
    assert evaluated["visible_parts"] == pytest.approx(results["visible_parts"])


def test_wrong_data_root_is_one_line_and_exit_code_2(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "train", "--config", str(REPOSITORY_ROOT / "configs/model/small_synthetic.yaml"),
         "--data-root", str(tmp_path / "nowhere")],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0 and str(tmp_path / "nowhere") in completed.stderr


def test_moving_average_of_weights_is_kept_evaluated_and_resumed(tiny_root, tmp_path):
    values = json.loads(json.dumps(TINY))
    values["train"].update(weights_moving_average=True, weights_moving_average_decay=0.5)
    config = config_from_dict(values)
    trainer = Trainer(config, load_dataset("dukemtmc", tiny_root), tmp_path / "ema", device="cpu", progress=False)
    initial = {name: value.clone() for name, value in trainer.model.state_dict().items()}
    trainer.fit(1, evaluate_at_end=False)
    averaged = trainer.evaluation_model()
    assert averaged is not trainer.model
    name = "refinement.reduce.0.weight"
    live, average, start = trainer.model.state_dict()[name], averaged.state_dict()[name], initial[name]
    assert not torch.equal(average, live) and not torch.equal(average, start)
    resumed = Trainer(config, load_dataset("dukemtmc", tiny_root), tmp_path / "ema", device="cpu", progress=False)
    resumed.resume()
    torch.testing.assert_close(resumed.evaluation_model().state_dict()[name], average)


def test_fine_tuning_run_starts_from_the_given_weights_and_resumes_without_them(tiny_root, tmp_path):
    other_seed = config_from_dict({**TINY, "train": {**TINY["train"], "seed": 5}})
    Trainer(other_seed, load_dataset("dukemtmc", tiny_root), tmp_path / "first", device="cpu", progress=False).fit(
        1, evaluate_at_end=False
    )
    start = tmp_path / "first" / "last.pt"
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    common = [sys.executable, "-m", "train", "--data-root", str(tiny_root), "--dataset", "dukemtmc",
              "--output", str(tmp_path / "tuned"), "--no-evaluate"]
    new_run = common + ["--config", str(tmp_path / "tiny.yaml"), "--epochs", "1"]
    tuned = subprocess.run(new_run + ["--initial-weights", str(start)], capture_output=True, text=True, cwd=REPOSITORY_ROOT)
    assert tuned.returncode == 0, tuned.stderr
    assert "initial weights: " in tuned.stdout and str(start) in tuned.stdout
    # seed 0 would initialise the network elsewhere (the start was trained from seed 5): one epoch
    # of fine-tuning stays far closer to its start than that initialisation is
    started = read_checkpoint(start)["model"]
    fine_tuned = read_checkpoint(tmp_path / "tuned" / "last.pt")["model"]
    fresh = _trainer(tiny_root, tmp_path / "fresh").model.state_dict()
    kernels = [key for key in started if key.startswith("backbone") and started[key].ndim == 4]
    for key in kernels[:3]:
        assert (fine_tuned[key] - started[key]).norm() < 0.2 * (fresh[key] - started[key]).norm()

    both = subprocess.run(new_run + ["--initial-weights", str(start), "--resume"], capture_output=True, text=True,
                          cwd=REPOSITORY_ROOT)
    assert both.returncode == 2 and len(both.stderr.strip().splitlines()) == 1
    resumed = subprocess.run(common + ["--epochs", "2", "--resume"], capture_output=True, text=True, cwd=REPOSITORY_ROOT)
    assert resumed.returncode == 0, resumed.stderr
    assert "initial weights" not in resumed.stdout and "resuming after epoch 1" in resumed.stdout


def test_training_on_the_cpu_flushes_subnormal_floats(tiny_root, tmp_path):
    """Subnormal floats (dead channels' BatchNorm variances, Adam moments) made a CPU fine-tune's
    second epoch 10x slower; a CPU trainer flushes them to zero."""
    torch.set_flush_denormal(False)  # an earlier trainer in this process may have turned it on
    try:
        subnormal = torch.tensor([1e-40], dtype=torch.float32)
        assert (subnormal * 1.0).item() != 0.0
        _trainer(tiny_root, tmp_path / "cpu")
        assert (subnormal * 1.0).item() == 0.0
    finally:
        torch.set_flush_denormal(False)
