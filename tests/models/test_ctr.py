"""Every registered CTR model on a small synthetic schema: shapes, gradients, regularisation, errors."""

import numpy as np
import pandas as pd
import pytest
import torch

import mlpzoo
from mlpzoo.data.schema import CategoricalField, FeatureSchema, NumericField, SequenceField
from mlpzoo.errors import ConfigError

CTR_MODELS = mlpzoo.list_models(family="ctr")
SMALL = {
    "dnn": dict(hidden_units=(16, 8)),
    "deepfm": dict(hidden_units=(16, 8)),
    "dcn": dict(hidden_units=(16, 8), num_cross_layers=2),
    "dcnv2": dict(hidden_units=(16, 8), num_cross_layers=2),
    "dualmlp": dict(mlp1_hidden_units=(16,), mlp2_hidden_units=(8,)),
    "finalmlp": dict(
        mlp1_hidden_units=(16,),
        mlp2_hidden_units=(8,),
        gate_hidden_units=(12,),
        num_heads=2,
        stream1_context=("user_id",),
        stream2_context=("item_id",),
    ),
    "din": dict(attention_hidden_units=(8,), hidden_units=(16, 8)),
    "din_base": dict(attention_hidden_units=(8,), hidden_units=(16, 8)),
}


def _frame(n=64, seed=0):
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 12, size=n)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 10, size=n).astype(str),
            "item_id": items.astype(str),
            "cate_id": (items % 4).astype(str),
            "age": rng.choice(["18", "25", "35", "50"], size=n),
            "price": rng.normal(10, 3, size=n),
            "hist_item": [" ".join(map(str, rng.integers(0, 12, size=rng.integers(0, 8)))) for _ in range(n)],
            "hist_cate": [" ".join(map(str, rng.integers(0, 4, size=rng.integers(0, 8)))) for _ in range(n)],
            "label": rng.integers(0, 2, size=n).astype(float),
        }
    )


def _schema(numeric=True):
    return FeatureSchema(
        categorical=[
            CategoricalField("user_id", source="user"),
            CategoricalField("item_id", source="item"),
            CategoricalField("cate_id", source="item"),
            CategoricalField("age", source="user"),
        ],
        numeric=[NumericField("price")] if numeric else [],
        sequence=[
            SequenceField("hist_item", shares="item_id", max_len=5),
            SequenceField("hist_cate", shares="cate_id", max_len=5),
        ],
    )


@pytest.fixture(scope="module")
def data():
    frame = _frame()
    schema = _schema().fit(frame)
    return schema, schema.encode(frame).as_batch()


@pytest.fixture(scope="module")
def data_no_numeric():
    frame = _frame(seed=1)
    schema = _schema(numeric=False).fit(frame)
    return schema, schema.encode(frame).as_batch()


def _build(name, schema, **extra):
    torch.manual_seed(0)
    return mlpzoo.create_model(name, schema=schema, embedding_dim=4, **{**SMALL[name], **extra})


def _check_forward_backward(model, batch):
    model.train()
    out = model(batch)
    assert out.shape == (len(batch["label"]),)
    assert torch.isfinite(out).all()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, batch["label"]) + model.regularization_loss(batch)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    zero = [
        n for n, p in model.named_parameters() if p.requires_grad and p.grad is not None and not p.grad.abs().sum() > 0
    ]
    return missing, zero


def test_all_ctr_models_are_covered():
    assert set(CTR_MODELS) == set(SMALL), "a new CTR model needs an entry in SMALL"


@pytest.mark.parametrize("name", CTR_MODELS)
def test_forward_backward(name, data):
    schema, batch = data
    model = _build(name, schema)
    missing, zero = _check_forward_backward(model, batch)
    assert missing == []
    assert zero == []
    if name == "din_base":  # sum pooling: no attention units are built
        assert len(model.attention) == 0
    assert len(CTR_MODELS) >= 8


