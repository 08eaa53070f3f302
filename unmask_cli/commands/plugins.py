"""`unmask plugins`: what is installed in each plugin group, and whether it loads."""

from __future__ import annotations

from typing import Annotated

import typer

from unmask_cli import registry, ui


def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.", callback=ui.request_json)] = False,
) -> None:
    """List installed plugins: group, name, distribution, version, and whether each loads."""
    rows = []
    for group in registry.GROUPS:
        for info in registry.discover(group):
            error = registry.check(info)
            rows.append({**info.__dict__, "status": "ok" if error is None else "error", "error": error})
        rows += [{**info.__dict__, "status": "unused", "error": why} for info, why in registry.unused(group)]
    if as_json:
        ui.emit_json(rows)
        return
    for row in rows:
        if row["error"]:
            ui.fail(row["error"])
    ui.out.print(
        ui.table(
            "unmask plugins",
            ["group", "name", "distribution", "version", "status"],
            [(r["group"], r["name"], r["distribution"], r["version"], r["status"]) for r in rows],
        )
    )
