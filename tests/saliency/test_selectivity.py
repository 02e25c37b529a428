"""Class selectivity of units: the top-k class entropy and Morcos et al.'s selectivity index,
against small cases worked out by hand, and their bounds on random ones."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.saliency.selectivity import (class_means, class_selectivity_index,
                                           top_k_class_entropy)

LABELS = np.array([0, 0, 1, 1, 2, 2])
ACTIVATIONS = np.array([[0.0, 9.0, 1.0],        # unit 0: the two 1s on top; unit 1: 0, 0, 1, 2
                        [0.1, 8.0, 1.0],
                        [5.0, 7.0, 1.0],        # unit 2: constant (a dead ReLU)
                        [6.0, 1.0, 1.0],
                        [0.2, 6.0, 1.0],
                        [0.3, 0.0, 1.0]])


def test_top_k_class_entropy_by_hand():
    # k = 4. unit 0: images 3, 2, 5, 4 -> classes 1, 1, 2, 2: H = 1 bit.
    # unit 1: images 0, 1, 2, 4 -> classes 0, 0, 1, 2: -(1/2 log2 1/2 + 2 * 1/4 log2 1/4) = 1.5
    entropy = top_k_class_entropy(ACTIVATIONS, LABELS, k=4)
    assert entropy[:2].tolist() == [1.0, 1.5] and np.isnan(entropy[2])
    # k = 2: unit 0's top two are both class 1, unit 1's both class 0
    assert top_k_class_entropy(ACTIVATIONS, LABELS, k=2)[:2].tolist() == [0.0, 0.0]


def test_a_tie_across_the_kth_place_leaves_the_top_k_undefined():
    # a ReLU unit active on two images only: its 3rd to 6th places tie at 0
    sparse = np.array([[0.0], [4.0], [0.0], [0.0], [2.0], [0.0]])
    assert top_k_class_entropy(sparse, LABELS, k=2).tolist() == [1.0]      # classes 0 and 2
    assert np.isnan(top_k_class_entropy(sparse, LABELS, k=3)).all()
    assert top_k_class_entropy(sparse, LABELS, k=6).tolist() == [np.log2(3)]  # all: defined


def test_class_selectivity_index_by_hand():
    # unit 0: class means 0.05, 5.5, 0.25 -> mu_max 5.5, mu_-max 0.15: (5.35) / (5.65)
    # unit 1: class means 8.5, 4, 3 -> (8.5 - 3.5) / (8.5 + 3.5) = 5 / 12
    index = class_selectivity_index(ACTIVATIONS, LABELS)
    assert index[0] == pytest.approx(5.35 / 5.65, abs=1e-15)
    assert index[1] == pytest.approx(5 / 12, abs=1e-15)
    assert np.isnan(index[2])
    assert np.allclose(class_means(ACTIVATIONS, LABELS)[:, 1], [8.5, 4.0, 3.0], rtol=0,
                       atol=1e-15)


def test_the_extremes():
    only_class_1 = np.array([[0.0], [0.0], [2.0], [4.0], [0.0], [0.0]])
    assert class_selectivity_index(only_class_1, LABELS).tolist() == [1.0]
    every_class_alike = np.array([[1.0], [3.0], [2.0], [2.0], [3.0], [1.0]])
    assert class_selectivity_index(every_class_alike, LABELS).tolist() == [0.0]
    assert top_k_class_entropy(every_class_alike, LABELS, k=6).tolist() == [np.log2(3)]


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, (12, 3), elements=st.floats(0, 10)), st.integers(1, 12),
       st.randoms(use_true_random=False))
def test_bounds_and_the_order_of_the_images(activations, k, random):
    labels = np.arange(12) % 4
    entropy = top_k_class_entropy(activations, labels, k)
    index = class_selectivity_index(activations, labels)
    live = ~np.isnan(entropy)
    assert (entropy[live] >= 0).all() and (entropy[live] <= np.log2(min(k, 4)) + 1e-12).all()
    assert (index[live] >= 0).all() and (index[live] <= 1 + 1e-12).all()
    order = list(range(12))
    random.shuffle(order)
    # the class means add the images in another order: equal up to rounding
    assert np.allclose(class_selectivity_index(activations[order], labels[order]), index,
                       rtol=0, atol=1e-12, equal_nan=True)
    assert np.array_equal(top_k_class_entropy(activations[order], labels[order], k), entropy,
                          equal_nan=True)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="activations >= 0.*np.maximum"):
        class_selectivity_index(-ACTIVATIONS, LABELS)
    with pytest.raises(ValueError, match=r"expected activations \(N, K\)"):
        top_k_class_entropy(ACTIVATIONS[:, 0], LABELS, 2)
    with pytest.raises(ValueError, match=r"expected labels \(6,\)"):
        class_selectivity_index(ACTIVATIONS, LABELS[:5])
    with pytest.raises(ValueError, match="ints >= 0"):
        class_selectivity_index(ACTIVATIONS, LABELS + 0.5)
    with pytest.raises(ValueError, match=r"classes \[1\] have no image"):
        class_selectivity_index(ACTIVATIONS, np.array([0, 0, 2, 2, 2, 2]))
    with pytest.raises(ValueError, match="only class 0"):
        class_selectivity_index(ACTIVATIONS, np.zeros(6, dtype=int))
    with pytest.raises(ValueError, match="k must be an int in 1..6"):
        top_k_class_entropy(ACTIVATIONS, LABELS, 7)
    with pytest.raises(ValueError, match="k must be an int in 1..6"):     # True is no count
        top_k_class_entropy(ACTIVATIONS, LABELS, True)
    # a NaN (a diverged model) gave an index or entropy computed around it without a word
    broken = ACTIVATIONS.astype(float).copy()
    broken[2, 0] = np.nan
    for measure in (class_selectivity_index, lambda a, labels: top_k_class_entropy(a, labels, 2)):
        with pytest.raises(ValueError, match=r"selectivity: the activations \(shape \(6, \d\)\) "
                                             r"holds 1 NaN or infinite value"):
            measure(broken, LABELS)


def test_tiny_activations_do_not_underflow_to_no_class():
    # hypothesis found it: one image of class 0 at 5e-324, the rest 0; the class mean
    # 5e-324 / 3 underflows to 0, and the index came out 0 / 0 = NaN instead of 1
    tiny = np.zeros((12, 1))
    tiny[0] = 5e-324
    assert class_selectivity_index(tiny, np.arange(12) % 4).tolist() == [1.0]
    assert class_selectivity_index(tiny * 1e300, np.arange(12) % 4).tolist() == [1.0]
