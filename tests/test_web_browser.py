"""The operator's web app in a real headless browser (docs/web.md): Debian's chromium driven by
Playwright against ``python -m pipeline.web --results RUN`` serving a small recorded run.

Walks the identities page (sort, pages), one identity (timeline, tracks, frames with their boxes,
a click on a box), search by an uploaded crop (file input and drag-and-drop, plus an upload the
server refuses), the live page of a finished run and of a run going on (``run_pipeline.py --web``
on the recorded run's world), and a server with ``--token`` (the cookie set by ``?token=``).

Screenshots go to tmp_path; with ``BPSEMA_WRITE_SCREENSHOTS=1`` to ``docs/web_*.png``. Never downloads
a browser: skipped (with the reason) when playwright or chromium is missing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY_ROOT
from tests.network import free_port

SHIPPED_MODEL = REPOSITORY_ROOT / "models" / "bpsema_small_synthetic.pt"

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    pytest.skip("playwright is not installed (pip install -e '.[dev]')", allow_module_level=True)


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


CHROMIUM = _chromium()
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/install_chromium.sh)",
                allow_module_level=True)

SERVER_START_DEADLINE_S = 60.0
PER_PAGE = 25  # the identities page's page size
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000  # Playwright's waits (a search on 2 CPU cores can take seconds)
expect.set_options(timeout=TIMEOUT_MS)


# --- the server -----------------------------------------------------------------------------------


def _get(url: str, timeout: float = 10.0, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def _get_json(url: str, token: str | None = None):
    return json.loads(_get(url, token=token))


def _wait_until_answering(base: str, process: subprocess.Popen, log: Path, token: str | None = None) -> None:
    """Poll ``/api/run`` until it answers (deadline SERVER_START_DEADLINE_S); fail when the process exits."""
    deadline = time.monotonic() + SERVER_START_DEADLINE_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"the web app exited with {process.returncode} before answering:\n{log.read_text()}")
        try:
            _get_json(f"{base}/api/run", token=token)
            return
        except (urllib.error.URLError, ConnectionError, OSError, json.JSONDecodeError):
            if time.monotonic() > deadline:
                pytest.fail(f"the web app did not answer /api/run within {SERVER_START_DEADLINE_S:.0f} s:\n"
                            f"{log.read_text()}")
            time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(web_run, tmp_path_factory):
    """``python -m pipeline.web --results RUN`` on a free port; its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("web-server") / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.web", "--results", str(web_run), "--port", str(port)],
            cwd=REPOSITORY_ROOT, stdout=output, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(base, process, log)
        yield base
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    """A fresh page at 1280x800; a JavaScript exception on it fails the test."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def screenshots(tmp_path) -> Path:
    if os.environ.get("BPSEMA_WRITE_SCREENSHOTS") == "1":
        return REPOSITORY_ROOT / "docs"
    return tmp_path


# --- helpers ----------------------------------------------------------------------------------------
def _row_ids(page) -> list[int]:
    return [int(value) for value in page.locator("tr.identity").evaluate_all(
        "rows => rows.map(row => row.dataset.globalId)")]


def _wait_for_row_ids(page, expected: list[int]) -> None:
    try:
        page.wait_for_function(
            "expected => JSON.stringify([...document.querySelectorAll('tr.identity')]"
            ".map(row => Number(row.dataset.globalId))) === JSON.stringify(expected)",
            arg=expected,
        )
    except PlaywrightTimeout:
        pytest.fail(f"the identities table shows {_row_ids(page)}, expected {expected}")


def _showcase_identity(server) -> dict:
    """The identity seen by the most cameras (then the most tracks) whose frames are available."""
    items = _get_json(f"{server}/api/identities?page=1&per_page=500&sort=-num_cameras")["items"]
    assert items, "the recorded run has no identities"
    for item in sorted(items, key=lambda item: (-len(item["cameras"]), -item["num_tracks"], item["global_id"])):
        identity = _get_json(f"{server}/api/identities/{item['global_id']}")
        if any(track["frames"] for track in identity["tracks"]):
            return identity
    pytest.fail("no identity of the recorded run has frames of a recorded video")


def _distances(page) -> list[float]:
    texts = page.locator("#results .result td.distance").all_inner_texts()
    return [float(text) for text in texts]


def _result_ids(page) -> list[int]:
    return [int(value) for value in page.locator("#results .result").evaluate_all(
        "rows => rows.map(row => row.dataset.globalId)")]


def _assert_ranked(page, expected_identity: int, what: str) -> None:
    rows = page.locator("#results .result")
    expect(rows.first).to_be_visible()
    distances = _distances(page)
    assert len(distances) == rows.count() >= 1
    assert distances == sorted(distances), f"{what}: distances not ascending: {distances}"
    assert all(re.fullmatch(r"-?\d+\.\d{3}", text) for text in
               page.locator("#results .result td.distance").all_inner_texts()), "distances not shown with 3 decimals"
    ids = _result_ids(page)
    assert expected_identity in ids[:5], f"{what}: identity {expected_identity} not in the top 5 of {ids}"
    for link in page.locator("#results .result a.gid").all()[:3]:
        assert re.fullmatch(r"identity\.html\?id=\d+", link.get_attribute("href"))


def _largest_crop(server, identity: dict, directory: Path) -> tuple[Path, dict]:
    """The largest box of one of the identity's tracks in its sample frames, cut from the frame JPEG
    as recorded (``annotated=false``: no drawn outline in the crop)."""
    import cv2
    import numpy as np

    best = None
    for track in identity["tracks"]:
        for sample in track["frames"]:
            boxes = _get_json(f"{server}/api/frames/{track['camera']}/{sample['frame']}/boxes")
            for box in boxes["boxes"]:
                if box["track_id"] != track["track_id"]:
                    continue
                x1, y1, x2, y2 = box["box"]
                x1, y1 = max(0.0, x1), max(0.0, y1)
                x2, y2 = min(float(boxes["width"]), x2), min(float(boxes["height"]), y2)
                area = (x2 - x1) * (y2 - y1)
                if best is None or area > best[0]:
                    best = (area, sample["url"], (x1, y1, x2, y2), track)
    assert best is not None, f"no box of identity {identity['global_id']} in its sample frames"
    _, url, (x1, y1, x2, y2), track = best
    image = cv2.imdecode(np.frombuffer(_get(server + url + "?annotated=false"), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, f"{url} is not a JPEG"
    crop = image[int(round(y1)):int(round(y2)), int(round(x1)):int(round(x2))]
    assert crop.size > 0
    path = directory / f"query_G{identity['global_id']}.png"
    assert cv2.imwrite(str(path), crop)
    return path, track


# JavaScript: the element a click on the centre of ``element`` reaches (scrolled into view first).
ELEMENT_AT_CENTRE = """(element) => {
    element.scrollIntoView({block: "center"});
    const rectangle = element.getBoundingClientRect();
    return document.elementFromPoint(rectangle.left + rectangle.width / 2, rectangle.top + rectangle.height / 2);
}"""


def _unobstructed(boxes):
    """The first of ``boxes`` (a locator of hit boxes) whose centre no other box covers: a smaller box
    of a person in front lies over a larger one, and a click on the larger one's centre would search
    for that other person."""
    expect(boxes.first).to_be_visible()
    index = boxes.evaluate_all("elements => { const atCentre = " + ELEMENT_AT_CENTRE + """;
        return elements.findIndex(element => {
            const hit = atCentre(element);
            return hit === element || element.contains(hit);
        });
    }""")
    assert index >= 0, "every box is covered by another one"
    return boxes.nth(index)


# --- tests ------------------------------------------------------------------------------------------

def test_identities_page_lists_pages_and_sorts(server, page, screenshots):
    total = _get_json(f"{server}/api/identities?per_page=1")["total"]
    pages = max(1, -(-total // PER_PAGE))
    page.goto(f"{server}/")
    expect(page.locator("#identities tr.identity").first).to_be_visible()
    expect(page.locator("#page-info")).to_have_text(
        re.compile(rf"page 1 of {pages} · {total} identit(y|ies)"))
    by_id = _get_json(f"{server}/api/identities?page=1&per_page={PER_PAGE}&sort=global_id")["items"]
    assert _row_ids(page) == [item["global_id"] for item in by_id]
    assert _row_ids(page) == sorted(_row_ids(page))
    first_row = page.locator("tr.identity").first
    expect(first_row.locator("img")).to_have_attribute("src", by_id[0]["thumbnail_url"])
    expect(first_row.locator(f'a[href="identity.html?id={by_id[0]["global_id"]}"]').first).to_be_visible()
    page.wait_for_function("() => [...document.querySelectorAll('tr.identity img')]"
                           ".some(image => image.complete && image.naturalWidth > 0)")
    page.screenshot(path=str(screenshots / "web_identities.png"))

    if pages == 1:
        expect(page.locator("#next-page")).to_be_disabled()
        expect(page.locator("#previous-page")).to_be_disabled()
    # Small pages (?per_page=), so that paging is exercised on this run too.
    small = 10
    assert total > small, f"the run has only {total} identities"
    small_pages = -(-total // small)
    page.goto(f"{server}/?per_page={small}")
    expect(page.locator("#page-info")).to_have_text(re.compile(rf"page 1 of {small_pages} · {total} "))
    expect(page.locator("#previous-page")).to_be_disabled()
    page.click("#next-page")
    expect(page.locator("#page-info")).to_have_text(re.compile(rf"page 2 of {small_pages} · {total} "))
    second = _get_json(f"{server}/api/identities?page=2&per_page={small}&sort=global_id")["items"]
    _wait_for_row_ids(page, [item["global_id"] for item in second])
    expect(page.locator("#previous-page")).to_be_enabled()
    page.click("#previous-page")
    expect(page.locator("#page-info")).to_have_text(re.compile(rf"page 1 of {small_pages} "))
    page.goto(f"{server}/")

    # Latest first seen first: the rows follow the API's order, their first times do not increase.
    page.select_option("#sort", "-first_time_s")
    latest_first = _get_json(f"{server}/api/identities?page=1&per_page={PER_PAGE}&sort=-first_time_s")["items"]
    expected = [item["global_id"] for item in latest_first]
    assert expected != [item["global_id"] for item in by_id], "the run's identities give the same order both ways"
    _wait_for_row_ids(page, expected)
    first_times = [item["first_time_s"] for item in latest_first]
    assert first_times == sorted(first_times, reverse=True)
    shown = page.locator("tr.identity").first.locator("td").all_inner_texts()
    minutes, seconds = divmod(latest_first[0]["first_time_s"], 60)
    assert f"{int(minutes)}:{seconds:04.1f}" in shown, f"first time not shown as m:ss.s in {shown}"
    expect(page.locator("#page-info")).to_have_text(re.compile(r"page 1 of "))

    # Most tracks first.
    page.select_option("#sort", "-num_tracks")
    most_tracks = _get_json(f"{server}/api/identities?page=1&per_page={PER_PAGE}&sort=-num_tracks")["items"]
    _wait_for_row_ids(page, [item["global_id"] for item in most_tracks])


def test_identity_page_timeline_frames_and_box_search(server, page, screenshots):
    identity = _showcase_identity(server)
    global_id = identity["global_id"]
    page.goto(f"{server}/")
    page.locator(f'tr.identity[data-global-id="{global_id}"] a[href="identity.html?id={global_id}"]').first.click()
    page.wait_for_url(re.compile(rf"/identity\.html\?id={global_id}$"))

    bars = page.locator("#timeline .bar")
    expect(bars).to_have_count(len(identity["tracks"]))
    timeline_text = page.locator("#timeline").inner_text()
    for camera in identity["cameras"]:
        assert camera in timeline_text, f"no lane for {camera} in the timeline"
    assert re.search(r"\d+:\d\d\.\d", timeline_text), "the timeline has no time labels"
    expect(page.locator("#tracks .track")).to_have_count(len(identity["tracks"]))
    expect(page.locator("h1")).to_contain_text(str(global_id))

    frame_count = sum(len(track["frames"]) for track in identity["tracks"])
    expect(page.locator("#frames img.frame")).to_have_count(frame_count)
    page.wait_for_function("() => [...document.querySelectorAll('#frames img.frame')]"
                           ".some(image => image.complete && image.naturalWidth > 0)")
    sources = page.locator("#frames img.frame").evaluate_all("images => images.map(image => image.src)")
    assert all(f"highlight={global_id}" in source for source in sources), sources
    own_box = _unobstructed(page.locator(f'#frames .hitbox[data-global-id="{global_id}"]'))
    expect(own_box).to_be_visible()
    page.screenshot(path=str(screenshots / "web_identity.png"))

    # The transparent box lies over the person: its share of the displayed image is the box's share
    # of the frame.
    camera, frame, track_id = (own_box.get_attribute(name) for name in ("data-camera", "data-frame", "data-track-id"))
    boxes = _get_json(f"{server}/api/frames/{camera}/{frame}/boxes")
    (stored,) = [box["box"] for box in boxes["boxes"] if box["track_id"] == int(track_id)]
    image = own_box.locator("xpath=..").locator("img.frame")
    image_box, hit_box = image.bounding_box(), own_box.bounding_box()
    scale = image_box["width"] / boxes["width"]
    assert hit_box["x"] - image_box["x"] == pytest.approx(max(0.0, stored[0]) * scale, abs=2.5)
    assert hit_box["width"] == pytest.approx((min(boxes["width"], stored[2]) - max(0.0, stored[0])) * scale, abs=2.5)

    own_box.click()
    _assert_ranked(page, global_id, f"search for the box of track {track_id} in frame {frame} of {camera}")
    # The next identity on the page opens the same way.
    page.locator("#results .result a.gid").first.click()
    page.wait_for_url(re.compile(r"/identity\.html\?id=\d+$"))
    expect(page.locator("#timeline .bar").first).to_be_visible()


def test_overlapping_people_can_both_be_clicked(server, page):
    """Where two people's boxes overlap in a frame, the centre of every box answers a click on that box or
    on a smaller box lying over it, never on a larger box drawn over it (which would hide a person
    standing in front of another). The first identities' frames hold such overlaps."""
    items = _get_json(f"{server}/api/identities?page=1&per_page=50")["items"]
    with_frames = [item["global_id"] for item in items if any(
        track["frames"] for track in _get_json(f"{server}/api/identities/{item['global_id']}")["tracks"])]
    overlapping_pairs = 0
    for global_id in with_frames[:4]:
        page.goto(f"{server}/identity.html?id={global_id}")
        expect(page.locator("#frames img.frame").first).to_be_attached()
        frame_count = page.locator("#frames img.frame").count()
        page.wait_for_function(
            f"() => document.querySelectorAll('#frames .frame-box[data-boxes]').length === {frame_count}")
        report = page.locator("#frames .hitbox").evaluate_all("boxes => { const atCentre = " + ELEMENT_AT_CENTRE + """;
            const area = (element) => {
                const rectangle = element.getBoundingClientRect();
                return rectangle.width * rectangle.height;
            };
            const overlap = (first, second) => {
                const [one, two] = [first.getBoundingClientRect(), second.getBoundingClientRect()];
                return one.left < two.right && two.left < one.right && one.top < two.bottom && two.top < one.bottom;
            };
            let overlapping = 0;
            const covered = [];
            for (const box of boxes) {
                const siblings = [...box.parentElement.querySelectorAll(".hitbox")].filter((other) => other !== box);
                overlapping += siblings.filter((other) => overlap(box, other)).length;
                const hit = atCentre(box);
                if (hit !== box && hit.classList.contains("hitbox") && area(hit) > area(box)) {
                    covered.push(box.title + " under " + hit.title);
                }
            }
            return {overlapping: overlapping / 2, covered};
        }""")
        overlapping_pairs += report["overlapping"]
        assert not report["covered"], report["covered"]
    assert overlapping_pairs > 0, "no two boxes overlap on these pages: the test proves nothing"


