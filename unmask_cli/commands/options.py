"""Options several commands share."""

from pathlib import Path
from typing import Annotated

import typer

from unmask_cli import ui

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable summary.", callback=ui.request_json)]
# no square brackets in help: Rich reads "[default: …]" as markup and drops it from --help
ModelsOpt = Annotated[
    Path | None, typer.Option(help="Folder of exported models (default: ./exported, else the shipped ones).")
]


def default_models_dir() -> Path:
    """`exported` in the current folder, else the one next to the installed source (an editable install from a
    clone, as the README's set-up does): `unmask infer photos/` then works from any folder."""
    return _here_or_beside_the_source(Path("exported"))


def default_sample_photos() -> Path:
    """`samples/masked` in the current folder, else the repo's (as `default_models_dir`): `unmask benchmark` run
    from another folder gave no end-to-end figure."""
    return _here_or_beside_the_source(Path("samples/masked"))


def _here_or_beside_the_source(relative: Path) -> Path:
    if relative.is_dir():
        return relative
    beside = Path(__file__).resolve().parents[2] / relative
    return beside if beside.is_dir() else relative
