from unmask_cli.cli import main

main()
