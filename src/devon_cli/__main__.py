"""`python -m devon_cli`: the same as the `devon` command."""

from devon_cli.main import main

main()
