"""The Lagrange multiplier rules against hand computations: projected gradient ascent and the PID-Lagrangian."""

import pytest

from porcini.algorithms.safe.lagrange import GradientMultiplier, PIDMultiplier


def test_gradient_rule_steps_by_the_violation_and_stays_non_negative():
    multiplier = GradientMultiplier(lr=0.1, value=1.0)
    # violation 30 - 25 = 5: λ = 1 + 0.1 * 5 = 1.5
    assert multiplier.update(30.0, 25.0) == pytest.approx(1.5)
    # violation 20 - 25 = -5: λ = 1.5 - 0.5 = 1.0
    assert multiplier.update(20.0, 25.0) == pytest.approx(1.0)
    # violation -25: 1.0 - 2.5 < 0, projected to 0
    assert multiplier.update(0.0, 25.0) == 0.0
    assert multiplier.value == 0.0


def test_pid_rule_matches_a_hand_computation():
    kp, ki, kd, limit = 0.5, 0.1, 0.2, 10.0
    multiplier = PIDMultiplier(kp=kp, ki=ki, kd=kd)
    # k = 1: Δ = 4, I = 4, ∂ = (14 - 0)+ = 14: λ = 2 + 0.4 + 2.8 = 5.2
    assert multiplier.update(14.0, limit) == pytest.approx(5.2)
    # k = 2: Δ = 2, I = 6, ∂ = (12 - 14)+ = 0: λ = 1 + 0.6 = 1.6
    assert multiplier.update(12.0, limit) == pytest.approx(1.6)
    # k = 3: Δ = -4, I = 2, ∂ = 0: λ = (-2 + 0.2)+ = 0
    assert multiplier.update(6.0, limit) == 0.0
    assert multiplier.integral == pytest.approx(2.0)
    # k = 4: Δ = -10, I = (2 - 10)+ = 0, ∂ = 0: λ = 0
    assert multiplier.update(0.0, limit) == 0.0
    assert multiplier.integral == 0.0
    # k = 5: Δ = 1, I = 1, ∂ = 11: λ = 0.5 + 0.1 + 2.2 = 2.8
    assert multiplier.update(11.0, limit) == pytest.approx(2.8)
    assert multiplier.previous_cost == 11.0


def test_pid_with_only_the_integral_gain_is_the_gradient_rule_while_lambda_is_positive():
    pid, gradient = PIDMultiplier(kp=0.0, ki=0.05, kd=0.0), GradientMultiplier(lr=0.05)
    for cost in (30.0, 40.0, 26.0, 22.0, 35.0):
        assert pid.update(cost, 25.0) == pytest.approx(gradient.update(cost, 25.0))


@pytest.mark.parametrize("make", [lambda: GradientMultiplier(lr=0.3), lambda: PIDMultiplier(0.2, 0.1, 0.3)])
def test_state_round_trip_continues_identically(make):
    costs = [12.0, 30.0, 5.0, 18.0, 40.0, 3.0]
    original = make()
    for cost in costs[:3]:
        original.update(cost, 15.0)
    restored = make()
    restored.load_state_dict(original.state_dict())
    assert [restored.update(c, 15.0) for c in costs[3:]] == [original.update(c, 15.0) for c in costs[3:]]


def test_gradient_rule_stops_at_the_cap():
    multiplier = GradientMultiplier(lr=0.1, max_value=1.0)
    assert multiplier.update(30.0, 25.0) == pytest.approx(0.5)
    assert multiplier.update(30.0, 25.0) == pytest.approx(1.0)
    assert multiplier.update(40.0, 25.0) == 1.0  # 1 + 1.5 capped
    assert multiplier.update(20.0, 25.0) == pytest.approx(0.5)  # steps down from the cap, not from 2.5


def test_pid_rule_at_the_cap_does_not_integrate_the_violation():
    multiplier = PIDMultiplier(kp=0.0, ki=0.1, kd=0.0, max_value=1.0)
    # Δ = 5: I = 5, λ = 0.5
    assert multiplier.update(30.0, 25.0) == pytest.approx(0.5)
    # Δ = 10: I would be 15 and λ 1.5 > cap: λ = 1, I stays 5
    assert multiplier.update(35.0, 25.0) == 1.0
    assert multiplier.integral == pytest.approx(5.0)
    # Δ = -5: I = 0, λ = 0; without the anti-windup I would be 10 and λ still 1
    assert multiplier.update(20.0, 25.0) == pytest.approx(0.0)


@pytest.mark.parametrize("config", ["PPOLagrangianConfig", "SACLagrangianConfig"])
def test_an_initial_lambda_above_its_cap_is_a_config_error_naming_both_fields(config):
    # it was accepted, and SAC-Lagrangian's actor was weighed by λ = init above the cap until an episode ended
    from porcini.algorithms.safe.ppo_lagrangian import PPOLagrangianConfig
    from porcini.algorithms.safe.sac_lagrangian import SACLagrangianConfig
    from porcini.errors import ConfigError

    cls = {"PPOLagrangianConfig": PPOLagrangianConfig, "SACLagrangianConfig": SACLagrangianConfig}[config]
    with pytest.raises(ConfigError, match=r"lagrange_multiplier_init = 5.0 is invalid: must be <= "
                                          r"lagrange_multiplier_max = 1.0"):
        cls(lagrange_multiplier_init=5.0, lagrange_multiplier_max=1.0)
    assert cls(lagrange_multiplier_init=1.0, lagrange_multiplier_max=1.0).lagrange_multiplier_init == 1.0
