"""``python -m rec_core`` runs the ``rec`` command line."""

from rec_core.cli import main

main()
