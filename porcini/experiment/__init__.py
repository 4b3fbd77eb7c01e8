"""porcini.experiment."""
