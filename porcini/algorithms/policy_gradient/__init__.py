"""porcini.algorithms.policy_gradient."""
