"""The operator's web app: the identities of a run, one identity's path across cameras, search by
image, and (during a run) the live cameras. The pages and the JSON API are listed in ``docs/web.md``.

``create_app(WebSettings(...))`` builds the FastAPI application; ``python -m pipeline.web`` serves a
finished run, ``run_pipeline.py --web PORT`` a running one.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
import numpy as np
from pydantic import BaseModel, ConfigDict

from pipeline.extraction import cut_crop
from pipeline.web.frames import FrameUnavailable, RecordedFrames
from pipeline.web.live import LiveView
from pipeline.web.search import MAX_UPLOAD_BYTES, QueryImageError, TrackletSearch, decode_query_image
from pipeline.web.store import IDENTITY_SORT_COLUMNS, IdentitySummary, ResultsStore

STATIC_DIRECTORY = Path(__file__).resolve().parent / "static"
TOKEN_COOKIE = "bpsema_token"
MAX_PER_PAGE = 500
FRAMES_PER_TRACK = 3  # frames shown per track on an identity page
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 64 * 1024  # the upload and its multipart envelope


@dataclass
class WebSettings:
    """What one app serves.

    results_dir: the run's output directory (its ``tracks.sqlite``); extractor: the run's part-feature
    extractor for search (None: search answers that it is unavailable); token: required on every
    request when set; live_view: a running run's ``LiveView`` (None: a finished run).
    """

    results_dir: Path
    extractor: Any = None
    token: str | None = None
    live_view: LiveView | None = None
    model: str | None = None  # the model file (shown in /api/run)


class BoxQuery(BaseModel):
    """``POST /api/search/box``: search for the person in one stored box."""

    model_config = ConfigDict(extra="forbid")
    camera: str
    frame: int
    track_id: int
    top_k: int = 20


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _identity_json(identity: IdentitySummary) -> dict:
    return {
        "global_id": identity.global_id,
        "cameras": list(identity.cameras),
        "first_time_s": identity.first_time_s,
        "last_time_s": identity.last_time_s,
        "num_tracks": identity.num_tracks,
        "thumbnail_url": f"/api/identities/{identity.global_id}/thumbnail.jpg",
    }


def create_app(settings: WebSettings) -> FastAPI:
    live = settings.live_view
    store = ResultsStore(settings.results_dir, ready=(lambda: live.store_ready) if live is not None else None)
    frames = RecordedFrames(store)
    search = TrackletSearch(store, settings.extractor, live=live is not None) if settings.extractor is not None else None
    shutting_down = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        if search is not None and live is None:
            search.gallery()  # read once before the first request, not during it
        yield
        shutting_down.set()
        frames.close()
        store.close()

    app = FastAPI(title="BPSEMA multi-camera identities", docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json", lifespan=lifespan)
    app.state.store, app.state.frames, app.state.search = store, frames, search
    app.state.shutting_down = shutting_down

    # --- safety ---------------------------------------------------------------------------------
    @app.middleware("http")
    async def _guard(request: Request, call_next):
        if settings.token:
            header = request.headers.get("authorization", "")
            offered = [header[7:] if header.lower().startswith("bearer ") else "",
                       request.cookies.get(TOKEN_COOKIE, ""), request.query_params.get("token", "")]
            if not any(value and hmac.compare_digest(value, settings.token) for value in offered):
                return _error(401, "a valid token is required (Authorization: Bearer TOKEN, or ?token=TOKEN once)")
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return _error(400, "invalid Content-Length header")
            if int(length) > MAX_BODY_BYTES:
                return _error(413, f"the upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
        response = await call_next(request)
        query_token = request.query_params.get("token")
        if settings.token and query_token and hmac.compare_digest(query_token, settings.token):
            response.set_cookie(TOKEN_COOKIE, settings.token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem.get('loc', ()) if part not in ('body', 'query', 'path'))}: "
            f"{problem.get('msg', 'invalid')}"
            for problem in error.errors()
        )
        return _error(422, f"invalid request: {problems}")

    # --- the run --------------------------------------------------------------------------------
    @app.get("/api/run")
    def run_summary() -> dict:
        metadata = store.metadata()
        identities, tracklets = store.counts()
        with_frames = frames.cameras_with_frames()
        return {
            "results": settings.results_dir.name,
            "cameras": [{"camera": camera, "frames_available": camera in with_frames}
                        for camera in (store.cameras() or {camera: None for camera in (live.cameras if live else [])})],
            "parts": store.part_names() or (["foreground", *live.part_names] if live else []),
            "finalized": metadata.get("finalized") == "1",
            # During a run the association's own count (the store hears of an id with its next step).
            "identities": max(identities, live.status()["identities"]) if live is not None else identities,
            "tracklets": tracklets,
            "model": settings.model or metadata.get("reid_model"),
            "live": live is not None,
            "search_available": search is not None,
        }

    @app.get("/api/identities")
    def identities(page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
                   sort: str = "global_id") -> dict:
        if sort.lstrip("-") not in IDENTITY_SORT_COLUMNS:
            raise HTTPException(400, f"unknown sort {sort!r}; use one of {', '.join(IDENTITY_SORT_COLUMNS)} "
                                     "(a leading '-' for descending)")
        total, items = store.identities_page(page, per_page, sort)
        return {"total": total, "page": page, "per_page": per_page, "sort": sort,
                "items": [_identity_json(identity) for identity in items]}

    @app.get("/api/identities/{global_id}")
    def identity(global_id: int) -> dict:
        found = store.identity(global_id)
        if found is None:
            raise HTTPException(404, f"no identity {global_id} in this run")
        tracks = []
        with_frames = frames.cameras_with_frames()
        for track in store.identity_tracks(global_id):
            samples = store.track_sample_frames(track.camera, track.track_id, FRAMES_PER_TRACK)
            tracks.append({
                "camera": track.camera, "track_id": track.track_id,
                "first_frame": track.first_frame, "last_frame": track.last_frame,
                "first_time_s": track.first_time_s, "last_time_s": track.last_time_s,
                "thumbnail_url": f"/api/thumbnails/{track.camera}/{track.track_id}.jpg",
                "frames": [{"frame": frame, "time_s": time_s, "url": f"/api/frames/{track.camera}/{frame}.jpg"}
                           for frame, time_s in samples] if track.camera in with_frames else [],
            })
        return {**_identity_json(found), "tracks": tracks}

    def _jpeg(data: bytes | None, missing: str) -> Response:
        if data is None:
            raise HTTPException(404, missing)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/identities/{global_id}/thumbnail.jpg")
    def identity_thumbnail(global_id: int) -> Response:
        return _jpeg(store.identity_thumbnail(global_id), f"no thumbnail for identity {global_id}")

    @app.get("/api/thumbnails/{camera}/{track_id}.jpg")
    def track_thumbnail(camera: str, track_id: int) -> Response:
        return _jpeg(store.thumbnail(camera, track_id), f"no thumbnail for track {track_id} of camera {camera!r}")

    @app.get("/api/frames/{camera}/{frame}.jpg")
    def frame_image(camera: str, frame: int, highlight: int | None = None, annotated: bool = True) -> Response:
        try:
            return Response(frames.jpeg(camera, frame, highlight, annotated), media_type="image/jpeg")
        except FrameUnavailable as error:
            raise HTTPException(404, str(error)) from None

    @app.get("/api/frames/{camera}/{frame}/boxes")
    def frame_boxes(camera: str, frame: int) -> dict:
        try:
            height, width = frames.image(camera, frame).shape[:2]
        except FrameUnavailable as error:
            raise HTTPException(404, str(error)) from None
        return {"width": width, "height": height, "boxes": [
            {"track_id": box.track_id, "global_id": box.global_id, "box": list(box.box)}
            for box in store.frame_boxes(camera, frame)
        ]}

    # --- search ---------------------------------------------------------------------------------
    def _require_search() -> None:
        if search is None:
            raise HTTPException(409, "search is unavailable: this run's store names no part-feature model that "
                                     "exists here (start the app with --reid MODEL)")

    def _answer(crop, top_k: int) -> dict:
        _require_search()
        answer = search.search(crop, max(1, min(int(top_k), 200)))
        results = []
        for result in answer.results:
            track = store.track(result.camera, result.track_id)
            results.append({
                "global_id": result.global_id, "distance": result.distance,
                "camera": result.camera, "track_id": result.track_id,
                "first_time_s": track.first_time_s if track else None,
                "last_time_s": track.last_time_s if track else None,
                "thumbnail_url": f"/api/thumbnails/{result.camera}/{result.track_id}.jpg",
                "compared_parts": list(result.compared_parts),
            })
        return {"query": {"visible_parts": list(answer.visible_parts)}, "results": results}

    @app.post("/api/search")
    def search_by_image(image: UploadFile = File(...), top_k: int = Form(20)) -> dict:
        _require_search()
        data = image.file.read(MAX_UPLOAD_BYTES + 1)
        try:
            crop = decode_query_image(data)
        except QueryImageError as error:
            raise HTTPException(413 if len(data) > MAX_UPLOAD_BYTES else 400, str(error)) from None
        return _answer(crop, top_k)

    @app.post("/api/search/box")
    def search_by_box(query: BoxQuery) -> dict:
        box = next((box for box in store.frame_boxes(query.camera, query.frame) if box.track_id == query.track_id), None)
        if box is None:
            raise HTTPException(404, f"no box of track {query.track_id} in frame {query.frame} of camera {query.camera!r}")
        try:
            image = frames.image(query.camera, query.frame)
        except FrameUnavailable as error:
            raise HTTPException(404, str(error)) from None
        return _answer(cut_crop(image, np.asarray(box.box)), query.top_k)

    # --- live -----------------------------------------------------------------------------------
    @app.get("/api/live/status")
    def live_status() -> dict:
        if live is None:
            identities_count, _ = store.counts()
            return {"running": False, "identities": identities_count, "cameras": []}
        return live.status()

    @app.get("/api/live/events")
    def live_events(after: int = Query(0, ge=0)) -> dict:
        if live is None:
            return {"events": [], "last_seq": 0}
        events, last = live.events_after(after)
        return {"events": events, "last_seq": last}

    @app.get("/live/cameras/{camera}.mjpg")
    def live_stream(camera: str) -> StreamingResponse:
        if live is None:
            raise HTTPException(404, "this is a finished run: there is no live stream (run_pipeline.py --web PORT)")
        if camera not in live.cameras:
            raise HTTPException(404, f"unknown camera {camera!r}")

        def parts():
            for jpeg in live.frames(camera, shutting_down):
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode()
                       + b"\r\n\r\n" + jpeg + b"\r\n")

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame")

    # --- pages ----------------------------------------------------------------------------------
    @app.get("/live")
    def live_page() -> RedirectResponse:
        return RedirectResponse("/live.html")

    app.mount("/", StaticFiles(directory=STATIC_DIRECTORY, html=True), name="pages")
    return app
