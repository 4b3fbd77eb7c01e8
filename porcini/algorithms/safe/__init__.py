"""Safe RL: agents that maximize the return while keeping an episode cost under a limit (constrained MDPs)."""
