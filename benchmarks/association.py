"""Association cost at scale, side by side in one run: online step time against the number of known
identities, the refine pass over many tracklets (time, memory, clustering quality), and the memory
of a simulated 2-hour live feed.

    python benchmarks/association.py                       # all three parts, default sizes
    python benchmarks/association.py --quick               # small sizes (a smoke run, about a minute)
    python benchmarks/association.py --parts step refine   # some parts only
    python benchmarks/association.py --identities 1000 10000 --tracklets 10000 --live-hours 0.5

Everything is synthetic features (no rendering, no models), K=8 parts and D=256 as the shipped
model. Persons are prototype unit vectors, one per embedding; an observation is a prototype plus
Gaussian noise, re-normalised; the foreground is always visible, each part with probability 0.75.

1. ``step``: ``CrossCameraAssociation.step`` with 100 ... 100k known identities. 100k identities
   cannot be met through ``observe``/``step`` in reasonable time (every new identity costs a
   distance row against the table), so ``fill_identities`` writes them straight into
   ``association.identities`` / ``association.table`` as the online path would leave them
   (``Identity(global_id, memory, active_members=set(), recent_spans=[], last_seen_s)``, a part
   memory of 5-40 observations, last seen within the retention). Then a realistic load goes
   through the public API: 8 cameras x 5 tracks observed per step at 10 fps, 1-4 tracks replaced
   per step (so 1-4 tracks become ready per step), 80 % of new tracks are known identities.
   Reported: median / p95 ms per ``step()`` (target: median <= 5 ms at 10k), and where the time
   goes (each phase timed by wrapping the association's methods; ``_allowed`` also counted).
2. ``refine``: ``refine_clusters`` (called as ``CrossCameraAssociation.refine`` calls it) over
   1k / 10k / 50k tracklets: persons x 2-8 tracklets in 8 cameras, one person's tracklets
   non-overlapping in time. Each size runs in a fresh process, twice: once untraced (seconds, and
   the peak RSS increase during the call: the kernel's peak mark VmHWM reset just before it; where
   it cannot be reset, ``getrusage``'s high-water mark when the call raised it, else a 5 ms
   sampler), once under ``tracemalloc`` (peak of Python-visible allocations, numpy included;
   torch's own buffers are outside it). Quality against the synthetic truth:
   pairwise precision / recall and the adjusted Rand index. Targets: 50k in <= 60 s and <= 4 GB.
3. ``live``: a live association (``refine=False``, default retention) fed a simulated 8-camera
   feed: people arrive as a Poisson process, walk through 1-3 cameras with gaps, each visit
   observed at ``--live-fps`` (default 2 fps instead of a camera's 10, to keep the run to a few
   minutes on 2 cores; the association's state depends on tracks and identities, not on the
   observation rate). Every 10 simulated minutes: ``state_size()``, the bytes the association's
   own structures hold, ``tracemalloc`` current size and RSS. Target: memory at 2 h within 10 %
   of memory at 10 min.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

NUM_PARTS, DIM = 8, 256
EMBEDDINGS = 1 + NUM_PARTS
PART_VISIBLE = 0.75
SYNTHETIC_THRESHOLDS = (0.922, 0.919, 0.855, 0.866, 0.817, 0.832, 0.817, 0.841, 0.846)  # see synthetic_rule


# --- shared helpers ----------------------------------------------------------------------------
def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def prototypes(rng: np.random.Generator, count: int) -> np.ndarray:
    """float32 [count, 1+K, D]: one unit vector per embedding and person."""
    return unit(rng.standard_normal((count, EMBEDDINGS, DIM), dtype=np.float32))


def noisy(rng: np.random.Generator, prototype: np.ndarray, noise: float) -> np.ndarray:
    """float32 [..., 1+K, D]: the prototype(s) plus noise of norm about ``noise``, re-normalised."""
    scale = np.float32(noise / np.sqrt(DIM))
    return unit(prototype + scale * rng.standard_normal(prototype.shape, dtype=np.float32)).astype(np.float32)


def random_visibility(rng: np.random.Generator, count: int) -> np.ndarray:
    visibility = rng.random((count, EMBEDDINGS)) < PART_VISIBLE
    visibility[:, 0] = True
    return visibility


def rss_bytes() -> int:
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def max_rss_bytes() -> int:
    """The process's peak RSS: getrusage's ru_maxrss (Linux: KiB). Note: a child process started by
    fork + exec inherits its parent's high-water mark here; ``reset_peak_rss`` avoids that."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux /proc/self/clear_refs, value 5);
    False where it cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return peak_rss_since_reset() is not None
    except OSError:
        return False


