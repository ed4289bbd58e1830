"""FeatureSchema: fitting on train only, index conventions, sequences, numerics and its errors."""

import numpy as np
import pandas as pd
import pytest
import torch

from mlpzoo.data.schema import OOV, PAD, CategoricalField, FeatureSchema, NumericField, SequenceField
from mlpzoo.errors import ConfigError, DataError


def _one_line(err):
    message = str(err.value)
    assert message and "\n" not in message
    return message


def _cat_schema(**kwargs):
    return FeatureSchema(categorical=[CategoricalField("c", **kwargs)])


def test_vocabulary_from_train_only_and_oov():
    train = pd.DataFrame({"c": ["a", "b", "b", "c", "b", "a"], "label": [0, 1, 0, 1, 1, 0]})
    test = pd.DataFrame({"c": ["z", "a", "b", "c", None], "label": [0, 1, 0, 1, 0]})
    schema = _cat_schema().fit(train)
    field = schema.categorical[0]
    # by decreasing count: b (3), a (2), c (1); kept categories start at 2
    assert field.vocab == ["b", "a", "c"] and field.counts == [3, 2, 1]
    assert field.vocab_size == 5
    assert schema.vocab_sizes() == [5]
    assert field.row_counts().tolist() == [0, 0, 3, 2, 1]
    codes = schema.encode(test).categorical[:, 0].tolist()
    assert codes == [OOV, 3, 2, 4, OOV]
    assert OOV == 1 and PAD == 0
    # fitting is not done on the encoded frame: "z" stays out of the vocabulary
    assert "z" not in field.vocab
    # the original schema is untouched (fit returns a copy)
    assert _cat_schema().categorical[0].vocab is None


def test_vocabulary_order_ties_by_token_and_independent_of_row_order():
    rows = ["q", "p", "r", "p", "q", "s"]
    a = _cat_schema().fit(pd.DataFrame({"c": rows, "label": 0}))
    b = _cat_schema().fit(pd.DataFrame({"c": rows[::-1], "label": 0}))
    assert a.categorical[0].vocab == ["p", "q", "r", "s"] == b.categorical[0].vocab


def test_min_count_sends_rare_categories_to_oov():
    train = pd.DataFrame({"c": ["a", "a", "a", "b", "b", "c"], "label": 0})
    schema = _cat_schema(min_count=2).fit(train)
    assert schema.categorical[0].vocab == ["a", "b"]
    codes = schema.encode(train).categorical[:, 0].tolist()
    assert codes == [2, 2, 2, 3, 3, OOV]
    assert _cat_schema(min_count=4).fit(train).categorical[0].vocab == []


def test_integer_categories_are_matched_as_text():
    train = pd.DataFrame({"c": [10, 20, 20], "label": 0})
    schema = _cat_schema().fit(train)
    assert schema.encode(pd.DataFrame({"c": [20, 10, 30], "label": 0})).categorical[:, 0].tolist() == [2, 3, OOV]
    assert schema.encode(pd.DataFrame({"c": ["20", "10"], "label": 0})).categorical[:, 0].tolist() == [2, 3]


def test_integer_categories_with_missing_values():
    schema = _cat_schema().fit(pd.DataFrame({"c": [1, 2, 2], "label": 0}))
    codes = schema.encode(pd.DataFrame({"c": [1, np.nan, 2], "label": 0})).categorical[:, 0].tolist()
    assert codes == [3, OOV, 2]


def _seq_schema(max_len=3):
    return FeatureSchema(
        categorical=[CategoricalField("item")], sequence=[SequenceField("hist", shares="item", max_len=max_len)]
    )


def test_sequences_keep_most_recent_left_padded():
    train = pd.DataFrame({"item": ["a", "b", "c", "d", "a"], "hist": ["", "a", "a b", "a b c", "x"], "label": 0})
    schema = _seq_schema(3).fit(train)
    vocab = schema.categorical[0].vocab
    code = {tok: i + 2 for i, tok in enumerate(vocab)}
    frame = pd.DataFrame(
        {
            "item": ["a"] * 6,
            "hist": ["a b c d", "d", "", None, "a zz", ["c", "b"]],
            "label": 0,
        }
    )
    seq = schema.encode(frame).sequences["hist"]
    assert seq.dtype == torch.int64 and seq.shape == (6, 3)
    assert seq.tolist() == [
        [code["b"], code["c"], code["d"]],  # most recent 3 of 4
        [PAD, PAD, code["d"]],
        [PAD, PAD, PAD],
        [PAD, PAD, PAD],
        [PAD, code["a"], OOV],
        [PAD, code["c"], code["b"]],
    ]
    # sequence tokens never enter the vocabulary (only the shared field's training column does)
    assert "x" not in vocab


