import numpy as np
import pytest
import torch

from reid.errors import UserError
from reid.part_groups import mirrored_part_order
from train.augmentation import AugmentationSettings, augment_for_training
from train.datasets import load_dataset
from train.image_datasets import TrainingImages
from train.part_label_files import read_part_maps
from train.sampler import IdentityBatchSampler
from tests.reid_dataset_factory import confidence_field, person_image, write_duke_layout

import cv2


@pytest.mark.parametrize(
    "name, directory, suffix",
    [("dukemtmc", "DukeMTMC-reID", ".npy"), ("occluded_duke", "Occluded_Duke", ".jpg.confidence_fields.npy"),
     ("market1501", "Market-1501-v15.09.15", ".npy"), ("synthetic_occluded", "reid_occluded", ".jpg.confidence_fields.npy")],
)
def test_duke_style_layouts(tmp_path, name, directory, suffix):
    write_duke_layout(tmp_path / directory, range(10, 16), range(20, 23), label_suffix=suffix)
    dataset = load_dataset(name, tmp_path)
    assert dataset.num_train_identities == 6
    assert sorted({s.pid for s in dataset.train}) == list(range(6))  # relabelled
    assert {s.pid for s in dataset.query} == {20, 21, 22}  # original ids kept for testing
    assert {s.camid for s in dataset.query} == {0}
    assert all(s.label_path.is_file() for s in dataset.train + dataset.query + dataset.gallery)
    sample = dataset.train[0]
    assert sample.label_path == (
        tmp_path / directory / "masks" / "pifpaf_maskrcnn_filtering" / "bounding_box_train" / (sample.image_path.stem + suffix)
    )
    assert "train" in dataset.summary() and "gallery" in dataset.summary()


def test_p_duke_and_occluded_reid_layouts(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "P-DukeMTMC-reID"
    for split, kind, pids in [("train", "whole_body_images", [5, 6]), ("train", "occluded_body_images", [5, 6]),
                              ("test", "occluded_body_images", [9]), ("test", "whole_body_images", [9])]:
        for pid in pids:
            (root / split / kind / f"{pid:04d}").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / split / kind / f"{pid:04d}" / f"{pid:04d}_c1_f0000001.jpg"), person_image(pid, rng))
    dataset = load_dataset("p_duke", tmp_path)
    assert len(dataset.train) == 4 and dataset.num_train_identities == 2
    assert [s.camid for s in dataset.query] == [0] and [s.camid for s in dataset.gallery] == [1]
    assert dataset.query[0].label_path == root / "masks" / "pifpaf_maskrcnn_filtering" / "test" / "occluded_body_images" / "0009_c1_f0000001.npy"

    occluded = tmp_path / "Occluded_REID"
    for kind in ("occluded_body_images", "whole_body_images"):
        (occluded / kind / "001").mkdir(parents=True)
        cv2.imwrite(str(occluded / kind / "001" / "001_01.tif"), person_image(1, rng))
    dataset = load_dataset("occluded_reid", tmp_path)
    assert dataset.train == [] and len(dataset.query) == 1 and dataset.gallery[0].camid == 1


def test_wrong_root_or_missing_split_names_the_expected_path(tmp_path):
    with pytest.raises(UserError, match=str(tmp_path / "DukeMTMC-reID")):
        load_dataset("dukemtmc", tmp_path)
    write_duke_layout(tmp_path / "DukeMTMC-reID", range(3), range(3, 5))
    import shutil

    shutil.rmtree(tmp_path / "DukeMTMC-reID" / "query")
    with pytest.raises(UserError, match=str(tmp_path / "DukeMTMC-reID" / "query")):
        load_dataset("dukemtmc", tmp_path)
    with pytest.raises(UserError, match="unknown dataset"):
        load_dataset("cuhk03", tmp_path)


def test_missing_labels_name_the_command_that_makes_them(tmp_path):
    write_duke_layout(tmp_path / "DukeMTMC-reID", range(3), range(3, 5), with_labels=False)
    dataset = load_dataset("dukemtmc", tmp_path)
    with pytest.raises(UserError, match="python -m train.part_labels --dataset dukemtmc"):
        read_part_maps(dataset.train[0].label_path, 5, "dukemtmc")


def test_label_fields_group_into_parts():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "x.npy"
        np.save(path, confidence_field())
        maps = read_part_maps(path, 8)
    assert maps.shape == (8, 16, 8)
    assert maps[0, :3].max() == pytest.approx(0.9)  # head at the top
    assert maps[6].argmax() // 8 >= 13 and maps[6].max() == pytest.approx(0.9)  # left feet at the bottom


