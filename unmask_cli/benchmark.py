"""The harness behind `unmask benchmark`: every backend, side by side in one process and one run.

Per backend and batch size: images/s and per-call latency p50/p95 for Mask G, Face G and the two together
(mask → noise → Face G → composite, what `infer` runs); ratios against the `tensorflow` backend. Plus the
end-to-end pipeline on real photos with each stage's share of the time. Warm-up calls are not timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unmask_cli import registry


@dataclass
class Timing:
    backend: str
    part: str  # mask_g, face_g, both
    batch: int
    calls: int
    images_per_second: float
    p50_ms: float
    p95_ms: float


@dataclass
class BenchmarkReport:
    timings: list[Timing] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    end_to_end: dict[str, dict] = field(default_factory=dict)

    def ratio(self, backend: str, part: str, batch: int, reference: str = "tensorflow") -> float | None:
        def find(name):
            return next((t for t in self.timings if (t.backend, t.part, t.batch) == (name, part, batch)), None)

        mine, ref = find(backend), find(reference)
        return mine.images_per_second / ref.images_per_second if mine and ref else None


def time_calls(fn: Callable[[], object], seconds: float, warmup: int = 2, min_calls: int = 3) -> list[float]:
    """Durations (s) of repeated calls to fn for about `seconds`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(durations) < min_calls or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
    return durations


def _timing(backend: str, part: str, batch: int, durations: list[float]) -> Timing:
    d = np.array(durations)
    return Timing(
        backend,
        part,
        batch,
        len(d),
        float(batch * len(d) / d.sum()),
        float(np.percentile(d, 50) * 1000),
        float(np.percentile(d, 95) * 1000),
    )


def bench_models(
    backends: Sequence[str],
    batches: Sequence[int],
    seconds: float,
    models_dir: Path,
    backend_options: dict[str, dict] | None = None,
    on_line: Callable[[str], None] = lambda _: None,
) -> BenchmarkReport:
    """Time every backend on the same random crops. Backends are interleaved per batch size so that drift in
    machine load hits all of them alike."""
    report = BenchmarkReport()
    instances = {}
    for name in backends:
        try:
            options = (backend_options or {}).get(registry.backend_name(name), {})
            instances[name] = registry.open_backend(name, models_dir=Path(models_dir), **options)
            report.descriptions[name] = getattr(instances[name], "description", name)
        except Exception as exc:  # a backend that cannot start here is reported, the others still run
            report.errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            on_line(f"{name}: skipped ({report.errors[name]})")
    if not instances:
        return report
    size = next(iter(instances.values())).input_size
    rng = np.random.default_rng(0)
    for batch in batches:
        crops = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
        face_in = np.concatenate([crops, (rng.random((batch, size, size, 1)) > 0.7).astype(np.float32)], -1)
        for name, backend in instances.items():
            parts = {"both": lambda b=backend, x=crops: b.run(x)}
            if hasattr(backend, "mask_fn") and hasattr(backend, "face_fn"):
                parts["mask_g"] = lambda b=backend, x=crops: b.mask_fn(x)
                parts["face_g"] = lambda b=backend, x=face_in: b.face_fn(x)
            for part, fn in parts.items():
                timing = _timing(name, part, batch, time_calls(fn, seconds))
                report.timings.append(timing)
                on_line(
                    f"{name} {part} batch {batch}: {timing.images_per_second:.1f} img/s, p50 {timing.p50_ms:.1f} ms"
                )
    return report


def bench_end_to_end(
    backend: str, photos: Sequence[Path], models_dir: Path, repeats: int = 3, options: dict | None = None
) -> dict:
    """photos/s of the whole pipeline in memory (decode → detect → align → models → blend → encode)."""
    import cv2

    from unmask_cli.images import read_rgb
    from unmask_cli.pipeline import STAGES, Unmasker

    unmasker = Unmasker(models_dir, backend, **(options or {}))
    stages = dict.fromkeys(STAGES, 0.0)
    count = 0
    for _ in range(repeats):
        for path in photos:
            t = time.perf_counter()
            rgb = read_rgb(path)
            stages["decode"] += time.perf_counter() - t
            unmasker.stage_seconds = dict.fromkeys(STAGES, 0.0)
            restored, _ = unmasker.restore_photo(rgb)
            for k, v in unmasker.stage_seconds.items():
                stages[k] += v
            t = time.perf_counter()
            cv2.imencode(".jpg", restored)
            stages["encode"] += time.perf_counter() - t
            count += 1
    total = sum(stages.values())
    return {
        "photos": count,
        "photos_per_second": count / total if total else None,
        "stage_share": {k: v / total for k, v in stages.items()},
    }


def plot(report: BenchmarkReport, path: Path, part: str = "both") -> None:
    """Horizontal bars of images/s per backend and batch size, drawn with OpenCV (no plotting dependency)."""
    import cv2

    from unmask_cli.images import write_atomic

    rows = [t for t in report.timings if t.part == part]
    if not rows:
        return
    width, bar_h, left = 900, 26, 230
    height = 50 + bar_h * len(rows) + 20
    img = np.full((height, width, 3), 255, np.uint8)
    top = max(t.images_per_second for t in rows)
    cv2.putText(
        img, f"images/s, Mask G + Face G ({part})", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 1, cv2.LINE_AA
    )
    palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
    names = list(dict.fromkeys(t.backend for t in rows))
    for i, t in enumerate(rows):
        y = 45 + i * bar_h
        length = int((width - left - 90) * t.images_per_second / top)
        colour = palette[names.index(t.backend) % len(palette)]
        cv2.rectangle(img, (left, y), (left + length, y + bar_h - 6), colour, -1)
        cv2.putText(
            img, f"{t.backend} b{t.batch}", (10, y + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA
        )
        cv2.putText(
            img,
            f"{t.images_per_second:.1f}",
            (left + length + 6, y + 15),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    write_atomic(path, img)
