"""Learning from an expert: agents that query a policy for its actions (DAgger).

BC, which learns from demonstrations alone, is :class:`porcini.algorithms.offline.bc.BC`.
"""

from porcini.algorithms.imitation.dagger import DAgger, DAggerConfig, agent_expert

__all__ = ["DAgger", "DAggerConfig", "agent_expert"]
