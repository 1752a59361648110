"""roofline.in_place: a ufunc into its first operand where that holds the result's shape,
else a new array; the numbers the plain expression gives either way."""

from __future__ import annotations

import numpy as np

from costmodel.core.roofline import in_place


def test_into_the_fresh_array_when_it_has_the_shape():
    fresh, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[10.0, 20.0]])
    want = fresh + y
    out = in_place(np.add, fresh, y)
    assert out is fresh and out.tobytes() == want.tobytes()


def test_a_new_array_when_the_result_is_larger():
    """[1, K] + [D, K]: writing into the [1, K] operand would not hold the result."""
    fresh, y = np.array([[1.0, 2.0]]), np.array([[10.0, 20.0], [30.0, 40.0]])
    out = in_place(np.multiply, fresh, y)
    assert out is not fresh and out.shape == (2, 2)
    assert fresh.tolist() == [[1.0, 2.0]] and out.tolist() == [[10.0, 40.0], [30.0, 80.0]]


def test_scalars_and_other_dtypes_take_the_plain_ufunc():
    assert in_place(np.divide, 3.0, 2.0) == 1.5
    ints = np.array([3, 4])
    out = in_place(np.divide, ints, 2.0)
    assert out is not ints and out.tolist() == [1.5, 2.0] and ints.tolist() == [3, 4]