def peak_rss_since_reset() -> int | None:
    """VmHWM of /proc/self/status in bytes (the peak RSS since the last reset), None off Linux."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def megabytes(value: float) -> str:
    return f"{value / 2**20:,.1f}"


def synthetic_rule():
    """A fixed match rule for the synthetic features: the shipped model's tracklet thresholds by
    shared count as calibrated at commit 5762daf. Fixed here, not read from the model's calibration
    file, so that the figures stay comparable when the model is recalibrated (the synthetic
    features' distances do not follow the model's)."""
    from pipeline.match_rule import MatchRule

    return MatchRule(SYNTHETIC_THRESHOLDS)


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(header[column]), *(len(row[column]) for row in rows)) for column in range(len(header))]
    print(f"\n{title}")
    print(" | ".join(name.rjust(width) for name, width in zip(header, widths)))
    print("-+-".join("-" * width for width in widths))
    for row in rows:
        print(" | ".join(value.rjust(width) for value, width in zip(row, widths)))


# --- 1. online step time -----------------------------------------------------------------------
def fill_identities(association, count: int, rng: np.random.Generator, now_s: float) -> None:
    """Write ``count`` known identities into the matching set as the online path leaves them.

    Each identity: a part memory of 5-40 observations of its prototype (parts visible in a random
    subset of them), no active members, no recent spans, last seen within the last 90 % of the
    retention (so none is archived while the steps are timed).
    """
    from pipeline.association import Identity
    from pipeline.tracklets import PartMemory

    retention = association.settings.identity_retention_s
    for start in range(0, count, 4096):
        block = prototypes(rng, min(4096, count - start))
        observations = rng.integers(5, 41, len(block))
        for offset in range(len(block)):
            index = start + offset
            seen = rng.binomial(observations[offset], PART_VISIBLE, EMBEDDINGS)
            seen[0] = observations[offset]
            mean = noisy(rng, block[offset], 0.3).astype(np.float64)
            memory = PartMemory(mean * seen[:, None], seen.astype(np.int64))
            global_id = index + 1
            association.identities[global_id] = Identity(
                global_id, memory, set(), [], now_s - float(rng.uniform(0.0, 0.9 * retention))
            )
            association.table.mark(global_id)
    association._next_global_id = count + 1
    association.table.refresh(association.identities)


class PhaseTimer:
    """Wraps methods of one association (instance attributes) to add up their time and calls."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, owner, attribute: str, name: str) -> None:
        original = getattr(owner, attribute, None)
        if original is None:  # a phase this version of the association does not have
            return

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                self.calls[name] = self.calls.get(name, 0) + 1

        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()


PHASES = (  # (name, owner, attribute)
    ("enforce_constraints", "association", "_enforce_constraints"),
    ("housekeeping", "association", "_housekeeping"),
    ("assign", "association", "_assign"),
    ("table.refresh", "table", "refresh"),
    ("table.nearest_by_foreground", "table", "nearest_by_foreground"),
    ("feature_distances", "association", "feature_distances"),
    ("_allowed", "association", "_allowed"),
    ("linear_sum_assignment", "module", "linear_sum_assignment"),
    ("group_new_tracks", "association", "_group_new_tracks"),
)


@dataclass
class StepResult:
    identities: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    observe_ms: float
    ready_per_step: float
    phases_ms: dict[str, float]
    allowed_calls_per_step: float
    table_rows_after: int


