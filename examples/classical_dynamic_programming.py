"""Dynamic programming on built-in MDPs with known models: value iteration and policy iteration.

The dice game has a closed-form value (9 at gamma = 1); cliff walking's optimal return is -13; on the chain the
optimal policy depends on the discount. The DP policy then runs through Core like any agent:

    python examples/classical_dynamic_programming.py [--smoke]

(``--smoke``, which the other examples take for a short run, changes nothing here: it all takes a second.)
"""

import argparse

from porcini import Core, make_env
from porcini.algorithms.model_based.dynamic_programming import (
    TabularPolicyAgent,
    policy_iteration,
    value_iteration,
)


def main() -> None:
    dice = make_env("porcini/DiceGame-v0").envs[0].unwrapped
    P, R, terminal = dice.transition_model()
    for gamma in (1.0, 0.9, 0.5):
        vi = value_iteration(P, R, gamma, terminal)
        action = ("quit", "continue")[vi.policy[0]]
        print(f"dice game gamma={gamma}: V = {vi.values[0]:.6f} (closed form {dice.optimal_value(gamma):.6f}), "
              f"{action}, {vi.iterations} sweeps")

    env = make_env("porcini/CliffWalking-v0", seed=0)
    P, R, terminal = env.envs[0].unwrapped.transition_model()
    vi, pi = value_iteration(P, R, 1.0, terminal), policy_iteration(P, R, 0.99, terminal)
    print(f"cliff walking: V(start) = {vi.values[36]:.1f}; policy iteration (gamma 0.99) in {pi.iterations} steps")
    core = Core(TabularPolicyAgent(env.info, vi.policy), env, eval_env=make_env("porcini/CliffWalking-v0", seed=1))
    print(f"  the VI policy through Core: return {core.evaluate(episodes=1).returns[0]:.0f}")

    chain = make_env("porcini/Chain-v0").envs[0].unwrapped
    P, R, terminal = chain.transition_model()
    for gamma in (0.99, 0.5):
        policy = value_iteration(P, R, gamma, terminal).policy
        print(f"chain gamma={gamma}: policy {['forward' if a == 0 else 'back' for a in policy]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="accepted as by every example; the run is short already")
    parser.parse_args()
    main()
