/* One identity: its timeline across cameras, its tracks, frames of those tracks with clickable boxes. */
"use strict";

(() => {
    const { api, postJson, run, el, formatTime, formatSpan, formatDuration, thumbnail, showError, renderResults, resultsHeader } = BPSEMA;
    const SVG = "http://www.w3.org/2000/svg";

    function svg(tag, attributes = {}, text) {
        const node = document.createElementNS(SVG, tag);
        for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
        if (text !== undefined) node.textContent = text;
        return node;
    }

    function withQuery(url, name, value) {
        return `${url}${url.includes("?") ? "&" : "?"}${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
    }

    /** A tick step giving at most ~8 ticks over `span` seconds. */
    function tickStep(span) {
        const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
        return steps.find((step) => span / step <= 8) || 7200;
    }

    function drawTimeline(identity) {
        const container = document.getElementById("timeline");
        const cameras = identity.cameras.length ? identity.cameras : [...new Set(identity.tracks.map((t) => t.camera))];
        let start = Number(identity.first_time_s);
        let end = Number(identity.last_time_s);
        if (!(end > start)) { start -= 0.5; end += 0.5; }
        const width = Math.max(480, container.clientWidth || 900);
        const left = 70, right = 16, top = 8, lane = 30, gap = 8, axis = 26;
        const height = top + cameras.length * (lane + gap) + axis;
        const x = (t) => left + ((t - start) / (end - start)) * (width - left - right);
        const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });

        const axisGroup = svg("g", { class: "axis" });
        const step = tickStep(end - start);
        const baseline = top + cameras.length * (lane + gap);
        for (let t = Math.ceil(start / step - 1e-9) * step; t <= end + 1e-9; t += step) {
            const position = x(t);
            root.append(svg("line", { class: "gridline", x1: position, x2: position, y1: top, y2: baseline }));
            axisGroup.append(svg("line", { x1: position, x2: position, y1: baseline, y2: baseline + 5 }));
            axisGroup.append(svg("text", { x: position, y: baseline + 18, "text-anchor": "middle" }, formatTime(t)));
        }
        axisGroup.append(svg("line", { x1: left, x2: width - right, y1: baseline, y2: baseline }));

        cameras.forEach((camera, index) => {
            const y = top + index * (lane + gap);
            root.append(svg("rect", { class: "lane-bg", x: left, y, width: width - left - right, height: lane, rx: 3 }));
            root.append(svg("text", { class: "lane-label", x: left - 10, y: y + lane / 2 + 4, "text-anchor": "end" }, camera));
            for (const track of identity.tracks.filter((t) => t.camera === camera)) {
                const x1 = x(Number(track.first_time_s));
                const barWidth = Math.max(4, x(Number(track.last_time_s)) - x1);
                const bar = svg("rect", {
                    class: "bar", x: x1, y: y + 4, width: barWidth, height: lane - 8, rx: 3,
                    "data-camera": camera, "data-track-id": track.track_id,
                });
                bar.append(svg("title", {}, `${camera} track ${track.track_id}: ${formatSpan(track.first_time_s, track.last_time_s)}`));
                bar.addEventListener("click", () => {
                    const target = document.getElementById(`frames-${camera}-${track.track_id}`);
                    if (target) target.scrollIntoView({ behavior: "smooth", block: "start" });
                });
                root.append(bar);
                if (barWidth > 34) {
                    root.append(svg("text", { class: "bar-label", x: x1 + 6, y: y + lane / 2 + 4 }, `t${track.track_id}`));
                }
            }
        });
        root.append(axisGroup);
        container.replaceChildren(root);
    }

    function trackRow(track) {
        return el("tr", { class: "track", dataset: { camera: track.camera, trackId: track.track_id } },
            el("td", {}, thumbnail(track.thumbnail_url, `${track.camera} track ${track.track_id}`)),
            el("td", {}, el("span", { class: "chip camera" }, track.camera)),
            el("td", { class: "num" }, el("a", { href: `#frames-${track.camera}-${track.track_id}` }, track.track_id)),
            el("td", { class: "num" }, `${track.first_frame}–${track.last_frame}`),
            el("td", { class: "time" }, formatSpan(track.first_time_s, track.last_time_s)),
            el("td", { class: "num" }, formatDuration(track.first_time_s, track.last_time_s)),
        );
    }

    let searching = 0;
    async function searchBox(camera, frame, box, button) {
        const request = ++searching;
        document.querySelectorAll(".hitbox.selected").forEach((node) => node.classList.remove("selected"));
        button.classList.add("selected");
        const panel = document.getElementById("search-panel");
        const info = document.getElementById("search-info");
        const errorBox = document.getElementById("results-error");
        const table = document.getElementById("results");
        panel.hidden = false;
        errorBox.hidden = true;
        info.textContent = `searching for ${camera} frame ${frame}, track ${box.track_id}…`;
        panel.scrollIntoView({ behavior: "smooth", block: "start" });
        try {
            const answer = await postJson("/api/search/box", { camera, frame, track_id: box.track_id });
            if (request !== searching) return;
            const visible = (answer.query && answer.query.visible_parts) || [];
            const parts = visible.map(BPSEMA.shortPart).join(", ");
            info.textContent = `${camera} frame ${frame}, track ${box.track_id}` +
                (box.global_id !== null && box.global_id !== undefined ? ` (G${box.global_id})` : "") +
                (parts ? ` · visible: ${parts}` : "");
            if (!table.tHead) table.append(resultsHeader());
            const summary = await run();
            renderResults(table, answer, { highlight: box.global_id, parts: summary ? summary.parts : [] });
        } catch (error) {
            if (request !== searching) return;
            info.textContent = "";
            table.hidden = true;
            errorBox.textContent = `Search failed: ${error.message}`;
            errorBox.hidden = false;
        }
    }

    /** Clickable transparent boxes over a loaded frame (positions in % of the image: they follow its displayed size). */
    async function overlayBoxes(holder, image, camera, frame, globalId) {
        let answer;
        try {
            answer = await api(`/api/frames/${encodeURIComponent(camera)}/${frame}/boxes`);
        } catch (error) {
            holder.title = `boxes unavailable: ${error.message}`;
            return;
        }
        const width = answer.width || image.naturalWidth;
        const height = answer.height || image.naturalHeight;
        // The part of each box inside the frame, as drawn. Larger ones first, so that where two people
        // overlap the smaller box lies on top and either person can be clicked (a box fully inside
        // another stays reachable).
        const shown = answer.boxes.map((box) => {
            const [x1, y1, x2, y2] = box.box.map(Number);
            const [left, top] = [Math.max(0, x1), Math.max(0, y1)];
            const [right, bottom] = [Math.min(width, x2), Math.min(height, y2)];
            return { box, left, top, right, bottom, area: (right - left) * (bottom - top) };
        });
        shown.sort((first, second) => second.area - first.area);
        for (const { box, left, top, right, bottom } of shown) {
            const label = box.global_id !== null && box.global_id !== undefined ? `G${box.global_id}` : "unassociated";
            const button = el("button", {
                type: "button", class: "hitbox",
                title: `search for this person (${label}, ${camera} track ${box.track_id})`,
                "aria-label": `search for ${label}, track ${box.track_id}`,
                dataset: { trackId: box.track_id, globalId: box.global_id ?? "", camera, frame },
            });
            Object.assign(button.style, {
                left: `${(100 * left) / width}%`,
                top: `${(100 * top) / height}%`,
                width: `${(100 * (right - left)) / width}%`,
                height: `${(100 * (bottom - top)) / height}%`,
            });
            if (box.global_id === globalId) button.dataset.self = "true";
            button.addEventListener("click", () => searchBox(camera, frame, box, button));
            holder.append(button);
        }
        holder.dataset.boxes = String(answer.boxes.length);
    }

    function frameSection(track, globalId) {
        const row = el("div", { class: "frame-row" });
        for (const sample of track.frames) {
            const image = el("img", {
                class: "frame", src: withQuery(sample.url, "highlight", globalId),
                alt: `${track.camera} frame ${sample.frame}`, dataset: { camera: track.camera, frame: sample.frame },
            });
            const holder = el("div", { class: "frame-box" }, image);
            image.addEventListener("load", () => overlayBoxes(holder, image, track.camera, sample.frame, globalId), { once: true });
            image.addEventListener("error", () => {
                holder.classList.add("unavailable");
                holder.replaceChildren(`frame ${sample.frame} is unavailable`);
            }, { once: true });
            const figure = el("figure", { class: "frame-figure" }, holder,
                el("figcaption", {}, `frame ${sample.frame} · ${formatTime(sample.time_s)}`));
            row.append(figure);
        }
        return el("div", { class: "frames-track", id: `frames-${track.camera}-${track.track_id}` },
            el("h3", {}, el("span", { class: "chip camera" }, track.camera), ` track ${track.track_id} · `,
                formatSpan(track.first_time_s, track.last_time_s)),
            track.frames.length ? row : el("p", { class: "muted" }, "No recorded video for this camera."));
    }

    async function load() {
        const raw = new URLSearchParams(window.location.search).get("id");
        const globalId = Number.parseInt(raw, 10);
        if (raw === null || !Number.isFinite(globalId) || String(globalId) !== raw.trim()) {
            showError(raw === null ? "No identity given: open this page from the identities list (identity.html?id=G)."
                : `"${raw}" is not an identity number.`);
            return;
        }
        document.title = `G${globalId} · BPSEMA`;
        document.getElementById("identity-title").textContent = `Identity G${globalId}`;
        let identity;
        try {
            identity = await api(`/api/identities/${globalId}`);
        } catch (error) {
            showError(error.message);
            return;
        }
        const head = document.getElementById("identity-thumbnail");
        head.src = identity.thumbnail_url;
        head.alt = `G${globalId}`;
        head.hidden = false;
        head.addEventListener("error", () => { head.hidden = true; }, { once: true });
        document.getElementById("identity-facts").replaceChildren(
            el("span", {}, "Cameras ", identity.cameras.map((camera) => el("span", { class: "chip camera" }, camera))),
            el("span", {}, "Seen ", el("b", {}, formatSpan(identity.first_time_s, identity.last_time_s))),
            el("span", {}, "Duration ", el("b", {}, formatDuration(identity.first_time_s, identity.last_time_s))),
            el("span", {}, "Tracks ", el("b", {}, identity.num_tracks)),
        );
        const tracks = [...identity.tracks].sort((a, b) => a.first_time_s - b.first_time_s || a.camera.localeCompare(b.camera));
        identity.tracks = tracks;
        drawTimeline(identity);
        let resizeTimer = null;
        window.addEventListener("resize", () => {
            clearTimeout(resizeTimer);
            resizeTimer = setTimeout(() => drawTimeline(identity), 150);
        });
        document.getElementById("tracks-count").textContent = `${tracks.length} ${tracks.length === 1 ? "track" : "tracks"}`;
        document.querySelector("#tracks tbody").replaceChildren(...tracks.map(trackRow));
        document.getElementById("frames").replaceChildren(...tracks.map((track) => frameSection(track, globalId)));
    }

    document.addEventListener("DOMContentLoaded", load);
})();
