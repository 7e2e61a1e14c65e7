"""`python -m batchprov` runs the command line."""

from batchprov.cli import main

main()