@pytest.mark.parametrize("name", CTR_MODELS)
def test_without_numeric_fields_only_empty_vector_is_unused(name, data_no_numeric):
    schema, batch = data_no_numeric
    model = _build(name, schema)
    assert model.numeric_vectors.numel() == 0
    missing, _ = _check_forward_backward(model, batch)
    assert missing == ["numeric_vectors"]


@pytest.mark.parametrize("name", CTR_MODELS)
def test_eval_mode_is_deterministic_and_row_independent(name, data):
    schema, batch = data
    model = _build(name, schema).eval()
    with torch.no_grad():
        full = model(batch)
        again = model(batch)
        head = model(
            {
                "categorical": batch["categorical"][:5],
                "numeric": batch["numeric"][:5],
                "sequences": {k: v[:5] for k, v in batch["sequences"].items()},
            }
        )
    torch.testing.assert_close(full, again)
    torch.testing.assert_close(full[:5], head, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CTR_MODELS)
def test_regularization_loss(name, data):
    schema, batch = data
    model = _build(name, schema, embedding_regularizer=0.05)
    reg = model.regularization_loss(batch)
    assert torch.is_tensor(reg) and reg.item() > 0 and reg.requires_grad
    off = _build(name, schema, embedding_regularizer=0.0)
    assert float(off.regularization_loss(batch)) == 0.0


def test_full_regularizer_value(data):
    schema, batch = data
    model = _build("dnn", schema, embedding_regularizer=0.05)
    expected = 0.05 / 2 * model.embedding.weight.detach().pow(2).sum()
    torch.testing.assert_close(model.regularization_loss(batch).detach(), expected)
    final = _build("finalmlp", schema, embedding_regularizer=0.05)
    expected = (
        0.05 / 2 * (final.embedding.weight.detach().pow(2).sum() + final.context_embedding.weight.detach().pow(2).sum())
    )
    torch.testing.assert_close(final.regularization_loss(batch).detach(), expected)


def test_mini_batch_regularizer_value(data):
    schema, batch = data
    model = _build("din", schema, embedding_regularizer=0.01)
    assert model.regularizer_mode == "mini_batch"
    counts = np.concatenate([f.row_counts() for f in schema.categorical])
    offsets = np.concatenate([[0], np.cumsum(schema.vocab_sizes())[:-1]])
    rows = set()
    for f in range(4):
        rows |= {int(offsets[f] + i) for i in batch["categorical"][:, f].tolist()}
    for name, shares in (("hist_item", 1), ("hist_cate", 2)):
        rows |= {int(offsets[shares] + i) for i in batch["sequences"][name].flatten().tolist()}
    weight = model.embedding.weight.detach().double().numpy()
    expected = 0.01 * sum((weight[r] ** 2).sum() / max(counts[r], 1) for r in rows)
    assert model.regularization_loss(batch).item() == pytest.approx(expected, rel=1e-5)


def test_finalmlp_context_variants(data):
    schema, batch = data
    for contexts in [((), ()), (("user_id", "age"), ()), ((), ("item_id", "cate_id"))]:
        model = _build("finalmlp", schema, stream1_context=contexts[0], stream2_context=contexts[1])
        if contexts == ((), ()):
            assert model.context_embedding is None
        assert all((g.context_bias is None) == bool(ctx) for g, ctx in zip(model.gates, contexts))
        missing, _ = _check_forward_backward(model, batch)
        assert missing == []
        for gate, ctx in zip(model.gates, contexts):
            if not ctx:
                # The learnable context vector is wired in (gradient exists, even if zero through ReLU at 0).
                assert gate.context_bias.grad is not None
    no_gate = _build("finalmlp", schema, use_gating=False)
    assert not hasattr(no_gate, "gates")
    missing, zero = _check_forward_backward(no_gate, batch)
    assert missing == [] and zero == []


def test_finalmlp_gates_use_their_context(data):
    schema, batch = data
    model = _build("finalmlp", schema).eval()
    changed = {**batch, "categorical": batch["categorical"].clone()}
    # Changing only the user id changes stream 1's gate (and the embedding): output changes.
    changed["categorical"][:, 0] = torch.roll(batch["categorical"][:, 0], 1)
    with torch.no_grad():
        assert not torch.allclose(model(batch), model(changed))


