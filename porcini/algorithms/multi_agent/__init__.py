"""Multi-agent RL: learners for the rows of a multi-agent vector env (IPPO, MAPPO, independent DQN) and self-play."""
