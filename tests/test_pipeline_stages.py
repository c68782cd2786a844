import cv2
import numpy as np
import pytest

from reid.errors import UserError
from pipeline.config import CropRule, DetectorConfig
from pipeline.detection import PublicDetections, build_detector
from pipeline.extraction import crop_is_usable, cut_crop
from pipeline.sources import SynchronizedReader, VideoFileSource, open_sources


def write_video(path, frames, fps, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for index in range(frames):
        image = np.full((size[1], size[0], 3), (index * 7) % 255, dtype=np.uint8)
        writer.write(image)
    writer.release()
    return path


def test_cameras_with_different_frame_rates_stay_aligned(tmp_path):
    fast = write_video(tmp_path / "fast.mp4", 20, fps=10)
    slow = write_video(tmp_path / "slow.mp4", 10, fps=5)
    reader = SynchronizedReader([VideoFileSource("fast", fast), VideoFileSource("slow", slow)])
    packets = list(reader)
    reader.close()
    assert len(packets) == 20  # one step per frame of the faster camera
    for packet in packets:
        times = [frame.timestamp_s for frame in packet.frames]
        assert max(times) - min(times) < 0.05  # frames of one step share their time
    slow_steps = [p.step for p in packets if any(f.camera == "slow" for f in p.frames)]
    assert slow_steps == list(range(0, 20, 2))
    assert [f.frame_index for p in packets for f in p.frames if f.camera == "fast"] == list(range(1, 21))


def test_unreadable_video_names_the_file_and_others_can_continue(tmp_path, capsys):
    good = write_video(tmp_path / "good.mp4", 5, fps=5)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 1000)
    with pytest.raises(UserError, match="corrupt.mp4"):
        open_sources([("a", str(good)), ("b", str(corrupt))])
    with pytest.raises(UserError, match="missing.mp4"):
        open_sources([("a", str(tmp_path / "missing.mp4"))])
    sources = open_sources([("a", str(good)), ("b", str(corrupt))], continue_on_error=True)
    assert [source.camera for source in sources] == ["a"]
    assert "corrupt.mp4" in capsys.readouterr().err


def test_public_detections_are_read_as_xyxy(tmp_path):
    (tmp_path / "cam1.txt").write_text("1,-1,10,20,30,40,0.9,-1,-1,-1\n1,-1,0,0,5,5,0.2,-1,-1,-1\n3,-1,1,2,3,4,0.5,-1,-1,-1\n")
    detections = PublicDetections(tmp_path, ["cam1"], min_score=0.3)
    from pipeline.records import Frame

    frames = [Frame("cam1", index, 0.0, np.zeros((4, 4, 3), np.uint8)) for index in (1, 2, 3)]
    first, second, third = detections.detect(frames)
    np.testing.assert_allclose(first.boxes, [[10, 20, 40, 60]])
    assert len(second) == 0 and third.scores.tolist() == [0.5]
    with pytest.raises(UserError, match="cam2.txt"):
        PublicDetections(tmp_path, ["cam2"])


def test_crop_rule_skips_tiny_and_truncated_crops():
    rule = CropRule(min_height=20, min_width=8, max_truncation=0.3)
    assert crop_is_usable(np.array([10, 10, 30, 60]), 100, 100, rule)
    assert not crop_is_usable(np.array([10, 10, 15, 60]), 100, 100, rule)  # too narrow
    assert not crop_is_usable(np.array([-15, 10, 15, 60]), 100, 100, rule)  # half outside
    crop = cut_crop(np.zeros((50, 40, 3), np.uint8), np.array([-5.0, 45.2, 10.0, 80.0]))
    assert crop.shape == (5, 10, 3)


def test_yolo_weights_missing_offline_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    with pytest.raises(UserError) as caught:
        build_detector(DetectorConfig(weights="yolo11n.pt"), ["cam1"])
    assert str(tmp_path / "yolo11n.pt") in str(caught.value) and "\n" not in str(caught.value)


def test_yolo_from_yaml_detects_on_a_batch_of_cameras():
    from pipeline.records import Frame

    detector = build_detector(DetectorConfig(weights="yolo11n.yaml", image_size=160, confidence=0.0), ["a", "b"])
    frames = [Frame(camera, 1, 0.0, np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)) for camera in "ab"]
    detections = detector.detect(frames)
    assert [d.camera for d in detections] == ["a", "b"]
    for d in detections:
        assert d.boxes.shape[1] == 4 and d.boxes.dtype == np.float32 and len(d.scores) == len(d.boxes)


def test_a_misspelt_tracker_parameter_is_one_user_error():
    import pytest

    from pipeline.config import TrackerConfig
    from pipeline.tracking import CameraTracker
    from reid.errors import UserError

    with pytest.raises(UserError, match="tracker.parameters for bytetrack: .*det_thresh"):
        CameraTracker("cam1", TrackerConfig(name="bytetrack", parameters={"det_thresh": 0.4}), 10.0)


def test_botsort_takes_read_only_embeddings_as_ray_hands_them_over():
    """Arrays that come through Ray's object store are read-only: the tracker copies them, with no
    warning, and tracks exactly as with writable ones."""
    import warnings

    from pipeline.config import TrackerConfig
    from pipeline.records import Detections
    from pipeline.tracking import CameraTracker

    generator = np.random.default_rng(5)
    embeddings = generator.normal(size=(2, 16)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    image = np.zeros((360, 640, 3), np.uint8)
    config = TrackerConfig(name="botsort", parameters={"track_high_thresh": 0.4, "new_track_thresh": 0.45})
    results = []
    for writable in (True, False):
        tracker = CameraTracker("cam1", config, 10.0)
        tracked = []
        for frame in range(6):
            boxes = np.array([[100 + 3 * frame, 50, 140 + 3 * frame, 150], [400, 60, 440, 170]], np.float32)
            features = embeddings.copy()
            features.setflags(write=writable)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                output = tracker.update(Detections("cam1", frame, boxes, np.array([0.9, 0.8], np.float32)),
                                        image, frame / 10.0, features)
            tracked.append((output.track_ids.tolist(), np.round(output.boxes, 3).tolist()))
        results.append(tracked)
    assert results[0] == results[1]
    assert len(set(results[0][-1][0])) == 2  # both people tracked by the last frame


@pytest.mark.parametrize("name, switch, off", [("botsort", "use_cmc", False), ("boosttrack", "use_cmc", False),
                                               ("occluboost", "use_cmc", False),
                                               ("deepocsort", "cmc_off", True)])
def test_camera_motion_compensation_is_off_unless_the_config_asks_for_it(name, switch, off):
    """Surveillance cameras stand still: each tracker's own switch is set off by default (BoxMOT then builds no
    compensation model), and a config's value wins."""
    from pipeline.config import TrackerConfig
    from pipeline.tracking import CameraTracker

    assert CameraTracker("cam1", TrackerConfig(name=name), 10.0).tracker.cmc is None
    asked = CameraTracker("cam1", TrackerConfig(name=name, parameters={switch: not off}), 10.0)
    assert asked.tracker.cmc is not None
