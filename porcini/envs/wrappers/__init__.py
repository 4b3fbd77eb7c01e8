"""porcini.envs.wrappers."""