def test_search_by_uploaded_crop(server, page, screenshots, tmp_path):
    identity = _showcase_identity(server)
    global_id = identity["global_id"]
    crop, _ = _largest_crop(server, identity, tmp_path)

    page.goto(f"{server}/search.html")
    expect(page.locator("#search-image")).to_have_attribute("accept", "image/*")
    page.set_input_files("#search-image", str(crop))
    page.locator("#search-form [type=submit]").click()
    _assert_ranked(page, global_id, f"search for a crop of G{global_id}")
    run = _get_json(f"{server}/api/run")
    visible = page.locator("#query-parts .chip.on").evaluate_all("chips => chips.map(chip => chip.dataset.part)")
    assert visible and set(visible) <= set(run["parts"]), visible
    compared = page.locator("#results .result").first.locator(".chip.on").count()
    assert compared >= 1, "the best result shows no compared parts"
    expect(page.locator("#error")).to_be_hidden()
    page.screenshot(path=str(screenshots / "web_search.png"))

    # A file that is no image: the server's sentence is shown.
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not an image at all")
    page.set_input_files("#search-image", str(not_an_image))
    page.locator("#search-form [type=submit]").click()
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).not_to_have_text(re.compile(r"^\s*$"))

    # Dropping the crop on the drop zone searches at once.
    page.locator("#drop-zone").wait_for()
    transfer = page.evaluate_handle(
        """([name, data]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "image/png" }));
            return transfer;
        }""",
        [crop.name, base64.b64encode(crop.read_bytes()).decode()],
    )
    expect(page.locator("#results .result")).to_have_count(0)  # the refused upload cleared them
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#error")).to_be_hidden()
    _assert_ranked(page, global_id, "search for the dropped crop")