def test_sequence_separator_and_prebuilt_arrays():
    schema = FeatureSchema(
        categorical=[CategoricalField("item")],
        sequence=[SequenceField("hist", shares="item", max_len=4, separator="|")],
    )
    fitted = schema.fit(pd.DataFrame({"item": ["a", "b", "b"], "label": 0}))
    frame = pd.DataFrame({"item": ["a"], "hist": ["a|b"], "label": 0})
    assert fitted.encode(frame).sequences["hist"].tolist() == [[0, 0, 3, 2]]
    # a pre-encoded array replaces the column (which may then be absent)
    table = fitted.encode(frame.drop(columns="hist"), sequences={"hist": np.array([[0, 0, 0, 2]])})
    assert table.sequences["hist"].tolist() == [[0, 0, 0, 2]]


def _num_schema(**kwargs):
    return FeatureSchema(numeric=[NumericField("x", **kwargs)])


def test_numeric_standardised_with_training_statistics():
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, 6.0], "label": 0})
    schema = _num_schema().fit(train)
    mean, std = 3.0, float(np.std([1.0, 2.0, 3.0, 6.0]))
    assert schema.numeric[0].stats["mean"] == pytest.approx(mean)
    out = schema.encode(pd.DataFrame({"x": [3.0, 10.0], "label": 0})).numeric[:, 0]
    np.testing.assert_allclose(out.numpy(), [0.0, (10.0 - mean) / std], rtol=1e-6)
    minmax = _num_schema(normalize="minmax").fit(train)
    np.testing.assert_allclose(
        minmax.encode(pd.DataFrame({"x": [1.0, 6.0, 3.5], "label": 0})).numeric[:, 0].numpy(), [0, 1, 0.5]
    )
    raw = _num_schema(normalize="none").fit(train)
    np.testing.assert_allclose(raw.encode(pd.DataFrame({"x": [7.5], "label": 0})).numeric[:, 0].numpy(), [7.5])
    # training NaN is ignored by the statistics
    with_nan = _num_schema().fit(pd.DataFrame({"x": [1.0, np.nan, 3.0], "label": 0}))
    assert with_nan.numeric[0].stats["mean"] == pytest.approx(2.0)


def test_numeric_fill_mean_number_and_error():
    train = pd.DataFrame({"x": [2.0, 4.0, 6.0], "label": 0})
    frame = pd.DataFrame({"x": [np.nan, 6.0], "label": 0})
    mean = _num_schema(fill="mean", normalize="none").fit(train)
    np.testing.assert_allclose(mean.encode(frame).numeric[:, 0].numpy(), [4.0, 6.0])
    number = _num_schema(fill=-1.0, normalize="none").fit(train)
    np.testing.assert_allclose(number.encode(frame).numeric[:, 0].numpy(), [-1.0, 6.0])
    strict = _num_schema(fill="error").fit(train)
    strict.encode(pd.DataFrame({"x": [1.0], "label": 0}))  # no NaN: fine
    with pytest.raises(DataError) as info:
        strict.encode(frame)
    assert "'x'" in _one_line(info)


def test_numeric_infinite_and_non_numeric_values():
    schema = _num_schema().fit(pd.DataFrame({"x": [1.0, 2.0], "label": 0}))
    with pytest.raises(DataError) as info:
        schema.encode(pd.DataFrame({"x": [1.0, np.inf], "label": 0}))
    assert "'x'" in _one_line(info) and "1" in str(info.value)
    with pytest.raises(DataError) as info:
        schema.encode(pd.DataFrame({"x": [1.0, -np.inf], "label": 0}))
    _one_line(info)
    with pytest.raises(DataError) as info:
        schema.encode(pd.DataFrame({"x": ["1.5", "abc"], "label": 0}))
    message = _one_line(info)
    assert "'x'" in message and "abc" in message
    with pytest.raises(DataError) as info:
        _num_schema().fit(pd.DataFrame({"x": ["3", "three"], "label": 0}))
    assert "three" in _one_line(info)
    with pytest.raises(DataError) as info:
        _num_schema().fit(pd.DataFrame({"x": [np.nan, np.inf], "label": 0}))
    _one_line(info)
    # numeric strings are accepted (mean 1.5, std 0.5)
    np.testing.assert_allclose(schema.encode(pd.DataFrame({"x": ["2.5"], "label": 0})).numeric[:, 0].numpy(), [2.0])


