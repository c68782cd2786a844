/* Search by image: one photo of a person -> the run's identities ranked by visible-part distance. */
"use strict";

(() => {
    const { api, el, partChips, showError, clearError, renderResults, resultsHeader, run } = BPSEMA;
    let previewUrl = null;
    let searching = 0;

    function chosenFile() {
        const input = document.getElementById("search-image");
        return input.files && input.files.length ? input.files[0] : null;
    }

    function showPreview(file) {
        const image = document.getElementById("query-image");
        const hint = document.getElementById("drop-hint");
        if (previewUrl) URL.revokeObjectURL(previewUrl);
        previewUrl = null;
        document.getElementById("query-preview").hidden = true;
        hint.replaceChildren(el("div", { class: "big" }, "Drop a photo here"), el("div", {}, "or click to choose one (JPEG, PNG…)"));
        if (!file) {
            image.hidden = true;
            image.removeAttribute("src");
            hint.hidden = false;
            document.getElementById("search-button").disabled = true;
            return;
        }
        previewUrl = URL.createObjectURL(file);
        image.src = previewUrl;
        image.hidden = false;
        hint.hidden = true;
        document.getElementById("search-button").disabled = false;
    }

    async function search(event) {
        if (event) event.preventDefault();
        const file = chosenFile();
        if (!file) {
            showError("Choose or drop a photo first.");
            return;
        }
        const request = ++searching;
        const button = document.getElementById("search-button");
        const info = document.getElementById("results-info");
        const table = document.getElementById("results");
        clearError();
        button.disabled = true;
        info.textContent = "searching…";
        const form = new FormData();
        form.append("image", file, file.name || "query.png");
        form.append("top_k", document.getElementById("top-k").value);
        try {
            const answer = await api("/api/search", { method: "POST", body: form });
            if (request !== searching) return;
            const visible = (answer.query && answer.query.visible_parts) || [];
            const summary = await run();
            const parts = summary ? summary.parts : [];
            document.getElementById("query-parts").replaceChildren(
                visible.length ? partChips(visible, parts) : el("span", { class: "muted" }, "none"));
            document.getElementById("query-preview").hidden = false;
            if (!table.tHead) table.append(resultsHeader());
            renderResults(table, answer, { parts });
            const count = answer.results.length;
            info.textContent = `${count} ${count === 1 ? "identity" : "identities"}, closest first`;
        } catch (error) {
            if (request !== searching) return;
            showError(`Search failed: ${error.message}`);
            info.textContent = "no results";
            table.replaceChildren();
        } finally {
            if (request === searching) button.disabled = !chosenFile();
        }
    }

    document.addEventListener("DOMContentLoaded", () => {
        const input = document.getElementById("search-image");
        const zone = document.getElementById("drop-zone");
        const preview = document.getElementById("query-image");
        preview.addEventListener("error", () => {
            if (!preview.getAttribute("src")) return;
            preview.hidden = true;
            const hint = document.getElementById("drop-hint");
            hint.replaceChildren(el("div", { class: "big" }, "No preview"), el("div", {}, "the browser cannot show this file"));
            hint.hidden = false;
        });
        input.addEventListener("change", () => {
            clearError();
            showPreview(chosenFile());
        });
        zone.addEventListener("click", () => input.click());
        zone.addEventListener("keydown", (event) => {
            if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
        });
        for (const name of ["dragenter", "dragover"]) {
            zone.addEventListener(name, (event) => {
                event.preventDefault();
                zone.classList.add("dragging");
            });
        }
        for (const name of ["dragleave", "dragend"]) {
            zone.addEventListener(name, () => zone.classList.remove("dragging"));
        }
        zone.addEventListener("drop", (event) => {
            event.preventDefault();
            zone.classList.remove("dragging");
            const files = event.dataTransfer && event.dataTransfer.files;
            if (!files || !files.length) return;
            if (files[0].type && !files[0].type.startsWith("image/")) {
                showError(`"${files[0].name}" is not an image.`);
                return;
            }
            const transfer = new DataTransfer();
            transfer.items.add(files[0]);
            input.files = transfer.files;
            clearError();
            showPreview(files[0]);
            search();
        });
        // A drop outside the zone must not navigate away from the page.
        window.addEventListener("dragover", (event) => event.preventDefault());
        window.addEventListener("drop", (event) => event.preventDefault());
        document.getElementById("search-form").addEventListener("submit", search);
        showPreview(chosenFile());
        run().then((summary) => {
            if (summary && !summary.search_available) {
                const notice = document.getElementById("notice");
                notice.textContent = "Search is unavailable for this run: the server has no part-feature model " +
                    "(start it with --reid MODEL).";
                notice.hidden = false;
            }
        });
    });
})();