def step_benchmark(count: int, steps: int, warmup: int, seed: int = 0, phases: bool = False) -> StepResult:
    """Time ``step()`` with ``count`` known identities under the 8 cameras x 5 tracks load."""
    import pipeline.association as association_module
    from pipeline.association import AssociationSettings, CrossCameraAssociation
    from pipeline.records import TrackKey

    rng = np.random.default_rng(seed)
    rule = synthetic_rule()
    association = CrossCameraAssociation(
        AssociationSettings(thresholds_by_shared=rule.thresholds_by_shared, refine=False),
        num_parts=NUM_PARTS, embedding_dim=DIM,
    )
    fps, cameras, per_camera = 10.0, 8, 5
    now = 10_000.0
    fill_identities(association, count, rng, now)
    next_track = 1

    def new_track(camera: int) -> dict:
        """80 %: a known identity (its memory's mean is the look), else a newcomer (a new prototype)."""
        nonlocal next_track
        if rng.random() < 0.8:
            global_id = association.table.ids[int(rng.integers(len(association.table)))]
            look = association.identities[global_id].memory.mean_embeddings()
        else:
            look = prototypes(rng, 1)[0]
        next_track += 1
        return {"key": TrackKey(f"cam{camera}", next_track), "look": look}

    slots = [[new_track(camera) for _ in range(per_camera)] for camera in range(cameras)]
    timer = PhaseTimer()
    original_lsa = association_module.linear_sum_assignment
    if phases:
        for name, owner, attribute in PHASES:
            target = {"association": association, "table": association.table, "module": association_module}[owner]
            timer.wrap(target, attribute, name)
    step_seconds, observe_seconds, ready_counts = [], [], []
    try:
        for step in range(warmup + steps):
            if step == warmup:
                timer.reset()
            timestamp = now + step / fps
            for _ in range(int(rng.integers(1, 5))):  # 1-4 tracks replaced per step over the cameras
                camera = int(rng.integers(cameras))
                slots[camera][int(rng.integers(per_camera))] = new_track(camera)
            tracks = [track for camera_slots in slots for track in camera_slots]
            embeddings = noisy(rng, np.stack([track["look"] for track in tracks]), 0.6)
            visibility = random_visibility(rng, len(tracks))
            started = time.perf_counter()
            for row, track in enumerate(tracks):
                association.observe(track["key"], timestamp, int(timestamp * fps), embeddings[row], visibility[row])
            observed = time.perf_counter()
            ready = sum(
                association.active[key].observations >= association.settings.min_observations
                for key in association.pending
            )
            association.step(timestamp)
            finished = time.perf_counter()
            if step >= warmup:
                observe_seconds.append(observed - started)
                step_seconds.append(finished - observed)
                ready_counts.append(ready)
    finally:
        association_module.linear_sum_assignment = original_lsa
    milliseconds = 1000 * np.array(step_seconds)
    return StepResult(
        count,
        float(np.median(milliseconds)),
        float(np.percentile(milliseconds, 95)),
        float(milliseconds.mean()),
        1000 * float(np.mean(observe_seconds)),
        float(np.mean(ready_counts)),
        {name: 1000 * seconds / steps for name, seconds in timer.seconds.items()},
        timer.calls.get("_allowed", 0) / steps,
        len(association.table),
    )


class torch_threads:
    """Context: torch's intra-op thread count (None: leave it)."""

    def __init__(self, threads: int | None):
        self.threads = threads

    def __enter__(self):
        import torch

        self.previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.previous)


def run_step_part(counts: list[int], steps: int, large_steps: int, warmup: int) -> list[StepResult]:
    import torch

    default_threads = torch.get_num_threads()
    print(f"\n== 1. online step time (K={NUM_PARTS}, D={DIM}; 8 cameras x 5 tracks observed per step at 10 fps, "
          f"1-4 tracks replaced per step, 80 % of them known identities; {steps} timed steps after {warmup} "
          f"warm-up, {large_steps} above 10k identities) ==")
    plain, single, profiled = [], [], []
    for count in counts:
        timed = steps if count <= 10_000 else large_steps
        plain.append(step_benchmark(count, timed, warmup))
        gc.collect()
        with torch_threads(1):
            single.append(step_benchmark(count, timed, warmup))
            gc.collect()
            profiled.append(step_benchmark(count, timed, warmup, phases=True))
            gc.collect()
    table(
        f"step() ms per step, torch's default {default_threads} intra-op threads vs 1 thread "
        "(target: median <= 5 ms at 10k identities)",
        ["identities", f"median ({default_threads} thr)", f"p95 ({default_threads} thr)", "median (1 thr)",
         "p95 (1 thr)", "ready/step", "observe() ms/step (40 boxes)"],
        [[f"{a.identities:,}", f"{a.median_ms:.2f}", f"{a.p95_ms:.2f}", f"{b.median_ms:.2f}", f"{b.p95_ms:.2f}",
          f"{a.ready_per_step:.1f}", f"{a.observe_ms:.2f}"] for a, b in zip(plain, single)],
    )
    names = [name for name, _, _ in PHASES]
    inside = (
        "table.refresh", "table.nearest_by_foreground", "feature_distances", "_allowed", "linear_sum_assignment",
        "group_new_tracks",
    )
    rows = []
    for r in profiled:
        rest = r.phases_ms.get("assign", 0.0) - sum(r.phases_ms.get(name, 0.0) for name in inside)
        rows.append(
            [f"{r.identities:,}", f"{r.mean_ms:.2f}"]
            + [f"{r.phases_ms.get(name, 0.0):.2f}" for name in names]
            + [f"{rest:.2f}", f"{r.allowed_calls_per_step:,.0f}"]
        )
    table(
        "where step() time goes, 1 torch thread: mean ms per step by phase (an instrumented run; refresh, "
        "nearest_by_foreground, feature_distances, _allowed, linear_sum_assignment and group_new_tracks are "
        "inside assign; 'assign rest' = assign minus them: the loop around _allowed, per-row sorts, masks)",
        ["identities", "step"] + names + ["assign rest", "_allowed calls/step"],
        rows,
    )
    return plain + single


