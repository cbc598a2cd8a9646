"""The parity tests' comparison (``assert_same``) passes equal frames and catches every kind of difference."""

from __future__ import annotations

import math

import polars as pl
import pytest

from tests.fixtures.spark import assert_same


def _frame(**over: list) -> pl.DataFrame:
    cols = {"k": ["a", "b", "c", "d"], "n": [1, 2, None, 4], "x": [1.0, 2.5e6, None, math.nan],
            "y": [0.0, -3.0, math.inf, 1e-13]}
    return pl.DataFrame({**cols, **over})


def test_equal_frames_pass_and_small_float_noise_is_tolerated():
    assert_same(_frame(), _frame())
    assert_same(_frame(), _frame(x=[1.0 + 1e-12, 2.5e6 * (1 + 5e-10), None, math.nan]))
    assert_same(_frame(), _frame(y=[1e-13, -3.0, math.inf, 0.0]))  # within the absolute 1e-12
    assert_same(_frame(), _frame(n=pl.Series([1, 2, None, 4], dtype=pl.Int32)))  # integer width ignored
    assert_same(_frame(), _frame().reverse(), ordered=False)


@pytest.mark.parametrize("over", [
    {"x": [1.0, 2.5e6 * (1 + 1e-8), None, math.nan]},  # beyond rel
    {"x": [1.0, 2.5e6, 0.0, math.nan]},  # a null against a number
    {"x": [1.0, 2.5e6, None, 0.0]},  # a NaN against a number
    {"x": [1.0, 2.5e6, None, None]},  # a NaN against a null
    {"y": [0.0, -3.0, -math.inf, 1e-13]},  # infinities of opposite sign
    {"y": [0.0, -3.0, 1e300, 1e-13]},  # an infinity against a number
    {"n": [1, 2, 3, 4]},  # a null integer against a number
    {"k": ["a", "b", "c", "D"]},
], ids=["rel", "null-number", "nan-number", "nan-null", "inf-sign", "inf-number", "int-null", "string"])
def test_each_kind_of_difference_is_caught(over):
    with pytest.raises(AssertionError):
        assert_same(_frame(), _frame(**over))
    with pytest.raises(AssertionError):
        assert_same(_frame(**over), _frame())


def test_nested_columns_compare_as_python_compares_them():
    nested = pl.DataFrame({"k": ["a"], "l": [[1.0, 2.0]], "s": [{"x": 1.0, "y": "u"}]})
    assert_same(nested, nested.clone())
    with pytest.raises(AssertionError):
        assert_same(nested, nested.with_columns(pl.Series("l", [[1.0, 2.5]])))
    with pytest.raises(AssertionError):  # a NaN inside a list matches nothing, as before
        with_nan = pl.DataFrame({"l": [[math.nan]]})
        assert_same(with_nan, with_nan.clone())


def test_the_failure_names_the_column_and_rows():
    with pytest.raises(AssertionError) as err:
        assert_same(_frame(), _frame(x=[1.5, 2.5e6, None, math.nan]))
    assert "'x'" in str(err.value) and "1.5" in str(err.value)


def test_shape_and_type_differences_are_caught():
    with pytest.raises(AssertionError):
        assert_same(_frame(), _frame().head(3))
    with pytest.raises(AssertionError):
        assert_same(_frame(), _frame().select("k", "x", "n", "y"))
    with pytest.raises(AssertionError):
        assert_same(_frame(), _frame(n=[1.0, 2.0, None, 4.0]))