def test_missing_columns_named():
    schema = FeatureSchema(categorical=[CategoricalField("user")], numeric=[NumericField("price")]).fit(
        pd.DataFrame({"user": ["u"], "price": [1.0], "label": [1]})
    )
    with pytest.raises(DataError) as info:
        schema.encode(pd.DataFrame({"user": ["u"], "label": [1]}), where="valid")
    message = _one_line(info)
    assert "price" in message and "valid" in message
    with pytest.raises(DataError) as info:
        schema.encode(pd.DataFrame({"user": ["u"], "price": [1.0]}))
    assert "label" in _one_line(info)
    with pytest.raises(DataError) as info:
        FeatureSchema(categorical=[CategoricalField("user")]).fit(pd.DataFrame({"usr": ["u"]}))
    assert "user" in _one_line(info)


def test_bad_labels():
    schema = _cat_schema().fit(pd.DataFrame({"c": ["a"], "label": [1]}))
    with pytest.raises(DataError) as info:
        schema.encode(pd.DataFrame({"c": ["a", "a"], "label": [1, "yes"]}))
    assert "label" in _one_line(info)
    with pytest.raises(DataError):
        schema.encode(pd.DataFrame({"c": ["a", "a"], "label": [1, None]}))


def test_groups_keep_identity_of_unseen_users():
    schema = FeatureSchema(categorical=[CategoricalField("user")], group="user").fit(
        pd.DataFrame({"user": ["a"], "label": [1]})
    )
    table = schema.encode(pd.DataFrame({"user": ["x", "y", "x", "a"], "label": [0, 1, 1, 0]}))
    assert table.categorical[:, 0].tolist() == [OOV, OOV, OOV, 2]
    assert table.group.tolist() == [0, 1, 0, 2]


def test_schema_declaration_errors():
    with pytest.raises(ConfigError) as info:
        FeatureSchema(categorical=[CategoricalField("a")], numeric=[NumericField("a")])
    message = _one_line(info)
    assert "a" in message and "twice" in message
    with pytest.raises(ConfigError) as info:
        FeatureSchema(categorical=[CategoricalField("a")], sequence=[SequenceField("h", shares="b")])
    assert "'b'" in _one_line(info)
    with pytest.raises(ConfigError) as info:
        _cat_schema().encode(pd.DataFrame({"c": ["a"], "label": [0]}))
    assert "fit" in _one_line(info)
    with pytest.raises(ConfigError):
        _cat_schema().fit(pd.DataFrame({"c": ["a"], "label": [0]})).categorical_index("nope")


def test_from_dict_and_unknown_keys():
    schema = FeatureSchema.from_dict(
        {
            "categorical": ["user", {"name": "item", "min_count": 2, "source": "item"}],
            "numeric": [{"name": "price", "fill": "error"}],
            "sequence": [{"name": "hist", "shares": "item", "max_len": 7}],
            "label": "click",
            "group": "user",
        }
    )
    assert [f.name for f in schema.categorical] == ["user", "item"]
    assert schema.categorical[1].min_count == 2 and schema.numeric[0].fill == "error"
    assert schema.sequence[0].max_len == 7 and schema.label == "click" and schema.group == "user"
    assert schema.fields_from("item") == ["item"]

    with pytest.raises(ConfigError) as info:
        FeatureSchema.from_dict({"categorical": ["a"], "numerics": ["b"]})
    message = _one_line(info)
    assert "numerics" in message
    for key in ("categorical", "numeric", "sequence", "label", "group"):
        assert key in message
    with pytest.raises(ConfigError) as info:
        FeatureSchema.from_dict({"categorical": [{"name": "a", "mincount": 3}]})
    message = _one_line(info)
    assert "mincount" in message and "min_count" in message


def test_to_dict_round_trip_keeps_fitted_state():
    train = pd.DataFrame({"c": ["a", "b", "b"], "x": [1.0, 2.0, 4.0], "label": [0, 1, 0]})
    schema = FeatureSchema(categorical=[CategoricalField("c")], numeric=[NumericField("x")]).fit(train)
    again = FeatureSchema.from_dict(schema.to_dict())
    a, b = schema.encode(train), again.encode(train)
    assert torch.equal(a.categorical, b.categorical) and torch.equal(a.numeric, b.numeric)
