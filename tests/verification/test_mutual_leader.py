"""Mutual validation (M13) and the leader rules (M8): sortition, PoQ, accuracy, contribution."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedchain.verification import ScoreMatrixError, UnknownRuleError
from fedchain.verification.leader import (
    LeaderInputs,
    available_leader_rules,
    elect_leader,
    get_leader_rule,
    poq_scores,
    register_leader_rule,
)
from fedchain.verification.mutual import mutual_validation, quantize_scores, score_matrix


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.integers(2, 7).flatmap(
    lambda n: st.lists(st.lists(st.integers(0, 10_000), min_size=n, max_size=n),
                       min_size=n, max_size=n)))  # fmt: skip
def test_quality_is_sum_of_others_scores(matrix) -> None:
    n = len(matrix)
    res = mutual_validation(matrix)
    for i in range(n):  # slow reference: loop over validators v != i
        assert res.quality[i] == sum(matrix[v][i] for v in range(n) if v != i)
    worst = min(range(n), key=lambda i: (res.quality[i], -i))
    assert res.dropped == [worst]
    assert sorted(res.kept + res.dropped) == list(range(n))


def test_hand_example_and_tie_break() -> None:
    s = np.array([[0, 0.9, 0.2, 0.8], [0.95, 0, 0.1, 0.9], [0.9, 0.85, 0, 0.85],
                  [0.9, 0.9, 0.3, 0]])  # fmt: skip
    res = mutual_validation(s)
    assert res.quality.tolist() == pytest.approx([2.75, 2.65, 0.6, 2.55])
    assert res.dropped == [2] and res.kept == [0, 1, 3] and res.ranking == [0, 1, 3, 2]
    # ties among the worst: the higher index is dropped, the lower kept
    tie = np.ones((3, 3))
    assert mutual_validation(tie).dropped == [2]
    assert mutual_validation(tie, drop=2).dropped == [1, 2]
    # MAE: lower is better
    assert mutual_validation(s, higher_is_better=False).dropped == [0]


def test_evaluator_callable_and_quantized_scores() -> None:
    acc = [0.9, 0.5, 0.8]  # model i's accuracy, whoever validates it
    res = mutual_validation(evaluate=lambda v, i: acc[i], n=3)
    assert res.dropped == [1]
    m = score_matrix(3, lambda v, i: acc[i])
    assert np.isnan(np.diag(m)).all()
    q = quantize_scores(m)
    assert q.dtype == np.int64 and q[0, 1] == 5000 and q[1, 1] == 0
    assert mutual_validation(q).dropped == [1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scores": np.ones((2, 3))},
        {"scores": [[0, np.nan], [1, 0]]},
        {"scores": np.ones((1, 1))},
        {"scores": np.ones((3, 3)), "drop": 3},
        {},
    ],
)
def test_mutual_errors(kwargs) -> None:
    with pytest.raises(ScoreMatrixError):
        mutual_validation(**kwargs)


def test_poq_hand_example() -> None:
    # errors e = (0.10, 0.10, 0.05), data d = (100, 300, 600), mean(e) = 0.08333
    # γ = 1 + d/Σd = (1.1, 1.3, 1.6) → MAE^u = (0.19333, 0.21333, 0.16333)
    s = poq_scores(errors=[0.10, 0.10, 0.05], data_sizes=[100, 300, 600])
    assert s == pytest.approx([0.19333333, 0.21333333, 0.16333333])
    assert elect_leader("poq", errors=[0.10, 0.10, 0.05], data_sizes=[100, 300, 600]) == 2
    # accuracies: error = 1 − accuracy; equal errors → less data wins (γ as printed)
    assert elect_leader("poq", accuracies=[0.9, 0.9], data_sizes=[10, 5]) == 1
    assert poq_scores(accuracies=[0.9], data_sizes=[1]) == pytest.approx([0.1 * 2 + 0.1])


def test_other_leader_rules_and_registry() -> None:
    assert elect_leader("accuracy", accuracies=[0.7, 0.9, 0.9]) == 1  # tie → lower index
    assert elect_leader("contribution", contributions=[0.2, 0.5, 0.3]) == 1
    assert elect_leader("sortition", n=4) == 0
    assert {"accuracy", "contribution", "poq", "sortition"} <= set(available_leader_rules())

    @register_leader_rule("last")
    def _last(inputs: LeaderInputs) -> int:
        return inputs.n - 1

    assert elect_leader("last", n=5) == 4 and get_leader_rule("last") is _last
    with pytest.raises(UnknownRuleError, match="unknown leader rule"):
        elect_leader("nope", n=2)
    with pytest.raises(ScoreMatrixError, match="needs accuracies"):
        elect_leader("accuracy", n=2)
    with pytest.raises(ScoreMatrixError):
        poq_scores(errors=[0.1], accuracies=[0.9], data_sizes=[1])
