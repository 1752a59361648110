"""roofline.in_place: a ufunc into its first operand where that holds the result's shape (and
is large enough to matter), else a new array; the numbers the plain expression gives either
way."""

from __future__ import annotations

import numpy as np

from costmodel.core.roofline import IN_PLACE_SIZE, in_place

K = IN_PLACE_SIZE  # points: large enough to be written in place


def test_into_the_fresh_array_when_it_has_the_shape():
    fresh, y = np.arange(2.0 * K).reshape(2, K), np.full((1, K), 0.5)
    want = fresh + y
    out = in_place(np.add, fresh, y)
    assert out is fresh and out.tobytes() == want.tobytes()


def test_a_new_array_when_the_result_is_larger():
    """[1, K] * [D, K]: writing into the [1, K] operand would not hold the result."""
    fresh, y = np.full((1, K), 2.0), np.arange(2.0 * K).reshape(2, K)
    out = in_place(np.multiply, fresh, y)
    assert out is not fresh and out.shape == (2, K)
    assert np.all(fresh == 2.0) and out.tobytes() == (2.0 * y).tobytes()


def test_small_arrays_scalars_and_other_dtypes_take_the_plain_ufunc():
    small = np.array([1.0, 2.0])
    out = in_place(np.add, small, 1.0)
    assert out is not small and out.tolist() == [2.0, 3.0] and small.tolist() == [1.0, 2.0]
    assert in_place(np.divide, 3.0, 2.0) == 1.5
    ints = np.arange(K)
    out = in_place(np.divide, ints, 2.0)
    assert out is not ints and out[3] == 1.5 and ints[3] == 3
