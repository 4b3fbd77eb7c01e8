"""porcini.algorithms.actor_critic."""