def test_live_page_of_a_finished_run(server, page):
    run = _get_json(f"{server}/api/run")
    status = _get_json(f"{server}/api/live/status")
    assert status["running"] is False and run["live"] is False
    page.goto(f"{server}/live.html")
    streams = page.locator("#live-cameras img.live-stream")
    expect(streams).to_have_count(len(run["cameras"]))
    cameras = streams.evaluate_all("images => images.map(image => image.dataset.camera)")
    assert cameras == [camera["camera"] for camera in run["cameras"]]
    expect(page.locator("#identity-count")).to_have_text(str(status["identities"]))
    expect(page.locator("#live-status")).to_be_visible()
    expect(page.locator("#events")).to_be_attached()
    assert page.locator("#events li.event").count() == 0


def test_live_page_during_a_run(web_run, browser, screenshots, tmp_path):
    """``run_pipeline.py --web PORT`` on the recorded run's world: while it goes, the live page shows
    each camera's stream, their status, the identity count and the events, newest first."""
    world = web_run.parent / "world"  # where the web_run fixture generated it
    assert (world / "videos").is_dir(), f"no world beside {web_run}"
    port = free_port()
    log = tmp_path / "run.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(REPOSITORY_ROOT / "run_pipeline.py"), "--world", str(world), "--detector",
             "detections", "--reid", str(SHIPPED_MODEL), "--output", str(tmp_path / "output"), "--no-progress",
             "--web", str(port)],
            cwd=REPOSITORY_ROOT, stdout=output, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    try:
        _wait_until_answering(base, process, log)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/live.html")
        run = _get_json(f"{base}/api/run")
        assert run["live"] is True
        cameras = [camera["camera"] for camera in run["cameras"]]
        streams = page.locator("#live-cameras img.live-stream")
        expect(streams).to_have_count(len(cameras))
        assert streams.evaluate_all("images => images.map(image => image.dataset.camera)") == cameras
        sources = streams.evaluate_all("images => images.map(image => new URL(image.src).pathname)")
        assert sources == [f"/live/cameras/{camera}.mjpg" for camera in cameras]
        # Frames come through every camera's stream, the status names every camera, events arrive.
        page.wait_for_function("() => [...document.querySelectorAll('img.live-stream')]"
                               ".every(image => image.naturalWidth > 0)")
        rows = page.locator("#live-status tr.camera-status")
        expect(rows).to_have_count(len(cameras))
        assert rows.evaluate_all("rows => rows.map(row => row.dataset.camera)") == cameras
        expect(page.locator("#live-status")).to_contain_text("up")
        page.wait_for_function("() => /^[1-9][0-9]*$/.test(document.getElementById('identity-count').textContent)")
        expect(page.locator("#events li.event").first).to_be_visible()
        page.wait_for_function("() => document.querySelectorAll('#events li.event').length >= 3")
        page.screenshot(path=str(screenshots / "web_live.png"))
        sequence = [int(value) for value in page.locator("#events li.event").evaluate_all(
            "items => items.map(item => item.dataset.seq)")]
        assert sequence == sorted(sequence, reverse=True) and len(set(sequence)) == len(sequence), sequence
        assert len(sequence) <= 200
        process.wait(timeout=300)
        assert process.returncode == 0, log.read_text()
    finally:
        context.close()
        _stop(process)
    assert not errors, f"JavaScript errors on the live page: {errors}"


def test_pages_work_with_the_token_cookie(web_run, page, tmp_path):
    """A server with --token: ``?token=`` once sets the cookie, then every page's requests (JSON,
    frames, search) carry it without the token in the address."""
    token = "browser-test-token"
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.web", "--results", str(web_run), "--port", str(port), "--token", token],
            cwd=REPOSITORY_ROOT, stdout=output, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(base, process, log, token=token)
        refused = page.goto(f"{base}/")
        assert refused.status == 401
        page.goto(f"{base}/?token={token}")
        expect(page.locator("tr.identity").first).to_be_visible()
        assert "token" not in page.url, "the page keeps the token in its address"
        page.locator("tr.identity a.gid").first.click()
        page.wait_for_function("() => [...document.querySelectorAll('#frames img.frame')]"
                               ".some(image => image.complete && image.naturalWidth > 0)")
        _unobstructed(page.locator("#frames .hitbox")).click()
        expect(page.locator("#results .result").first).to_be_visible()
    finally:
        _stop(process)
