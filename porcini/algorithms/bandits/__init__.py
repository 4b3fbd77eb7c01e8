"""porcini.algorithms.bandits."""
