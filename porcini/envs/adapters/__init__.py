"""porcini.envs.adapters."""