@pytest.mark.parametrize("contexts", [(("user_id",), ("item_id",)), (("user_id", "age"), ())])
def test_finalmlp_gates_on_distinct_contexts_equal_per_row_gates(data, contexts):
    # The gate MLPs run once per distinct context (64 rows, 10 users, 12 items here); outputs and every
    # gradient must equal running them on every row, dropout masks included (same seed).
    schema, batch = data
    model = _build("finalmlp", schema, stream1_context=contexts[0], stream2_context=contexts[1]).train()

    def per_row(model, batch):
        flat = model.field_embeddings(batch).flatten(1)
        context = model.context_embedding(batch["categorical"][:, model.context_fields])
        x1, x2 = (
            gate(flat, context[:, positions].flatten(1) if positions else None)
            for gate, positions in zip(model.gates, model.context_positions)
        )
        return model.fusion(model.mlp1(x1), model.mlp2(x2)).squeeze(-1)

    results = []
    for forward in (lambda: model(batch), lambda: per_row(model, batch)):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(3)
        out = forward()
        (out * torch.linspace(-1, 1, out.numel())).sum().backward()
        results.append([out] + [p.grad for p in model.parameters()])
    for distinct, every_row in zip(*results):
        assert torch.allclose(distinct, every_row, rtol=1e-5, atol=1e-6)


def test_finalmlp_default_contexts_need_matching_fields(data):
    schema, _ = data
    with pytest.raises(ConfigError) as info:
        mlpzoo.create_model("finalmlp", schema=schema)
    assert "user" in str(info.value) and "\n" not in str(info.value)


def test_din_sequence_pairs(data):
    schema, batch = data
    model = _build("din", schema)
    assert model.pairs == [("hist_item", 1), ("hist_cate", 2)]
    with pytest.raises(ConfigError):
        _build("din", schema, target_pairs=(("hist_nope", "item_id"),))
    only_item = _build("din", schema, target_pairs=(("hist_item", "item_id"),))
    missing, zero = _check_forward_backward(only_item, batch)
    assert missing == [] and zero == []
    with pytest.raises(ConfigError):
        _build("din", schema, pooling="max")


def test_din_attention_depends_on_history(data):
    schema, batch = data
    model = _build("din", schema).eval()
    changed = {**batch, "sequences": dict(batch["sequences"])}
    changed["sequences"]["hist_item"] = torch.roll(batch["sequences"]["hist_item"], 1, dims=0)
    with torch.no_grad():
        assert not torch.allclose(model(batch), model(changed))


def test_create_model_unknown_kwarg(data):
    schema, _ = data
    with pytest.raises(ConfigError) as info:
        mlpzoo.create_model("dnn", schema=schema, hiden_units=(8,))
    assert "hiden_units" in str(info.value)


def test_finalmlp_heads_must_divide_widths(data):
    schema, _ = data
    with pytest.raises(ConfigError) as info:
        mlpzoo.create_model(
            "finalmlp", schema=schema, num_heads=3, stream1_context=("user_id",), stream2_context=("item_id",)
        )
    assert "400" in str(info.value) and "100" in str(info.value)


def test_unfitted_schema_refused():
    with pytest.raises(ConfigError):
        mlpzoo.create_model("dnn", schema=_schema())
    with pytest.raises(ConfigError):
        mlpzoo.create_model("dnn", schema={"categorical": []})


@pytest.mark.parametrize("name", ["dnn", "din"])
def test_batch_not_matching_schema_is_refused(name, data):
    from mlpzoo.errors import DataError

    schema, batch = data
    model = _build(name, schema)
    with pytest.raises(DataError) as info:
        model({**batch, "categorical": batch["categorical"][:, :3]})
    assert "user_id" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError) as info:
        model({**batch, "sequences": {"hist_cate": batch["sequences"]["hist_cate"]}})
    assert "hist_item" in str(info.value)