def _settings(**overrides):
    values = dict(height=64, width=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), padding=10, random_erasing=0.0)
    values.update(overrides)
    return AugmentationSettings(**values)


def test_part_maps_travel_with_the_image_through_pad_and_crop():
    rgb = np.zeros((64, 32, 3), dtype=np.uint8)
    rgb[20:30, 10:20] = 255
    part_maps = np.zeros((1, 64, 32), dtype=np.float32)
    part_maps[0, 20:30, 10:20] = 1.0
    for seed in range(5):
        image, maps = augment_for_training(rgb, part_maps, _settings(), np.random.default_rng(seed))
        bright = image[0].numpy() > 0.5
        assert bright.any()
        assert np.array_equal(bright, maps[0] > 0.5)


def test_random_erasing_makes_background_in_the_labels():
    rgb = np.full((64, 32, 3), 200, dtype=np.uint8)
    part_maps = np.ones((2, 64, 32), dtype=np.float32)
    erased_somewhere = False
    for seed in range(20):
        image, maps = augment_for_training(rgb, part_maps, _settings(padding=0, random_erasing=1.0), np.random.default_rng(seed))
        erased = maps[0] == 0
        if erased.any():
            erased_somewhere = True
            assert (maps[1][erased] == 0).all()
            # erased pixels carry noise, not the original constant
            assert not np.allclose(image[0].numpy()[erased], 200 / 255)
            assert np.allclose(image[0].numpy()[~erased], 200 / 255)
    assert erased_somewhere


def test_mirrored_part_order_swaps_the_sides_and_keeps_the_rest():
    # K=8: head, left arm, right arm, torso, left leg, right leg, left feet, right feet
    assert mirrored_part_order(8) == (0, 2, 1, 3, 5, 4, 7, 6)
    assert mirrored_part_order(5) == (0, 1, 2, 3, 4)  # no part of K=5 has a side


def test_a_flip_mirrors_the_image_and_gives_the_left_arm_map_to_the_right_arm():
    # A bright "left arm" on the image's left; mirrored, it lies on the image's right and, as the
    # person's own side is mirrored too, it is now labelled right arm (channel 2).
    rgb = np.zeros((64, 32, 3), dtype=np.uint8)
    rgb[20:40, 2:8] = 255
    part_maps = np.zeros((8, 64, 32), dtype=np.float32)
    part_maps[1, 20:40, 2:8] = 1.0
    settings = _settings(padding=0, horizontal_flip=True, mirrored_part_order=mirrored_part_order(8))
    flipped_seen = unflipped_seen = False
    for seed in range(12):
        image, maps = augment_for_training(rgb, part_maps, settings, np.random.default_rng(seed))
        bright = image[0].numpy() > 0.5
        if bright[:, 24:30].any():
            flipped_seen = True
            assert np.array_equal(bright, maps[2] > 0.5) and not maps[1].any()
        else:
            unflipped_seen = True
            assert np.array_equal(bright, maps[1] > 0.5) and not maps[2].any()
    assert flipped_seen and unflipped_seen


def test_identity_sampler_batches_p_identities_by_k_images():
    pids = [pid for pid in range(10) for _ in range(5)]
    sampler = IdentityBatchSampler(pids, identities_per_batch=4, images_per_identity=2, seed=3)
    batches = list(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        assert len(batch) == 8
        identities = [pids[index] for index, _ in batch]
        assert len(set(identities)) == 4 and all(identities.count(pid) == 2 for pid in set(identities))
    assert list(IdentityBatchSampler(pids, 4, 2, seed=3)) == batches  # reproducible
    sampler.set_epoch(1)
    assert list(sampler) != batches  # a new order each epoch


def test_training_images_give_pixel_labels_at_feature_map_size(tmp_path):
    write_duke_layout(tmp_path / "DukeMTMC-reID", range(4), range(4, 6))
    dataset = load_dataset("dukemtmc", tmp_path)
    images = TrainingImages(dataset.train, _settings(padding=0), num_parts=5, label_size=(4, 2), dataset_name="dukemtmc")
    item = images[(0, 123)]
    assert item["image"].shape == (3, 64, 32)
    assert item["pixel_labels"].shape == (4, 2) and item["pixel_labels"].dtype == torch.int64
    assert item["pixel_labels"].max() <= 5
