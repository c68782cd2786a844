/* Shared helpers of the operator's web app (docs/web.md): fetching the JSON API, formatting,
 * building elements, the run summary in the top bar, and the ranked search results table.
 * Plain browser JavaScript, no build step, no external resources. */
"use strict";

const BPSEMA = (() => {
    /** An error answered by the API: `detail` is the server's one sentence. */
    class ApiError extends Error {
        constructor(status, detail) {
            super(detail);
            this.status = status;
        }
    }

    /** fetch + JSON with the API's error convention (4xx/5xx {"detail": ...}). The token, when
     * the server needs one, travels in its cookie (credentials: same-origin). */
    async function api(path, options = {}) {
        let response;
        try {
            response = await fetch(path, { credentials: "same-origin", ...options });
        } catch (error) {
            throw new ApiError(0, `the server cannot be reached (${error.message})`);
        }
        const text = await response.text();
        let body = null;
        try {
            body = text ? JSON.parse(text) : null;
        } catch (_) {
            body = null;
        }
        if (!response.ok) {
            let detail = body && typeof body.detail === "string" ? body.detail : null;
            if (!detail && body && body.detail) detail = JSON.stringify(body.detail);
            throw new ApiError(response.status, detail || `${response.status} ${response.statusText}`.trim());
        }
        return body;
    }

    function postJson(path, payload) {
        return api(path, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(payload),
        });
    }

    /** Seconds as m:ss.s ("—" when unknown). */
    function formatTime(seconds) {
        if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "—";
        const tenths = Math.round(Number(seconds) * 10);
        const negative = tenths < 0;
        const absolute = Math.abs(tenths);
        const minutes = Math.floor(absolute / 600);
        const rest = (absolute % 600) / 10;
        const text = `${minutes}:${rest < 10 ? "0" : ""}${rest.toFixed(1)}`;
        return negative ? `-${text}` : text;
    }

    function formatSpan(first, last) {
        return `${formatTime(first)} – ${formatTime(last)}`;
    }

    function formatDuration(first, last) {
        if (first === null || first === undefined || last === null || last === undefined) return "—";
        return `${(Number(last) - Number(first)).toFixed(1)} s`;
    }

    /** el("a", {href: "x", class: "y"}, "text", otherNode) */
    function el(tag, attributes = {}, ...children) {
        const node = document.createElement(tag);
        for (const [name, value] of Object.entries(attributes || {})) {
            if (value === null || value === undefined || value === false) continue;
            if (name === "class") node.className = value;
            else if (name === "dataset") Object.assign(node.dataset, value);
            else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
            else if (value === true) node.setAttribute(name, "");
            else node.setAttribute(name, String(value));
        }
        for (const child of children.flat()) {
            if (child === null || child === undefined || child === false) continue;
            node.append(child instanceof Node ? child : document.createTextNode(String(child)));
        }
        return node;
    }

    function identityLink(globalId) {
        return el("a", { href: `identity.html?id=${encodeURIComponent(globalId)}`, class: "gid" }, `G${globalId}`);
    }

    function thumbnail(url, alt) {
        const image = el("img", { class: "thumb", src: url, alt: alt || "", loading: "lazy" });
        image.addEventListener("error", () => {
            image.classList.add("missing");
            image.removeAttribute("src");
            image.title = "no thumbnail";
        }, { once: true });
        return image;
    }

    function chips(names, className = "chip") {
        return (names || []).map((name) => el("span", { class: className }, name));
    }

    /** A body part's name, short enough for a chip ("left_arm" -> "L arm"). */
    function shortPart(name) {
        if (name === "foreground") return "fg";
        return String(name).replace(/^left_/, "L ").replace(/^right_/, "R ").replace(/_/g, " ")
            .replace(/ feet$/, " foot");
    }

    /** One chip per part: with `all` (the run's parts, in order) every part is shown, the ones in
     * `names` marked `on`, so that rows line up; without it only `names`. */
    function partChips(names, all) {
        const on = new Set(names || []);
        const shown = all && all.length ? all : [...on];
        return el("span", { class: "parts" }, shown.map((name) => el("span", {
            class: on.has(name) ? "chip part on" : "chip part off",
            title: `${name}${on.has(name) ? "" : " (not compared)"}`,
            dataset: { part: name },
        }, shortPart(name))));
    }

    function showError(message) {
        const box = document.getElementById("error");
        if (!box) return;
        box.textContent = message;
        box.hidden = false;
    }

    function clearError() {
        const box = document.getElementById("error");
        if (!box) return;
        box.textContent = "";
        box.hidden = true;
    }

    /** The run summary in the top bar; resolves to /api/run (null when it failed). */
    let runPromise = null;
    function run(refresh = false) {
        if (refresh && runPromise) {
            // Keep the last answer while the next one is on its way (a live run's counts grow).
            const previous = runPromise;
            runPromise = null;
            return run().then((summary) => summary || previous);
        }
        if (!runPromise) {
            runPromise = api("/api/run").then((summary) => {
                const info = document.getElementById("run-info");
                if (info && summary) {
                    info.replaceChildren(
                        el("b", {}, summary.results), ` · ${summary.cameras.length} cameras · `,
                        `${summary.identities} identities · ${summary.tracklets} tracks`,
                        summary.live ? " · live" : (summary.finalized ? "" : " · not finalized"),
                    );
                    info.title = summary.model ? `model: ${summary.model}` : "";
                }
                return summary;
            }).catch((error) => {
                showError(`Cannot read the run: ${error.message}`);
                return null;
            });
        }
        return runPromise;
    }

    /** The ranked answer of /api/search or /api/search/box into `table` (a table#results). */
    function renderResults(table, answer, options = {}) {
        const body = table.tBodies[0] || table.appendChild(el("tbody"));
        const rows = (answer.results || []).map((result, index) => el("tr",
            {
                class: "result" + (options.highlight !== undefined && result.global_id === options.highlight ? " query-match" : ""),
                dataset: { globalId: result.global_id, distance: result.distance },
            },
            el("td", { class: "rank num" }, index + 1),
            el("td", {}, thumbnail(result.thumbnail_url, `G${result.global_id}`)),
            el("td", {}, identityLink(result.global_id)),
            el("td", {}, el("span", { class: "chip camera" }, result.camera)),
            el("td", { class: "num" }, result.track_id),
            el("td", { class: "time" }, formatSpan(result.first_time_s, result.last_time_s)),
            el("td", { class: "num distance" }, Number(result.distance).toFixed(3)),
            el("td", {}, partChips(result.compared_parts, options.parts)),
        ));
        if (!rows.length) {
            rows.push(el("tr", {}, el("td", { class: "empty", colspan: 8 }, "No identity to compare with.")));
        }
        body.replaceChildren(...rows);
        table.hidden = false;
    }

    /** The header row of a results table (same columns everywhere). */
    function resultsHeader() {
        return el("thead", {}, el("tr", {},
            el("th", { class: "num" }, "#"), el("th", {}, ""), el("th", {}, "Identity"), el("th", {}, "Camera"),
            el("th", { class: "num" }, "Track"), el("th", {}, "Time"), el("th", { class: "num" }, "Distance"),
            el("th", {}, "Parts compared"),
        ));
    }

    document.addEventListener("DOMContentLoaded", () => { run(); });

    return {
        ApiError, api, postJson, formatTime, formatSpan, formatDuration, el, identityLink, thumbnail, chips, partChips, shortPart,
        showError, clearError, run, renderResults, resultsHeader,
    };
})();
