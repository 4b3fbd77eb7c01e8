"""Multi-armed bandits: ε-greedy, UCB1 and Thompson sampling, with cumulative regret in their fit metrics."""
