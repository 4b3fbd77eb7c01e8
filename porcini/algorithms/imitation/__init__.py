"""Learning from an expert: DAgger (the expert is asked while learning) and GAIL (an adversarial reward).

BC, which learns from demonstrations alone, is :class:`porcini.algorithms.offline.bc.BC`.
"""

from porcini.algorithms.imitation.dagger import DAgger, DAggerConfig, agent_expert
from porcini.algorithms.imitation.gail import GAIL, GAILTRPO, GAILConfig, GAILTRPOConfig

__all__ = ["DAgger", "DAggerConfig", "GAIL", "GAILTRPO", "GAILConfig", "GAILTRPOConfig", "agent_expert"]
