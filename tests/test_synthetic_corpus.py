"""The ReID training corpus generator (python -m pipeline.synthetic.corpus): layout, determinism, labels, CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pipeline.synthetic.corpus import (
    CorpusConfig,
    generate_corpus,
    image_requests,
    main,
    make_worker_state,
    render_corpus_crop,
    render_crop,
    sample_corpus_identities,
)
from pipeline.synthetic.identities import sample_identities
from pipeline.synthetic.part_labels import confidence_fields, field_shape
from reid.part_labels import group_confidence_fields
from train.datasets import load_dataset

TINY = CorpusConfig(identities=12, images_per_identity=4, cameras=4, seed=5)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("corpus")
    out = {}
    for name, config, workers in (
        ("one_worker", TINY, 1),
        ("two_workers", TINY, 2),
        ("other_seed", CorpusConfig(identities=12, images_per_identity=4, cameras=4, seed=6), 1),
    ):
        out[name] = base / name
        generate_corpus(out[name], config, workers=workers, progress=False)
    return out


def read_annotations(root: Path) -> list[dict]:
    with open(root / "reid_occluded" / "annotations.csv", encoding="ascii") as handle:
        return list(csv.DictReader(handle))


def test_layout_loads_as_synthetic_occluded(corpora):
    root = corpora["one_worker"]
    dataset = load_dataset("synthetic_occluded", root)
    held_out = TINY.resolved_held_out()
    assert held_out == 2
    assert dataset.num_train_identities == TINY.identities - held_out
    assert len(dataset.train) == (TINY.identities - held_out) * TINY.images_per_identity
    assert len(dataset.query) + len(dataset.gallery) == held_out * TINY.images_per_identity
    assert all(sample.label_path.is_file() for sample in dataset.train + dataset.query + dataset.gallery)
    gallery_cameras = defaultdict(set)
    for sample in dataset.gallery:
        gallery_cameras[sample.pid].add(sample.camid)
    for sample in dataset.query:
        assert gallery_cameras[sample.pid] - {sample.camid}, "query without a gallery crop in another camera"
    rows = read_annotations(root)
    assert len(rows) == TINY.identities * TINY.images_per_identity
    for row in rows:
        if row["split"] == "query":
            assert float(row["visibility"]) < 0.7
    assert (root / "corpus.json").is_file() and (root / "contact_sheet.png").is_file()
    assert not (root.parent / (root.name + ".partial")).exists()


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "corpus.json"
    }


def test_output_identical_for_any_worker_count(corpora):
    one, two = all_files(corpora["one_worker"]), all_files(corpora["two_workers"])
    assert one.keys() == two.keys()
    assert all(one[name] == two[name] for name in one)


def test_other_seed_gives_other_images(corpora):
    def images(root):
        return {p.read_bytes() for p in (root / "reid_occluded").rglob("*.jpg")}

    assert not images(corpora["one_worker"]) & images(corpora["other_seed"])


def test_written_labels_are_the_rendered_crops_fields(corpora):
    row = read_annotations(corpora["one_worker"])[0]
    image_number = (int(row["frame"]) - 1) % TINY.images_per_identity
    sample = render_corpus_crop(TINY, int(row["person_id"]), image_number)
    split, name = row["image"].split("/")
    stored = np.load(corpora["one_worker"] / "reid_occluded" / "masks" / "pifpaf_maskrcnn_filtering" / split
                     / (Path(name).stem + ".jpg.confidence_fields.npy"))
    np.testing.assert_array_equal(stored, confidence_fields(sample.keypoints, sample.visible_mask,
                                                            sample.person_height_px))
    image = cv2.imread(str(corpora["one_worker"] / "reid_occluded" / row["image"]))
    assert image.shape == sample.image.shape
    assert float(row["visibility"]) == pytest.approx(sample.visibility, abs=1e-4)


def test_part_labels_follow_visibility():
    config = CorpusConfig(identities=30, images_per_identity=8, cameras=8, seed=11).validated()
    state = make_worker_state(config, Path("."))
    holistic_checked = heavy = heavy_with_missing_part = 0
    for person_id in range(1, config.identities + 1):
        for request in image_requests(person_id, config, person_id in state.held_out):
            sample = render_crop(state, request)
            fields = confidence_fields(sample.keypoints, sample.visible_mask, sample.person_height_px)
            part_peaks = group_confidence_fields(torch.from_numpy(fields), 8).amax(dim=(-1, -2)).numpy()
            if sample.visibility >= 0.999:
                holistic_checked += 1
                assert part_peaks.min() >= 0.5, (sample.person_id, request.image_number, part_peaks)
            if sample.visibility < 0.4:
                heavy += 1
                heavy_with_missing_part += int(part_peaks.min() < 0.5)
            # Zero wherever no pixel of the person is visible (occluders, other people, background).
            height, width = sample.visible_mask.shape
            field_height, field_width = field_shape(height, width)
            coverage = cv2.resize(sample.visible_mask.astype(np.float32), (field_width, field_height),
                                  interpolation=cv2.INTER_AREA)
            assert np.all(fields[:, coverage == 0] == 0)
            assert 0.0 < sample.visibility <= 1.0
    assert holistic_checked >= 30
    assert heavy >= 5 and heavy_with_missing_part >= 0.75 * heavy


def test_occluders_and_cameras_are_varied():
    config = CorpusConfig(identities=20, images_per_identity=8, cameras=8, seed=2).validated()
    state = make_worker_state(config, Path("."))
    samples = [render_crop(state, request) for pid in range(1, 21) for request in image_requests(pid, config, False)]
    kinds = {sample.occluder for sample in samples}
    assert {"none", "other_person", "pillar", "signboard"} <= kinds
    assert len(kinds & {"parked_car", "counter", "bench", "planter"}) >= 2
    occluded = np.mean([s.occluder != "none" for s in samples])
    assert 0.4 <= occluded <= 0.7
    assert any(s.truncated for s in samples)
    assert len({s.camera_id for s in samples}) == 8
    heights = [s.person_height_px for s in samples]
    assert min(heights) < 60 and max(heights) > 130


def _people_behind_one_occluder(config: CorpusConfig) -> int:
    """The most people seen behind one occluder kind over one scene column of one camera."""
    state = make_worker_state(config.validated(), Path("."))
    people = defaultdict(set)
    for pid in range(1, config.identities + 1):
        for request in image_requests(pid, config, False):
            sample = render_crop(state, request)
            if sample.occluder not in ("none", "other_person"):
                people[(sample.camera_id, sample.occluder, sample.box[0])].add(pid)
    return max((len(group) for group in people.values()), default=0)


def test_fixtures_put_many_people_behind_one_camera_occluder():
    without = CorpusConfig(identities=24, images_per_identity=8, cameras=2, seed=3)
    with_fixture = CorpusConfig(identities=24, images_per_identity=8, cameras=2, seed=3, fixtures_per_camera=1)
    assert _people_behind_one_occluder(without) <= 2
    # 24 people x 8 crops x 55 % occluded x 60 % behind a fixture / 2 cameras: about 29 crops each.
    assert _people_behind_one_occluder(with_fixture) >= 10


def test_corpus_identities_differ_from_a_worlds():
    for seed in (0, 5):
        corpus = sample_corpus_identities(50, seed)
        world = sample_identities(50, seed)
        world_looks = {repr(identity.appearance) for identity in world}
        assert not any(repr(identity.appearance) in world_looks for identity in corpus)
    lookalikes = [i for i in sample_corpus_identities(200, 3) if i.shares_upper_with or i.shares_lower_with]
    assert 0.25 * 200 <= len(lookalikes) <= 0.55 * 200


@pytest.mark.parametrize(
    "arguments",
    [
        ["--identities", "0"],
        ["--cameras", "9"],
        ["--cameras", "1"],
        ["--images-per-identity", "1"],
        ["--workers", "0"],
        ["--held-out-identities", "12"],
        ["--fixtures-per-camera", "9"],
        ["--fixtures-per-camera", "-1"],
        ["--identities", "many"],
        ["--no-such-option"],
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(arguments, tmp_path, capsys):
    try:
        code = main(["--out", str(tmp_path / "out"), "--identities", "12", *arguments])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "\n" not in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_cli_refuses_an_existing_file_and_a_foreign_directory(tmp_path, capsys):
    existing = tmp_path / "file.txt"
    existing.write_text("x")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    for out in (existing, foreign):
        assert main(["--out", str(out), "--identities", "4", "--images-per-identity", "3", "--quiet"]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error:") and "\n" not in error
    assert (foreign / "keep.txt").read_text() == "x"


def test_cli_runs_as_a_module(tmp_path):
    out = tmp_path / "corpus"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.synthetic.corpus", "--out", str(out), "--identities", "5",
         "--images-per-identity", "3", "--cameras", "2", "--seed", "1", "--quiet", "--workers", "1",
         "--contact-sheet", str(tmp_path / "sheet.png")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "15 crops" in result.stdout and "crops/s" in result.stdout
    assert (tmp_path / "sheet.png").is_file() and (out / "corpus.json").is_file()
    bad = subprocess.run([sys.executable, "-m", "pipeline.synthetic.corpus", "--out", str(out), "--cameras", "9"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
