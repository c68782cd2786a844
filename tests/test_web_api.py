"""The web app's JSON API on a real recorded run (``web_run``): identities, their tracks and frames,
search by image, and every way a request can be wrong. The store is read back with plain SQL to
check what the API answers."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import REPOSITORY_ROOT

fastapi = pytest.importorskip("fastapi", reason="the web app needs fastapi (pip install -e .)")
from fastapi.testclient import TestClient  # noqa: E402

SHIPPED_MODEL = REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"
MIN_SEARCH_TOP1 = 0.80  # issue 15's floor; measured on this run: 40/41 = 0.976 (the demo run: 0.898)


@pytest.fixture(scope="module")
def extractor():
    from pipeline.web.__main__ import load_search_extractor

    return load_search_extractor(str(SHIPPED_MODEL))


@pytest.fixture(scope="module")
def client(web_run, extractor):
    from pipeline.web.app import WebSettings, create_app

    with TestClient(create_app(WebSettings(web_run, extractor=extractor))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def database(web_run):
    connection = sqlite3.connect(web_run / "tracks.sqlite")
    yield connection
    connection.close()


def _png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


# --- what the run stored for the app ------------------------------------------------------------


def test_the_store_records_sources_model_and_a_thumbnail_per_track(database):
    metadata = dict(database.execute("SELECT key, value FROM metadata"))
    assert metadata["schema_version"] == "3"
    assert metadata["reid_model"] == str(SHIPPED_MODEL.resolve())
    sources = dict(database.execute("SELECT camera, source FROM cameras"))
    assert sorted(sources) == ["cam1", "cam2", "cam3"]
    assert all(source.endswith(f"videos/{camera}.mp4") for camera, source in sources.items())
    tracks = set(database.execute("SELECT camera, track_id FROM tracks"))
    thumbnails = {(camera, track): (frame, jpeg) for camera, track, frame, jpeg in
                  database.execute("SELECT camera, track_id, frame, jpeg FROM thumbnails")}
    assert set(thumbnails) == tracks
    for (camera, track), (frame, jpeg) in list(thumbnails.items())[:10]:
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape[0] >= 8
        # The thumbnail is the crop of one of the track's own detected boxes.
        assert database.execute("SELECT COUNT(*) FROM boxes WHERE camera = ? AND track_id = ? AND frame = ? "
                                "AND interpolated = 0", (camera, track, frame)).fetchone()[0] == 1


# --- identities ---------------------------------------------------------------------------------


def test_identity_pages_cover_every_identity_once(client, database):
    expected = {row[0] for row in database.execute("SELECT DISTINCT global_id FROM tracks WHERE global_id IS NOT NULL")}
    assert len(expected) >= 5
    seen, page = [], 1
    while True:
        answer = client.get("/api/identities", params={"page": page, "per_page": 4}).json()
        assert answer["total"] == len(expected)
        if not answer["items"]:
            break
        assert len(answer["items"]) <= 4
        seen.extend(item["global_id"] for item in answer["items"])
        page += 1
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    assert seen == sorted(seen)  # default order: global id


@pytest.mark.parametrize("sort", ["first_time_s", "-first_time_s", "-num_tracks", "num_cameras", "-last_time_s"])
def test_identities_sort(client, database, sort):
    items = client.get("/api/identities", params={"per_page": 500, "sort": sort}).json()["items"]
    key = sort.lstrip("-")
    values = [len(item["cameras"]) if key == "num_cameras" else item[key] for item in items]
    assert values == sorted(values, reverse=sort.startswith("-"))
    first = items[0]
    tracks = database.execute("SELECT camera, MIN(first_time_s), MAX(last_time_s), COUNT(*) FROM tracks "
                              "WHERE global_id = ? GROUP BY camera", (first["global_id"],)).fetchall()
    assert first["cameras"] == sorted(camera for camera, *_ in tracks)
    assert first["num_tracks"] == sum(count for *_, count in tracks)
    assert first["first_time_s"] == pytest.approx(min(row[1] for row in tracks))
    assert first["last_time_s"] == pytest.approx(max(row[2] for row in tracks))


def test_an_identity_lists_its_tracks_with_frames_that_show_its_boxes(client, database, web_run):
    busiest = database.execute("SELECT global_id FROM tracks WHERE global_id IS NOT NULL GROUP BY global_id "
                               "ORDER BY COUNT(DISTINCT camera) DESC, COUNT(*) DESC LIMIT 1").fetchone()[0]
    answer = client.get(f"/api/identities/{busiest}").json()
    expected = set(database.execute("SELECT camera, track_id FROM tracks WHERE global_id = ?", (busiest,)))
    assert {(track["camera"], track["track_id"]) for track in answer["tracks"]} == expected
    track = answer["tracks"][0]
    assert 1 <= len(track["frames"]) <= 3
    frame = track["frames"][0]
    assert track["first_frame"] <= frame["frame"] <= track["last_frame"]
    jpeg = client.get(frame["url"], params={"highlight": busiest})
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    drawn = cv2.imdecode(np.frombuffer(jpeg.content, np.uint8), cv2.IMREAD_COLOR)
    capture = cv2.VideoCapture(str(web_run.parent / "world" / "videos" / f"{track['camera']}.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame["frame"] - 1)
    ok, raw = capture.read()
    assert ok and drawn.shape == raw.shape
    boxes = client.get(f"/api/frames/{track['camera']}/{frame['frame']}/boxes").json()
    mine = [item for item in boxes["boxes"] if item["track_id"] == track["track_id"]]
    assert len(mine) == 1 and mine[0]["global_id"] == busiest
    x1, y1, x2, y2 = (int(round(value)) for value in mine[0]["box"])
    # The box is drawn: the pixels on its outline differ from the raw frame's.
    outline = np.abs(drawn[max(y1, 0), max(x1, 0):x2].astype(int) - raw[max(y1, 0), max(x1, 0):x2].astype(int))
    assert outline.mean() > 20
    plain = client.get(frame["url"], params={"annotated": "false"})
    plain_image = cv2.imdecode(np.frombuffer(plain.content, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(plain_image.astype(int) - raw.astype(int)).mean() < 3  # the frame as recorded (JPEG noise only)
    thumbnail = client.get(track["thumbnail_url"])
    assert thumbnail.status_code == 200 and cv2.imdecode(np.frombuffer(thumbnail.content, np.uint8), 1) is not None


# --- search -------------------------------------------------------------------------------------


def _track_crop(database, web_run, camera: str, track_id: int) -> np.ndarray:
    """A crop cut from the middle detected box of the track, straight from the recorded video."""
    rows = database.execute("SELECT frame, x1, y1, x2, y2 FROM boxes WHERE camera = ? AND track_id = ? "
                            "AND interpolated = 0 ORDER BY frame", (camera, track_id)).fetchall()
    frame, x1, y1, x2, y2 = rows[len(rows) // 2]
    capture = cv2.VideoCapture(str(web_run.parent / "world" / "videos" / f"{camera}.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
    ok, image = capture.read()
    assert ok
    height, width = image.shape[:2]
    return image[max(int(y1), 0):min(int(np.ceil(y2)), height), max(int(x1), 0):min(int(np.ceil(x2)), width)]


def test_a_crop_of_a_track_finds_its_identity_first(client, database, web_run):
    tracks = database.execute("SELECT camera, track_id, global_id FROM tracks WHERE global_id IS NOT NULL "
                              "ORDER BY camera, track_id").fetchall()
    assert len(tracks) >= 20
    hits = 0
    for camera, track_id, global_id in tracks:
        answer = client.post("/api/search", files={"image": ("crop.png", _png(_track_crop(database, web_run, camera, track_id)),
                                                             "image/png")}).json()
        results = answer["results"]
        distances = [result["distance"] for result in results]
        assert distances == sorted(distances)
        assert len({result["global_id"] for result in results}) == len(results)  # one row per identity
        hits += bool(results) and results[0]["global_id"] == global_id
    top1 = hits / len(tracks)
    print(f"search top-1: {hits}/{len(tracks)} = {top1:.3f}")
    assert top1 >= MIN_SEARCH_TOP1


def test_search_results_name_the_parts_both_views_show(client, database, web_run):
    camera, track_id = database.execute("SELECT camera, track_id FROM tracks LIMIT 1").fetchone()
    crop = _track_crop(database, web_run, camera, track_id)
    lower_half_hidden = crop.copy()
    lower_half_hidden[crop.shape[0] // 2:] = 0
    answer = client.post("/api/search", files={"image": ("crop.png", _png(lower_half_hidden), "image/png")},
                         data={"top_k": "3"}).json()
    assert 1 <= len(answer["results"]) <= 3
    parts = client.get("/api/run").json()["parts"]
    visible = answer["query"]["visible_parts"]
    assert set(visible) <= set(parts) and "foreground" in visible
    for result in answer["results"]:
        stored = dict(database.execute("SELECT part, count FROM tracklet_features WHERE camera = ? AND track_id = ?",
                                       (result["camera"], result["track_id"])))
        both = [name for index, name in enumerate(parts) if name in visible and stored.get(index, 0) > 0]
        assert result["compared_parts"] == both


def test_search_by_clicking_a_box(client, database):
    camera, track_id, global_id = database.execute(
        "SELECT camera, track_id, global_id FROM tracks WHERE global_id IS NOT NULL "
        "ORDER BY last_frame - first_frame DESC LIMIT 1").fetchone()
    frame = database.execute("SELECT frame FROM boxes WHERE camera = ? AND track_id = ? AND interpolated = 0 "
                             "ORDER BY frame LIMIT 1 OFFSET 5", (camera, track_id)).fetchone()[0]
    answer = client.post("/api/search/box", json={"camera": camera, "frame": frame, "track_id": track_id})
    assert answer.status_code == 200 and answer.json()["results"]
    missing = client.post("/api/search/box", json={"camera": camera, "frame": frame, "track_id": 99_999})
    assert missing.status_code == 404 and "99999" in missing.json()["detail"]


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize("path, status, words", [
    ("/api/identities/987654", 404, "no identity 987654"),
    ("/api/identities/abc", 422, "global_id"),
    ("/api/identities?per_page=100000", 422, "per_page"),
    ("/api/identities?sort=password", 400, "unknown sort"),
    ("/api/frames/cam1/0.jpg", 404, "start at 1"),
    ("/api/frames/cam1/999999.jpg", 404, "no frame 999999"),
    ("/api/frames/nocam/1.jpg", 404, "unknown camera"),
    ("/api/frames/..%2F..%2Fetc%2Fpasswd/1.jpg", 404, ""),
    ("/api/thumbnails/..%2Ftracks.sqlite/1.jpg", 404, ""),
    ("/..%2F..%2Fetc%2Fpasswd", 404, ""),
    ("/static/../../tracks.sqlite", 404, ""),
    ("/live/cameras/cam1.mjpg", 404, "finished run"),
])
def test_bad_requests_get_a_clear_4xx(client, path, status, words):
    response = client.get(path)
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert b"SQLite format" not in response.content and b"root:" not in response.content


def test_uploads_that_are_not_pictures_are_refused(client):
    text = client.post("/api/search", files={"image": ("notes.txt", b"just some words\n" * 20, "text/plain")})
    assert text.status_code == 400 and "not an image" in text.json()["detail"]
    empty = client.post("/api/search", files={"image": ("empty.png", b"", "image/png")})
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    huge = client.post("/api/search", files={"image": ("huge.png", b"\x89PNG" + b"0" * (9 * 1024 * 1024), "image/png")})
    assert huge.status_code == 413 and "larger than" in huge.json()["detail"]
    truncated = client.post("/api/search", files={"image": ("cut.png", _png(np.zeros((64, 32, 3), np.uint8))[:60],
                                                            "image/png")})
    assert truncated.status_code == 400
    tiny = client.post("/api/search", files={"image": ("dot.png", _png(np.zeros((2, 2, 3), np.uint8)), "image/png")})
    assert tiny.status_code == 400 and "too small" in tiny.json()["detail"]
    no_field = client.post("/api/search", files={"picture": ("a.png", b"x", "image/png")})
    assert no_field.status_code == 422 and "image" in no_field.json()["detail"]


def test_a_token_is_checked_on_every_request(web_run):
    from pipeline.web.app import WebSettings, create_app

    token = "correct-horse-battery"
    with TestClient(create_app(WebSettings(web_run, token=token))) as guarded:
        for path in ("/api/run", "/api/identities", "/", "/api/thumbnails/cam1/1.jpg"):
            refused = guarded.get(path)
            assert refused.status_code == 401 and "token" in refused.json()["detail"]
        assert guarded.get("/api/run", headers={"Authorization": "Bearer wrong-token-here"}).status_code == 401
        assert guarded.get("/api/run", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        first = guarded.get(f"/api/run?token={token}")
        assert first.status_code == 200 and "bpsema_token" in first.headers["set-cookie"]
        assert guarded.get("/api/identities").status_code == 200  # the cookie now carries it
        assert guarded.post("/api/search", files={"image": ("a.png", b"x", "image/png")}).status_code == 409


def test_binding_beyond_loopback_needs_a_token(web_run):
    from pipeline.web.server import check_bind
    from reid.errors import UserError

    with pytest.raises(UserError, match="--token"):
        check_bind("0.0.0.0", 8080, None)
    command = [sys.executable, "-m", "pipeline.web", "--results", str(web_run), "--host", "0.0.0.0"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPOSITORY_ROOT, timeout=120)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "--token" in result.stderr
    missing = subprocess.run([sys.executable, "-m", "pipeline.web", "--results", str(web_run / "nothing")],
                             capture_output=True, text=True, cwd=REPOSITORY_ROOT, timeout=120)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_a_version_2_store_stays_readable(web_run, tmp_path):
    from pipeline.web.app import WebSettings, create_app

    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(web_run / "tracks.sqlite", old / "tracks.sqlite")
    connection = sqlite3.connect(old / "tracks.sqlite")
    connection.executescript("DROP TABLE thumbnails; ALTER TABLE cameras DROP COLUMN source; "
                             "DELETE FROM metadata WHERE key = 'reid_model'; "
                             "UPDATE metadata SET value = '2' WHERE key = 'schema_version';")
    connection.close()
    with TestClient(create_app(WebSettings(old))) as old_client:
        run = old_client.get("/api/run").json()
        assert run["model"] is None and not run["search_available"]
        assert not any(camera["frames_available"] for camera in run["cameras"])
        items = old_client.get("/api/identities").json()["items"]
        assert items
        assert old_client.get(items[0]["thumbnail_url"]).status_code == 404
        detail = old_client.get(f"/api/identities/{items[0]['global_id']}").json()
        assert detail["tracks"] and all(track["frames"] == [] for track in detail["tracks"])
        frame = old_client.get("/api/frames/cam1/1.jpg")
        assert frame.status_code == 404 and "no recorded video" in frame.json()["detail"]


def test_the_browsing_app_opens_the_store_read_only(client, database):
    store = client.app.state.store
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store._query("DELETE FROM tracks")
    assert database.execute("SELECT COUNT(*) FROM tracks").fetchone()[0] > 0


def test_uploads_are_refused_cleanly_with_ultralytics_loaded(client):
    """ultralytics (imported during every run) patches PIL.Image.open to fetch a HEIF plugin on an
    unknown file; the upload check must not go there."""
    import ultralytics  # noqa: F401 - the import installs the patch
    from ultralytics.utils import patches  # noqa: F401

    for name, data in (("notes.txt", b"plain words " * 50), ("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
                       ("fake.jpg", b"\xff\xd8\xff" + b"junk" * 30)):
        answer = client.post("/api/search", files={"image": (name, data, "image/png")})
        assert answer.status_code == 400, (name, answer.text)
        assert "image" in answer.json()["detail"]
