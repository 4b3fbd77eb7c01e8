"""porcini.algorithms.model_based."""
