"""Tabular and linear TD control.

Q-learning, SARSA, expected SARSA, Double Q-learning, SARSA(λ) and True Online SARSA(λ). One class per algorithm
serves both cases: a Q-table for Discrete observations, features (tile coding by default) for Box ones.
"""
