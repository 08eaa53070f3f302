"""One module per `unmask` command; `unmask_cli.cli` assembles them into the Typer app."""