# --- 2. refine ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Span:
    """What ``refine_clusters`` reads of a tracklet."""

    key: object
    first_timestamp_s: float
    last_timestamp_s: float


def synthetic_tracklets(count: int, seed: int = 0, cameras: int = 8):
    """``count`` tracklets of persons with 2-8 tracklets each, in ``cameras`` cameras.

    Looks: 15 % of persons are look-alikes of another person (their prototype is the other's plus
    noise of norm 1.0). A tracklet's mean embedding per part is its person's prototype plus noise of
    norm 0.3-0.9 (re-normalised), with 5-60 observations; each part is hidden for the whole tracklet
    with probability 0.2, else seen in a binomial share (p = 0.75) of the observations; the
    foreground is always seen. Time: a person appears at a uniform time in the run (as long as
    ``persons`` x 2 s), each tracklet lasts 3-30 s, then a gap of 1-60 s before the next one in a
    random camera (the same camera again is allowed: a re-entry); one person's tracklets never
    overlap in time, different persons' overlap freely.

    Returns (spans, PartFeatures, counts int64 [N, E], labels int [N]).
    """
    import torch

    from pipeline.records import TrackKey
    from reid.features import PartFeatures

    rng = np.random.default_rng(seed)
    sizes = []
    while sum(sizes) < count:
        sizes.append(int(rng.integers(2, 9)))
    sizes[-1] -= sum(sizes) - count
    if sizes[-1] == 0:
        sizes.pop()
    persons = len(sizes)
    looks = prototypes(rng, persons)
    alike = np.flatnonzero(rng.random(persons) < 0.15)
    looks[alike] = noisy(rng, looks[rng.integers(persons, size=len(alike))], 1.0)
    labels = np.repeat(np.arange(persons), sizes)
    embeddings = np.empty((count, EMBEDDINGS, DIM), dtype=np.float32)
    for start in range(0, count, 4096):  # in blocks: keeps the generation's peak memory low
        block = slice(start, min(count, start + 4096))
        size = block.stop - block.start
        noise = rng.uniform(0.3, 0.9, size).astype(np.float32)[:, None, None] / np.sqrt(DIM)
        embeddings[block] = unit(
            looks[labels[block]] + noise * rng.standard_normal((size, EMBEDDINGS, DIM), dtype=np.float32)
        )
    observations = rng.integers(5, 61, count)
    counts = rng.binomial(observations[:, None], PART_VISIBLE, (count, EMBEDDINGS)).astype(np.int64)
    counts[rng.random((count, EMBEDDINGS)) < 0.2] = 0
    counts[:, 0] = observations
    embeddings[counts == 0] = 0.0
    visibility = counts >= 1
    spans, next_track = [], [0] * cameras
    for person, size in enumerate(sizes):
        clock = float(rng.uniform(0.0, 2.0 * persons))
        for _ in range(size):
            camera = int(rng.integers(cameras))
            next_track[camera] += 1
            duration = float(rng.uniform(3.0, 30.0))
            spans.append(Span(TrackKey(f"cam{camera}", next_track[camera]), clock, clock + duration))
            clock += duration + float(rng.uniform(1.0, 60.0))
    features = PartFeatures(torch.from_numpy(embeddings), torch.from_numpy(visibility))
    return spans, features, counts, labels


