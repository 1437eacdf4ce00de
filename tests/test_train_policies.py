"""The trainer's safety policies (train/policies.py) as rules: feed losses and checkpoints, assert the decision."""

from __future__ import annotations

import math

import pytest

from train.policies import Action, RollbackPolicy, SpikeGuard, TrainingDiverged

FALLING = [7.0 - 0.05 * i + (0.02 if i % 2 else -0.02) for i in range(30)]  # a noisy, falling training loss


def guard(patience: int = 3) -> SpikeGuard:
    g = SpikeGuard(window=50, z_threshold=6.0, patience=patience)
    for step, loss in enumerate(FALLING):
        assert g.decide(step, step, loss, grad_norm=1.0).action is Action.APPLY
    return g


def test_a_loss_on_the_trend_is_applied():
    g = guard()
    assert g.decide(30, 30, FALLING[-1] - 0.05, 1.0).action is Action.APPLY


def test_one_loss_far_above_the_trend_skips_its_update_and_training_goes_on():
    g = guard()
    assert g.decide(30, 30, 9.0, 1.0).action is Action.SKIP
    assert g.decide(31, 31, FALLING[-1] - 0.1, 1.0).action is Action.APPLY


def test_patience_spikes_in_a_row_roll_back_and_name_their_batches():
    g = guard(patience=3)
    assert [g.decide(30 + i, 40 + i, 9.0, 1.0).action for i in range(2)] == [Action.SKIP, Action.SKIP]
    verdict = g.decide(32, 42, 9.0, 1.0)
    assert verdict.action is Action.ROLLBACK and verdict.reason == "spike" and verdict.bad_cursors == [40, 41, 42]


def test_a_good_step_between_spikes_resets_the_streak():
    g = guard(patience=2)
    assert g.decide(30, 30, 9.0, 1.0).action is Action.SKIP
    assert g.decide(31, 31, FALLING[-1] - 0.1, 1.0).action is Action.APPLY
    assert g.decide(32, 32, 9.0, 1.0).action is Action.SKIP


@pytest.mark.parametrize("loss, grad_norm", [(math.nan, 1.0), (3.0, math.inf)])
def test_a_non_finite_loss_or_gradient_rolls_back_at_once(loss, grad_norm):
    g = guard()
    assert g.decide(30, 30, 9.0, 1.0).action is Action.SKIP
    verdict = g.decide(31, 31, loss, grad_norm)
    assert verdict.action is Action.ROLLBACK and verdict.reason == "nonfinite" and verdict.bad_cursors == [30, 31]


def test_skipped_losses_do_not_move_the_trend():
    """A run of bad batches cannot drag the statistics up to meet them."""
    g = guard(patience=100)
    assert all(g.decide(30 + i, 30 + i, 9.0, 1.0).action is Action.SKIP for i in range(20))


UNIFORM = math.log(1024)  # 6.93: predicting each of 1024 tokens as equally likely


def newest_good(policy: RollbackPolicy, checkpoints: list[tuple[int, float | None, float]]) -> int | None:
    """The rollback target as the trainer picks it: checkpoints (step, val, best val then) tried newest first."""
    return next((step for step, val, best in reversed(checkpoints) if policy.refusal(step, val, best) is None), None)


def test_rollback_skips_checkpoints_worse_than_uniform_prediction():
    """Issue 31 item 14: a blow-up right at the first evaluation made its bad loss the best one, so the
    checkpoints after it passed "not far above the best" and the guard rolled back to them again and again."""
    policy = RollbackPolicy(uniform_loss=UNIFORM)
    # step 0: initial weights; at the first evaluation (60) the weights had just blown up; 120 as bad
    checkpoints = [(0, None, math.inf), (60, 7.6, 7.6), (120, 7.5, 7.5)]
    assert "uniform" in policy.refusal(120, 7.5, 7.5)
    assert newest_good(policy, checkpoints) == 0


def test_rollback_prefers_the_newest_actually_good_checkpoint():
    policy = RollbackPolicy(uniform_loss=UNIFORM)
    checkpoints = [(0, None, math.inf), (50, 5.2, 5.2), (100, 4.8, 4.8), (150, 5.9, 4.8), (200, 8.0, 4.8)]
    assert newest_good(policy, checkpoints) == 100  # 150 is > 10% above the best, 200 worse than uniform
    assert "10% above the best 4.8000" in policy.refusal(150, 5.9, 4.8)
    assert policy.refusal(150, 5.2, 4.8) is None  # within 10% of the best: still good


def test_initial_weights_and_unjudged_checkpoints_are_accepted():
    policy = RollbackPolicy(uniform_loss=UNIFORM)
    assert policy.refusal(0, 7.1, math.inf) is None  # a fresh model sits at about ln vocab
    assert policy.refusal(80, None, 5.0) is None  # no validation set: nothing to judge it by


def test_rolling_back_to_the_same_place_again_halves_the_lr():
    scale = 1.0
    targets = []
    previous = -1
    for target in (40, 40, 40, 60, 20):  # the break recurs from 40 twice; later one from 60, then from 20
        scale = RollbackPolicy.lr_scale_after(target, previous, scale)
        targets.append(scale)
        previous = target
    assert targets == [1.0, 0.5, 0.25, 0.25, 0.125]


def test_more_rollbacks_than_the_budget_is_training_diverged():
    policy = RollbackPolicy(uniform_loss=UNIFORM, max_rollbacks=5)
    policy.check_budget(5, step=30, reason="spike", lr_scale=0.25)
    with pytest.raises(TrainingDiverged, match="training diverged: 6 rollbacks .* lr was already scaled by 0.125"):
        policy.check_budget(6, step=30, reason="spike", lr_scale=0.125)
