"""The `unmask` command line: one module per command under `unmask_cli.commands`, assembled here.

Commands parse, call the library and render with Rich; heavy imports (TensorFlow, onnxruntime, dlib) stay inside
the command bodies so that `unmask --help` and `unmask infer` never pay for the others.
"""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from unmask_cli import __version__, ui
from unmask_cli.commands import benchmark, evaluate, export, infer, plugins, synthesize, train

app = typer.Typer(
    name="unmask",
    help="Restore the face hidden behind a face mask in a photo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        ui.out.print(f"unmask {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    """Restore the face hidden behind a face mask in a photo."""


app.command()(plugins.plugins)
app.command()(synthesize.synthesize)
app.add_typer(train.app, name="train")
app.command()(export.export)
app.command()(infer.infer)
app.command()(evaluate.evaluate)
app.command()(benchmark.benchmark)


def _terminated(signum, frame) -> None:
    # SIGTERM (`timeout`, `docker stop`, systemd, a cluster's scheduler) ends a run as Ctrl-C does: one line, the
    # JSON owed, workers stopped, finished work kept; by default Python died without a word or a cleanup
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    if "--json" in sys.argv[1:]:  # a command line refused before Click reaches --json (a bad option before it)
        ui.request_json(True)
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code == 130 and not ui.failures():  # Ctrl-C where the command has no line of its own to say
            ui.fail("interrupted")
        owed = ui.owed_json_error(code)
        if owed is not None and code == 2 and not owed["errors"]:  # Click's usage error: printed, not recorded
            owed["errors"] = ["the command line was refused (its usage message is on stderr)"]
        if owed is not None:  # stopped before its summary (bad models or --out, interrupted): still JSON on stdout
            ui.emit_json(owed)
        raise
    except Exception as exc:  # a bug: its traceback goes to stderr as ever, and --json still gets its object
        owed = ui.owed_json_error(1)
        if owed is not None:
            ui.emit_json({**owed, "errors": [*owed["errors"], f"{type(exc).__name__}: {ui.first_line(exc)}"]})
        raise