def pair_scores(labels: np.ndarray, clusters: list[list[int]]) -> dict[str, float]:
    """Pairwise precision / recall / F1 of same-cluster pairs against the truth, adjusted Rand index,
    and the share of persons recovered exactly (one cluster holding all their tracklets and nothing else)."""
    predicted = np.empty(len(labels), dtype=np.int64)
    for index, members in enumerate(clusters):
        predicted[members] = index
    pairs = lambda values: float((values * (values - 1) // 2).sum())  # noqa: E731
    joint = np.unique(labels.astype(np.int64) * (len(clusters) + 1) + predicted, return_counts=True)[1]
    together = pairs(joint)
    predicted_pairs = pairs(np.bincount(predicted))
    true_pairs = pairs(np.bincount(labels))
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    exact = exactly_recovered(labels, predicted)
    scores = {
        "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "exact": exact / len(np.unique(labels)),
    }
    try:
        from sklearn.metrics import adjusted_rand_score

        scores["ari"] = float(adjusted_rand_score(labels, predicted))
    except ImportError:
        scores["ari"] = float("nan")
    return scores


def exactly_recovered(labels: np.ndarray, predicted: np.ndarray) -> int:
    """How many persons' tracklets form exactly one cluster (all of them, nothing else)."""
    person_size = np.bincount(labels)
    cluster_size = np.bincount(predicted)
    joint, joint_counts = np.unique(labels.astype(np.int64) * (predicted.max() + 1) + predicted, return_counts=True)
    person, cluster = joint // (predicted.max() + 1), joint % (predicted.max() + 1)
    return int(np.count_nonzero((joint_counts == person_size[person]) & (joint_counts == cluster_size[cluster])))


class RssSampler:
    """Peak RSS seen by a thread sampling every ``interval_s`` (the fallback where the kernel's
    peak mark cannot be reset and an earlier peak is higher than the call's)."""

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def refine_once(spans, features, counts, neighbours: int, trace: bool) -> dict:
    from pipeline.association_constraints import AssociationConstraints, ConstraintSettings
    from pipeline.refinement import refine_clusters

    rule = synthetic_rule()
    constraints = AssociationConstraints(ConstraintSettings())
    gc.collect()
    before_rss, before_max = rss_bytes(), max_rss_bytes()
    resettable = reset_peak_rss()
    if trace:
        tracemalloc.start()
    with RssSampler() as sampler:
        started = time.perf_counter()
        clusters = refine_clusters(
            spans, features, counts, rule, constraints, must_link=[], neighbours=neighbours, min_part_observations=1
        )
        seconds = time.perf_counter() - started
    result = {"seconds": seconds, "clusters": clusters}
    if trace:
        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    after_max = max_rss_bytes()
    if resettable:
        result["rss_peak_increase"], result["rss_source"] = peak_rss_since_reset() - before_rss, "VmHWM"
    elif after_max > before_max:
        result["rss_peak_increase"], result["rss_source"] = after_max - before_rss, "getrusage"
    else:
        result["rss_peak_increase"], result["rss_source"] = sampler.peak - before_rss, "sampled"
    return result


def refine_child(count: int, neighbours: int, seed: int, queue) -> None:
    """One size in a fresh process: untraced (time, RSS), then under tracemalloc; quality."""
    started = time.perf_counter()
    spans, features, counts, labels = synthetic_tracklets(count, seed)
    generated = time.perf_counter() - started
    plain = refine_once(spans, features, counts, neighbours, trace=False)
    traced = refine_once(spans, features, counts, neighbours, trace=True)
    same = sorted(map(sorted, plain["clusters"])) == sorted(map(sorted, traced["clusters"]))
    scores = pair_scores(labels, plain["clusters"])
    queue.put({
        "tracklets": count, "persons": int(labels.max()) + 1, "clusters": len(plain["clusters"]),
        "seconds": plain["seconds"], "traced_seconds": traced["seconds"], "generation_s": generated,
        "rss_peak_increase": plain["rss_peak_increase"], "rss_source": plain["rss_source"],
        "tracemalloc_peak": traced["tracemalloc_peak"], "repeatable": same, **scores,
    })


def in_fresh_process(target, *args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def run_refine_part(counts: list[int], neighbours: int, seed: int) -> list[dict]:
    import torch

    print(f"\n== 2. refine_clusters over synthetic tracklets (persons x 2-8 tracklets, 8 cameras, K={NUM_PARTS}, "
          f"D={DIM}, neighbours={neighbours}, the fixed synthetic_rule; each size in a fresh process; "
          f"torch intra-op threads {torch.get_num_threads()}) ==")
    results = [in_fresh_process(refine_child, count, neighbours, seed) for count in counts]
    table(
        "refine: time, memory and quality (targets: 50k tracklets <= 60 s and <= 4 GB peak). RSS: peak "
        "increase of the process's resident set during the call over its RSS before it (VmHWM, the kernel's "
        "peak mark reset just before the call; else getrusage's high-water mark when the call raised it, else "
        "a 5 ms sampler); tracemalloc: peak of Python-visible allocations during a second, "
        "traced call (numpy arrays included; torch's own buffers are not)",
        ["tracklets", "persons", "clusters", "seconds", "RSS peak +MB", "tracemalloc peak MB", "pair precision",
         "pair recall", "ARI", "persons exact", "same twice"],
        [[f"{r['tracklets']:,}", f"{r['persons']:,}", f"{r['clusters']:,}", f"{r['seconds']:.2f}",
          f"{megabytes(r['rss_peak_increase'])} ({r['rss_source']})", megabytes(r["tracemalloc_peak"]),
          f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['ari']:.4f}", f"{100 * r['exact']:.1f} %",
          "yes" if r["repeatable"] else "NO"] for r in results],
    )
    return results


# --- 3. live memory ----------------------------------------------------------------------------
@dataclass
class Visit:
    camera: int
    track_id: int
    person: int
    start_s: float
    end_s: float


def live_schedule(hours: float, arrival_rate: float, cameras: int, seed: int) -> list[Visit]:
    """People arrive as a Poisson process (``arrival_rate`` per second); each walks through 1-3
    cameras (never the same one twice in a row), 8-40 s in each, with 5-60 s unseen between."""
    rng = np.random.default_rng(seed)
    duration = hours * 3600.0
    visits, next_track, person, clock = [], [0] * cameras, 0, 0.0
    while True:
        clock += float(rng.exponential(1.0 / arrival_rate))
        if clock >= duration:
            break
        time_s, camera = clock, -1
        for _ in range(int(rng.integers(1, 4))):
            camera = int(rng.choice([c for c in range(cameras) if c != camera]))
            next_track[camera] += 1
            length = float(rng.uniform(8.0, 40.0))
            visits.append(Visit(camera, next_track[camera], person, time_s, min(time_s + length, duration)))
            time_s += length + float(rng.uniform(5.0, 60.0))
            if time_s >= duration:
                break
        person += 1
    return sorted(visits, key=lambda visit: visit.start_s)


def association_bytes(association) -> dict[str, int]:
    """Bytes the association's own structures hold (numpy buffers + container sizes), by structure."""
    def memory_bytes(memory) -> int:
        return memory.sums.nbytes + memory.counts.nbytes

    identities = association.identities.values()
    sizes = {
        "table": association.table.embeddings.nbytes + association.table.visibility.nbytes
        + sys.getsizeof(association.table.ids) + sys.getsizeof(association.table.rows),
        "identities": sys.getsizeof(association.identities)
        + sum(memory_bytes(identity.memory) + sys.getsizeof(identity.recent_spans)
              + sys.getsizeof(identity.active_members) for identity in identities),
        "active": sys.getsizeof(association.active)
        + sum(memory_bytes(tracklet.memory) for tracklet in association.active.values()),
        "history": sys.getsizeof(association.history)
        + sum(memory_bytes(tracklet.memory) for tracklet in association.history.values()),
        "assignments+pending": sys.getsizeof(association.assignments) + sys.getsizeof(association.pending),
        "ended_snapshots": sum(
            snapshot.embeddings.nbytes + snapshot.counts.nbytes for snapshot in association._ended_snapshots
        ),
    }
    sizes["total"] = sum(sizes.values())
    return sizes


NOT_THE_ASSOCIATION = [  # tracemalloc filters: the simulation's own records, imports, tracemalloc's own
    tracemalloc.Filter(False, __file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
    tracemalloc.Filter(False, tracemalloc.__file__),
]


def live_child(hours: float, fps: float, arrival_rate: float, seed: int, queue) -> None:
    """The simulated feed in a fresh process (1 torch thread), traced from the start."""
    import torch

    torch.set_num_threads(1)
    from pipeline.association import AssociationSettings, CrossCameraAssociation
    from pipeline.records import TrackKey

    cameras = 8
    visits = live_schedule(hours, arrival_rate, cameras, seed)
    rng = np.random.default_rng(seed + 1)
    looks = prototypes(rng, 1 + max((visit.person for visit in visits), default=-1))
    association = CrossCameraAssociation(
        AssociationSettings(thresholds_by_shared=SYNTHETIC_THRESHOLDS, refine=False),
        num_parts=NUM_PARTS, embedding_dim=DIM,
    )
    gc.collect()
    tracemalloc.start()
    dt = 1.0 / fps
    steps = int(round(hours * 3600.0 * fps))
    checkpoint_every = int(round(600.0 * fps))
    rows, snapshots, active, upcoming = [], {}, [], 0
    observations = drained = 0
    started = time.perf_counter()
    step_seconds = []
    for step in range(1, steps + 1):
        now = step * dt
        while upcoming < len(visits) and visits[upcoming].start_s <= now:
            active.append(visits[upcoming])
            upcoming += 1
        active = [visit for visit in active if visit.end_s >= now]
        seen = [visit for visit in active if rng.random() > 0.1]  # 10 % of boxes missed
        if seen:
            embeddings = noisy(rng, looks[[visit.person for visit in seen]], 0.6)
            visibility = random_visibility(rng, len(seen))
            for row, visit in enumerate(seen):
                association.observe(
                    TrackKey(f"cam{visit.camera}", visit.track_id), now, step, embeddings[row], visibility[row]
                )
            observations += len(seen)
        before = time.perf_counter()
        association.step(now)
        step_seconds.append(time.perf_counter() - before)
        drained += len(association.drain_ended_snapshots())  # as the association stage does every step
        if step % checkpoint_every == 0:
            gc.collect()
            current = tracemalloc.get_traced_memory()[0]
            snapshot = tracemalloc.take_snapshot().filter_traces(NOT_THE_ASSOCIATION)
            rows.append({
                "not_benchmark": sum(stat.size for stat in snapshot.statistics("filename")),
                "table_capacity": len(association.table.embeddings),
                "minute": now / 60.0, "state": association.state_size(), "bytes": association_bytes(association),
                "tracemalloc": current, "rss": rss_bytes(), "archived": association.archived_identities,
                "next_global_id": association._next_global_id, "observations": observations,
                "wall_s": time.perf_counter() - started,
            })
            if len(rows) == 1:
                snapshots["first"] = snapshot
            snapshots["last"] = snapshot
    gc.collect()
    growth = []
    if "first" in snapshots:
        for stat in snapshots["last"].compare_to(snapshots["first"], "lineno")[:6]:
            frame = stat.traceback[0]
            try:
                where = Path(frame.filename).resolve().relative_to(REPOSITORY)
            except ValueError:
                where = Path(frame.filename).name
            growth.append((f"{where}:{frame.lineno}", stat.size_diff, stat.count_diff))
    tracemalloc.stop()
    milliseconds = 1000 * np.array(step_seconds)
    queue.put({
        "rows": rows, "growth": growth, "persons": len(looks), "visits": len(visits), "drained": drained,
        "step_median_ms": float(np.median(milliseconds)), "step_p95_ms": float(np.percentile(milliseconds, 95)),
        "wall_s": time.perf_counter() - started,
    })


def run_live_part(hours: float, fps: float, arrival_rate: float, seed: int) -> dict:
    print(f"\n== 3. live memory: a simulated 8-camera feed of {hours:g} h (refine=False, default retention "
          f"600 s, constraint horizon 120 s); {arrival_rate:g} arrivals/s, 1-3 cameras each, 8-40 s per visit; "
          f"observed at {fps:g} fps (a camera's 10 fps would only multiply observe() calls: the state "
          f"depends on tracks and identities); a fresh process, 1 torch thread, tracemalloc on ==")
    result = in_fresh_process(live_child, hours, fps, arrival_rate, seed)
    rows = result["rows"]
    table(
        f"association state every 10 simulated minutes ({result['persons']:,} persons, {result['visits']:,} "
        f"tracks; step() median {result['step_median_ms']:.2f} ms, p95 {result['step_p95_ms']:.2f} ms; "
        f"{result['wall_s']:.0f} s wall). 'structures' = numpy buffers + container sizes the association "
        "holds; tracemalloc = Python-visible allocations (numpy included) of the whole process, and without "
        "this benchmark file's own (schedule, records), module imports and tracemalloc's own bookkeeping",
        ["minute", "active", "identities", "table rows", "table capacity", "recent spans", "archived",
         "structures MB", "table MB", "identities MB", "tracemalloc MB", "tracemalloc net MB", "RSS MB"],
        [[f"{row['minute']:.0f}", str(row["state"]["active_tracks"]), str(row["state"]["identities"]),
          str(row["state"]["table_rows"]), str(row["table_capacity"]),
          str(row["state"]["recent_spans"]), str(row["archived"]), megabytes(row["bytes"]["total"]),
          megabytes(row["bytes"]["table"]), megabytes(row["bytes"]["identities"]),
          megabytes(row["tracemalloc"]), megabytes(row["not_benchmark"]), megabytes(row["rss"])] for row in rows],
    )
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        for name, a, b in (
            ("structures", first["bytes"]["total"], last["bytes"]["total"]),
            ("tracemalloc", first["tracemalloc"], last["tracemalloc"]),
            ("tracemalloc net", first["not_benchmark"], last["not_benchmark"]),
            ("RSS", first["rss"], last["rss"]),
        ):
            change = 100.0 * (b - a) / a
            verdict = "within" if abs(change) <= 10 else "MISSES"
            print(f"{name}: {megabytes(a)} MB at {first['minute']:.0f} min -> {megabytes(b)} MB at "
                  f"{last['minute']:.0f} min ({change:+.1f} %; target +-10 %: {verdict})")
        per_identity = [row["bytes"]["total"] / max(1, row["state"]["identities"]) for row in (first, last)]
        print(f"structures per identity in the matching set: {per_identity[0] / 1024:.1f} KB at "
              f"{first['minute']:.0f} min, {per_identity[1] / 1024:.1f} KB at {last['minute']:.0f} min")
        print("largest tracemalloc changes (net), first checkpoint -> end (file:line, bytes, blocks):")
        for where, size, blocks in result["growth"]:
            print(f"  {where}: {size:+,} B, {blocks:+,} blocks")
    return result


# --- command line ------------------------------------------------------------------------------
def load_average() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=("step", "refine", "live"), default=["step", "refine", "live"])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--identities", type=int, nargs="+", default=None, help="default 100 1000 10000 100000")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per size up to 10k identities (100)")
    parser.add_argument("--large-steps", type=int, default=None, help="timed steps above 10k identities (30)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    parser.add_argument("--tracklets", type=int, nargs="+", default=None, help="default 1000 10000 50000")
    parser.add_argument("--neighbours", type=int, default=20, help="refine candidate neighbours (as shipped)")
    parser.add_argument("--live-hours", type=float, default=None, help="simulated hours (2)")
    parser.add_argument("--live-fps", type=float, default=2.0, help="observations per second per track")
    parser.add_argument("--arrival-rate", type=float, default=0.5, help="people arriving per second")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    quick = arguments.quick
    identities = arguments.identities or ([100, 1000] if quick else [100, 1000, 10_000, 100_000])
    steps = arguments.steps or (20 if quick else 100)
    large_steps = arguments.large_steps or (10 if quick else 30)
    tracklets = arguments.tracklets or ([1000] if quick else [1000, 10_000, 50_000])
    hours = arguments.live_hours or (0.5 if quick else 2.0)

    import torch

    print(f"association benchmark: {os.cpu_count()} CPU cores (torch intra-op threads {torch.get_num_threads()}), "
          f"load average {load_average()} at start; python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"torch {torch.__version__}")
    started = time.perf_counter()
    if "step" in arguments.parts:
        run_step_part(identities, steps, large_steps, arguments.warmup)
    if "refine" in arguments.parts:
        run_refine_part(tracklets, arguments.neighbours, arguments.seed)
    if "live" in arguments.parts:
        run_live_part(hours, arguments.live_fps, arguments.arrival_rate, arguments.seed)
    print(f"\ndone in {time.perf_counter() - started:.0f} s; load average {load_average()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
