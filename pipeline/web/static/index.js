/* The identities page: a paginated, sortable table of the run's global identities. */
"use strict";

(() => {
    const { api, el, formatTime, formatDuration, identityLink, thumbnail, showError, clearError } = BPSEMA;
    const DEFAULT_PER_PAGE = 25;
    const SORTS = ["global_id", "first_time_s", "last_time_s", "num_tracks", "num_cameras"];

    const state = { page: 1, sort: "global_id", pages: 1, perPage: DEFAULT_PER_PAGE, request: 0 };

    function readLocation() {
        const query = new URLSearchParams(window.location.search);
        const page = parseInt(query.get("page") || "1", 10);
        const sort = query.get("sort") || "global_id";
        state.page = Number.isFinite(page) && page > 0 ? page : 1;
        state.sort = SORTS.includes(sort.replace(/^-/, "")) ? sort : "global_id";
        const perPage = parseInt(query.get("per_page") || String(DEFAULT_PER_PAGE), 10);
        state.perPage = Number.isFinite(perPage) && perPage >= 1 && perPage <= 500 ? perPage : DEFAULT_PER_PAGE;
    }

    function writeLocation() {
        const query = new URLSearchParams(window.location.search);
        query.set("page", state.page);
        query.set("sort", state.sort);
        query.delete("token");
        window.history.replaceState(null, "", `${window.location.pathname}?${query}`);
    }

    function row(identity) {
        return el("tr", { class: "identity", dataset: { globalId: identity.global_id, firstTime: identity.first_time_s } },
            el("td", {}, el("a", { href: `identity.html?id=${identity.global_id}` },
                thumbnail(identity.thumbnail_url, `G${identity.global_id}`))),
            el("td", {}, identityLink(identity.global_id)),
            el("td", {}, identity.cameras.map((camera) => el("span", { class: "chip camera" }, camera))),
            el("td", { class: "time" }, formatTime(identity.first_time_s)),
            el("td", { class: "time" }, formatTime(identity.last_time_s)),
            el("td", { class: "num" }, formatDuration(identity.first_time_s, identity.last_time_s)),
            el("td", { class: "num" }, identity.num_tracks),
        );
    }

    async function load() {
        const request = ++state.request;
        const body = document.querySelector("#identities tbody");
        const previous = document.getElementById("previous-page");
        const next = document.getElementById("next-page");
        const info = document.getElementById("page-info");
        previous.disabled = next.disabled = true;
        try {
            const answer = await api(`/api/identities?page=${state.page}&per_page=${state.perPage}&sort=${encodeURIComponent(state.sort)}`);
            if (request !== state.request) return; // a newer request is on its way
            clearError();
            state.pages = Math.max(1, Math.ceil(answer.total / state.perPage));
            if (state.page > state.pages && answer.total > 0) {
                state.page = state.pages;
                return load();
            }
            body.replaceChildren(...(answer.items.length ? answer.items.map(row)
                : [el("tr", {}, el("td", { class: "empty", colspan: 7 }, "This run has no identities yet."))]));
            info.textContent = `page ${state.page} of ${state.pages} · ${answer.total} ${answer.total === 1 ? "identity" : "identities"}`;
            previous.disabled = state.page <= 1;
            next.disabled = state.page >= state.pages;
            writeLocation();
        } catch (error) {
            if (request !== state.request) return;
            showError(`Cannot list the identities: ${error.message}`);
            info.textContent = "—";
        }
    }

    document.addEventListener("DOMContentLoaded", () => {
        readLocation();
        const sort = document.getElementById("sort");
        sort.value = state.sort;
        sort.addEventListener("change", () => {
            state.sort = sort.value;
            state.page = 1;
            load();
        });
        document.getElementById("previous-page").addEventListener("click", () => {
            if (state.page > 1) { state.page -= 1; load(); }
        });
        document.getElementById("next-page").addEventListener("click", () => {
            if (state.page < state.pages) { state.page += 1; load(); }
        });
        load();
    });
})();
