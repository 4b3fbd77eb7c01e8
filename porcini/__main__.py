"""``python -m porcini`` runs the command line."""

from porcini.experiment.cli import main

main()
