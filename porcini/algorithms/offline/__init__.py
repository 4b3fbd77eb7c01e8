"""porcini.algorithms.offline."""
