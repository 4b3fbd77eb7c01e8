"""Linear value-function agents.

The TD agents of :mod:`porcini.algorithms.tabular` are linear in features: for Box observations they use tile
coding by default (``features="tile" | "rbf" | "fourier" | "polynomial"``), so ``QLearning``, ``Sarsa``,
``ExpectedSarsa``, ``DoubleQLearning``, ``SarsaLambda`` and ``TrueOnlineSarsaLambda`` are also the linear agents.
The feature maps and ``LinearQ`` live in :mod:`porcini.approximators`.
"""
