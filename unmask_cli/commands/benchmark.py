"""`unmask benchmark`: throughput and latency of every backend side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import registry, ui
from unmask_cli.commands.options import JsonOpt, ModelsOpt, default_models_dir, default_sample_photos


def benchmark(
    backend: Annotated[
        list[str] | None, typer.Option(help="Backends (repeat; default: onnxruntime, tensorflow).")
    ] = None,
    batch: Annotated[str, typer.Option(help="Batch sizes, comma-separated.")] = "1,8,32",
    seconds: Annotated[float, typer.Option(help="Timed seconds per backend, part and batch size.", min=0.01)] = 3.0,
    models: ModelsOpt = None,
    checkpoints: Annotated[Path, typer.Option(help="Run folders for the tensorflow backend.")] = Path("runs"),
    photos: Annotated[
        Path | None, typer.Option(help="Photos for the end-to-end figure (default: ./samples/masked, else the repo's).")
    ] = None,
    as_json: JsonOpt = False,
    json_file: Annotated[Path | None, typer.Option("--json-file", help="Also write the figures to this file.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG bar chart here.")] = None,
) -> None:
    """Images/s and latency of every backend side by side, with ratios against TensorFlow.

    Exit status: 0 every backend timed (by default, a backend that is not installed is said and left out), 1 a
    backend named with --backend could not be timed (the others' figures are still shown) or none could be, 2 bad
    options, 130 interrupted.
    """
    models = models if models is not None else default_models_dir()
    photos = photos if photos is not None else default_sample_photos()
    import json
    import platform

    from unmask_cli import benchmark as bench
    from unmask_cli.images import write_bytes_atomic
    from unmask_cli.outputs import OutputPathError, check_output_file

    try:  # before minutes of timing, not after
        inputs = [photos] if photos else []
        if json_file:
            check_output_file(json_file, inputs=inputs, models=[models, checkpoints])
        if plot:
            check_output_file(plot, image=True, inputs=inputs, models=[models, checkpoints])
        batches = [int(b) for b in batch.split(",") if b.strip()]
        if not batches or min(batches) < 1:
            raise ValueError
    except OutputPathError as exc:
        ui.fail(str(exc))
        raise typer.Exit(2) from None
    except ValueError:
        ui.fail(f"--batch {batch}: give batch sizes of at least 1, comma-separated (e.g. 1,8,32)")
        raise typer.Exit(2) from None
    names = backend or ["onnxruntime", "tensorflow"]
    options = {"tensorflow": {"checkpoints": checkpoints}}
    readable = _readable_photos(photos)
    with ui.err.status("benchmarking…") as status:
        report = bench.bench_models(names, batches, seconds, models, options, on_line=status.update)
        if readable:
            for name in report.descriptions:
                status.update(f"end to end: {name}")
                report.end_to_end[name] = bench.bench_end_to_end(
                    name, readable, models, options=options.get(registry.backend_name(name))
                )
    for name, error in report.errors.items():
        ui.fail(f"backend {name}: {error}")
    if not report.descriptions:  # nothing was timed: an empty table would read as a result
        raise typer.Exit(1)
    rows = []
    for t in report.timings:
        ratio = report.ratio(t.backend, t.part, t.batch)
        rows.append(
            (
                t.backend,
                t.part,
                t.batch,
                f"{t.images_per_second:.1f}",
                f"{t.p50_ms:.1f}",
                f"{t.p95_ms:.1f}",
                f"×{ratio:.2f}" if ratio else "–",
            )
        )
    payload = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": __import__("os").cpu_count(),
        },
        "descriptions": report.descriptions,
        "errors": report.errors,
        "timings": [t.__dict__ for t in report.timings],
        "end_to_end": report.end_to_end,
    }
    if as_json:
        ui.emit_json(payload)
    else:
        ui.out.print(
            ui.table(
                f"unmask benchmark ({platform.processor() or platform.machine()})",
                ["backend", "model", "batch", "img/s", "p50 ms", "p95 ms", "vs tensorflow"],
                rows,
            )
        )
        if report.end_to_end:
            e2e_rows = [
                (name, f"{r['photos_per_second']:.2f}", " ".join(f"{k} {v:.0%}" for k, v in r["stage_share"].items()))
                for name, r in report.end_to_end.items()
            ]
            ui.out.print(ui.table("end to end (photos in memory)", ["backend", "photos/s", "time share"], e2e_rows))
    if json_file:
        write_bytes_atomic(json_file, json.dumps(payload, indent=2).encode())
    if plot:
        bench.plot(report, plot)
    if backend and report.errors:  # a backend the user named and did not get timed: the run did not do its job
        raise typer.Exit(1)


def _readable_photos(photos: Path | None) -> list[Path]:
    """The photos of the end-to-end figure that decode; each one that does not is one line, before any timing."""
    from unmask_cli.images import ImageError, iter_images, read_rgb

    if photos is None:
        return []
    if not photos.exists():
        ui.warn(str(photos), "no such file or folder: no end-to-end figure")
        return []
    readable = []
    for path in iter_images([photos]):
        try:
            read_rgb(path)
            readable.append(path)
        except ImageError as exc:
            ui.warn(str(path), str(exc))
    return readable
