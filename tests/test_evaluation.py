import math

import pytest

from fewshot_nlp import mean_confidence_interval


def test_confidence_interval_uses_student_t_for_few_values():
    # Three seeds: sd 1, so the half-width is t(0.975, 2) / sqrt(3) = 4.3027 / 1.7321.
    mean, ci = mean_confidence_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert ci == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    # Many values: close to the normal 1.96 standard errors.
    values = [float(i % 2) for i in range(600)]
    _, ci = mean_confidence_interval(values)
    sd = math.sqrt(sum((v - 0.5) ** 2 for v in values) / 599)
    assert ci == pytest.approx(1.9639 * sd / math.sqrt(600), rel=1e-3)


def test_confidence_interval_edge_cases():
    mean, ci = mean_confidence_interval([0.7])
    assert mean == 0.7 and math.isnan(ci)
    with pytest.raises(ValueError, match="no values"):
        mean_confidence_interval([])


def test_macro_f1_by_hand_and_against_a_majority_guesser():
    from fewshot_nlp import macro_f1

    labels = ["a", "a", "a", "b"]
    assert macro_f1(["a", "a", "a", "a"], labels) == pytest.approx((2 * 3 / 7 + 0) / 2)  # accuracy 0.75
    assert macro_f1(labels, labels) == 1.0
    assert macro_f1(["a", "b", "a", "b"], labels) == pytest.approx((2 * 2 / 5 + 2 * 1 / 3) / 2)
    with pytest.raises(ValueError, match="3 predictions for 4 labels"):
        macro_f1(["a", "a", "a"], labels)
