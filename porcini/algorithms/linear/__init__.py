"""porcini.algorithms.linear."""
