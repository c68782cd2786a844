/* Live run: each camera's annotated MJPEG stream, camera health, identity count and the event feed. */
"use strict";

(() => {
    const { api, el, formatTime, showError, clearError, run } = BPSEMA;
    const POLL_MS = 1000;
    const MAX_EVENTS_SHOWN = 200;
    const RETRY_STREAM_MS = 3000;
    let lastSeq = 0;
    let live = false;

    function number(value, digits, unit = "") {
        if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
        return `${Number(value).toFixed(digits)}${unit}`;
    }

    function streamTile(camera) {
        const image = el("img", { class: "live-stream", alt: `camera ${camera}`, dataset: { camera } });
        const state = el("span", { class: "stream-state" }, live ? "connecting…" : "offline");
        const placeholder = el("div", { class: "stream-placeholder" }, live ? "waiting for frames…" : "no live stream (finished run)");
        const tile = el("div", { class: "live-tile", dataset: { camera } },
            el("div", { class: "tile-head" }, el("span", {}, camera), state), image, placeholder);
        image.hidden = !live; // a finished run has no stream: the placeholder says so
        placeholder.hidden = live;
        if (live) {
            const url = `/live/cameras/${encodeURIComponent(camera)}.mjpg`;
            image.addEventListener("load", () => {
                state.textContent = "streaming";
                image.hidden = false;
                placeholder.hidden = true;
            });
            image.addEventListener("error", () => {
                state.textContent = "no stream, retrying…";
                image.hidden = true;
                placeholder.hidden = false;
                setTimeout(() => { image.src = `${url}?retry=${Date.now()}`; }, RETRY_STREAM_MS);
            });
            image.src = url;
        }
        return tile;
    }

    function statusRow(camera) {
        const up = Boolean(camera.connected);
        return el("tr", { class: "camera-status", dataset: { camera: camera.camera, connected: up } },
            el("td", {}, el("span", { class: "chip camera" }, camera.camera)),
            el("td", {}, el("span", { class: `chip ${up ? "up" : "down"}` }, up ? "up" : "DOWN")),
            el("td", { class: "num" }, number(camera.fps, 1)),
            el("td", { class: "num" }, camera.latency_s === null || camera.latency_s === undefined
                ? "—" : `${(Number(camera.latency_s) * 1000).toFixed(0)} ms`),
            el("td", { class: "num" }, camera.frames_received ?? "—"),
            el("td", { class: "num" }, camera.frames_dropped ?? "—"),
            el("td", { class: "num" }, camera.reconnects ?? "—"),
            el("td", { class: "muted" }, camera.last_error || ""),
        );
    }

    async function pollStatus() {
        try {
            const status = await api("/api/live/status");
            clearError();
            document.getElementById("identity-count").textContent = status.identities;
            const body = document.querySelector("#live-status tbody");
            body.replaceChildren(...(status.cameras.length ? status.cameras.map(statusRow)
                : [el("tr", {}, el("td", { class: "empty", colspan: 8 },
                    live ? "Waiting for the cameras…" : "No live cameras: this is a finished run."))]));
            document.getElementById("live-state").textContent = status.running
                ? "The run is going: streams and counts update every second."
                : (live ? "The run has ended." : "This is a finished run: nothing is live. Start a run with --web PORT to watch it here.");
            document.getElementById("status-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
        } catch (error) {
            showError(`Cannot read the live status: ${error.message}`);
        } finally {
            setTimeout(pollStatus, POLL_MS);
        }
    }

    const EVENT_NAMES = {
        track_started: "track started",
        track_ended: "track ended",
        identity_assigned: "identity assigned",
        identity_changed: "identity changed",
    };

    function eventText(event) {
        return EVENT_NAMES[event.kind] || String(event.kind || "event");
    }

    function eventItem(event) {
        const hasId = event.global_id !== null && event.global_id !== undefined;
        return el("li", { class: "event", dataset: { seq: event.seq, kind: event.kind } },
            el("span", { class: "when" }, formatTime(event.timestamp_s)),
            el("span", {},
                el("span", { class: "kind" }, eventText(event)), " ",
                el("span", { class: "chip camera" }, event.camera), ` track ${event.track_id}`,
                hasId ? (event.kind === "identity_assigned" || event.kind === "identity_changed" ? " → " : " · ") : "",
                hasId ? el("a", { class: "gid", href: `identity.html?id=${event.global_id}` }, `G${event.global_id}`) : "",
                event.previous_global_id !== null && event.previous_global_id !== undefined
                    ? el("span", { class: "muted" }, ` (was G${event.previous_global_id})`) : "",
                event.distance !== null && event.distance !== undefined
                    ? el("span", { class: "muted" }, ` d=${Number(event.distance).toFixed(3)}`) : ""),
        );
    }

    async function pollEvents() {
        try {
            const answer = await api(`/api/live/events?after=${lastSeq}`);
            const list = document.getElementById("events");
            if (answer.last_seq < lastSeq) { // the server started over
                lastSeq = 0;
                list.replaceChildren();
            }
            const fresh = answer.events.filter((event) => event.seq > lastSeq);
            if (fresh.length) {
                list.querySelectorAll("li.empty").forEach((node) => node.remove());
                const items = fresh.slice(-MAX_EVENTS_SHOWN).reverse().map(eventItem); // newest first
                list.prepend(...items);
                while (list.children.length > MAX_EVENTS_SHOWN) list.lastElementChild.remove();
            } else if (!list.children.length) {
                list.append(el("li", { class: "empty" }, "No events yet."));
            }
            lastSeq = Math.max(lastSeq, answer.last_seq || 0, ...fresh.map((event) => event.seq));
        } catch (error) {
            showError(`Cannot read the events: ${error.message}`);
        } finally {
            setTimeout(pollEvents, POLL_MS);
        }
    }

    document.addEventListener("DOMContentLoaded", async () => {
        const summary = await run();
        live = Boolean(summary && summary.live);
        const cameras = summary ? summary.cameras.map((camera) => camera.camera) : [];
        const container = document.getElementById("live-cameras");
        container.replaceChildren(...cameras.map(streamTile));
        pollStatus();
        pollEvents();
        if (live) setInterval(() => run(true), 5000); // the top bar's counts follow the run
    });
})();
