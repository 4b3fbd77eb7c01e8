"""porcini.algorithms.value_based."""
