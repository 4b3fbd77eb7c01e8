"""Learning from an expert and from feedback.

DAgger asks the expert while it learns; GAIL and AIRL learn an adversarial reward from demonstrations; reward
learning from preferences fits a reward to answers about pairs of segments. BC, which learns from demonstrations
alone, is :class:`porcini.algorithms.offline.bc.BC`.
"""

from porcini.algorithms.imitation.airl import AIRL, AIRLConfig
from porcini.algorithms.imitation.dagger import DAgger, DAggerConfig, agent_expert
from porcini.algorithms.imitation.gail import GAIL, GAILTRPO, GAILConfig, GAILTRPOConfig
from porcini.algorithms.imitation.preferences import PreferenceConfig, PreferencePPO
from porcini.algorithms.imitation.reward_model import RewardModel
from porcini.algorithms.imitation.segments import PreferenceQuery, Segments, SyntheticOracle

__all__ = ["AIRL", "AIRLConfig", "DAgger", "DAggerConfig", "GAIL", "GAILTRPO", "GAILConfig", "GAILTRPOConfig",
           "PreferenceConfig", "PreferencePPO", "PreferenceQuery", "RewardModel", "Segments", "SyntheticOracle",
           "agent_expert"]
