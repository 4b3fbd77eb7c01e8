"""porcini.algorithms.tabular."""
