"""Click-through-rate models: DNN, DeepFM, DCN, DCNv2, DualMLP, FinalMLP and DIN.

- FinalMLP and DualMLP: Mao et al., "FinalMLP: An Enhanced Two-Stream MLP Model for CTR
  Prediction", AAAI 2023, https://arxiv.org/abs/2304.00902.
- DIN: Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018,
  https://arxiv.org/abs/1706.06978.
- DeepFM: Guo et al., IJCAI 2017, arXiv:1703.04247. DCN: Wang et al., ADKDD 2017,
  arXiv:1708.05123. DCNv2: Wang et al., WWW 2021, arXiv:2008.13535.

Every model takes a fitted :class:`~mlpzoo.data.schema.FeatureSchema` and returns logits ``(B,)``
for a batch from :class:`~mlpzoo.data.tensors.TensorTable`. Defaults are the published Frappe_x1
hyperparameters of the FinalMLP paper and the BARS benchmark (embedding 10, embedding
regulariser 0.05, batch norm, dropout as tuned there).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from mlpzoo.data.schema import OOV, PAD, CategoricalField, FeatureSchema, NumericField, SequenceField
from mlpzoo.errors import ConfigError, DataError
from mlpzoo.layers.fields import FieldEmbedding
from mlpzoo.layers.fusion import BilinearFusion
from mlpzoo.layers.gating import FeatureGating
from mlpzoo.layers.interaction import CrossNetwork, CrossNetworkV2, FactorizationMachine
from mlpzoo.layers.interest import LocalActivationUnit, masked_mean_pool, masked_sum_pool
from mlpzoo.layers.mlp import MLP, check_width
from mlpzoo.registry import register_model


class CTRModel(nn.Module):
    """Shared embedding front end: categorical fields, numeric fields and pooled sequences.

    Each numeric field becomes ``value * v_f`` (one learned vector per field); each sequence field
    is embedded with the table of the field it shares and mean-pooled over valid positions.

    Args:
        schema: fitted feature schema.
        embedding_dim: width of every field embedding.
        embedding_regularizer: lambda of the embedding L2 penalty added to the loss.
        regularizer_mode: ``"full"`` penalises the whole table every batch (``lambda/2 ||E||^2``,
            as FuxiCTR); ``"mini_batch"`` is DIN's mini-batch aware regulariser.
    """

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        embedding_regularizer: float = 0.0,
        regularizer_mode: str = "full",
    ):
        super().__init__()
        if not isinstance(schema, FeatureSchema):
            raise ConfigError(
                f"{type(self).__name__} needs schema=FeatureSchema (fitted on the training frame), got "
                f"{type(schema).__name__}"
            )
        check_width(type(self).__name__, "embedding_dim", embedding_dim)
        if regularizer_mode not in ("full", "mini_batch"):
            raise ConfigError(f"regularizer_mode={regularizer_mode!r}; use 'full' or 'mini_batch'")
        self.schema = schema
        self.embedding_dim = embedding_dim
        self.embedding_regularizer = embedding_regularizer
        self.regularizer_mode = regularizer_mode
        self.embedding = FieldEmbedding(
            schema.vocab_sizes(), embedding_dim, frequencies=torch.as_tensor(schema.row_counts())
        )
        self.numeric_vectors = nn.Parameter(torch.randn(len(schema.numeric), embedding_dim) * 1e-4)
        self.sequence_fields = [(s.name, schema.categorical_index(s.shares)) for s in schema.sequence]
        self.num_fields = len(schema.categorical) + len(schema.numeric) + len(schema.sequence)

    def check_batch(self, batch) -> None:
        """Refuse a batch that does not match the schema, naming what differs (shapes and dtypes only)."""
        if not isinstance(batch, dict):
            raise DataError(
                f"{type(self).__name__} takes a batch dict from TensorTable.as_batch(), got {type(batch).__name__}; "
                "encode frames with schema.encode and iterate with iter_batches"
            )
        categorical = batch.get("categorical")
        if (
            not isinstance(categorical, torch.Tensor)
            or categorical.dim() != 2
            or categorical.shape[1] != len(self.schema.categorical)
        ):
            got = tuple(categorical.shape) if isinstance(categorical, torch.Tensor) else type(categorical).__name__
            raise DataError(
                f"batch['categorical'] must be (batch, {len(self.schema.categorical)}) ids for fields "
                f"{[f.name for f in self.schema.categorical]}, got {got}; encode frames with the model's schema"
            )
        if categorical.dtype not in (torch.int64, torch.int32):
            raise DataError(
                f"batch['categorical'] must hold integer ids, got {categorical.dtype}; encode frames with schema.encode"
            )
        rows = categorical.shape[0]
        if self.schema.numeric:
            numeric = batch.get("numeric")
            expected = (rows, len(self.schema.numeric))
            if (
                not isinstance(numeric, torch.Tensor)
                or tuple(numeric.shape) != expected
                or not numeric.is_floating_point()
            ):
                got = (
                    f"{tuple(numeric.shape)} {numeric.dtype}"
                    if isinstance(numeric, torch.Tensor)
                    else type(numeric).__name__
                )
                raise DataError(
                    f"batch['numeric'] must be float {expected} for fields {[f.name for f in self.schema.numeric]}, "
                    f"got {got}; encode frames with the model's schema"
                )
        sequences = batch.get("sequences") or {}
        for name, _ in self.sequence_fields:
            ids = sequences.get(name)
            if ids is None:
                raise DataError(
                    f"batch['sequences'] lacks {name!r}, which the schema declares; encode frames with the model's "
                    "schema"
                )
            if (
                not isinstance(ids, torch.Tensor)
                or ids.dim() != 2
                or ids.shape[0] != rows
                or ids.dtype not in (torch.int64, torch.int32)
            ):
                got = f"{tuple(ids.shape)} {ids.dtype}" if isinstance(ids, torch.Tensor) else type(ids).__name__
                raise DataError(
                    f"batch['sequences'][{name!r}] must be integer ids (batch={rows}, max_len), got {got}; "
                    "encode frames with the model's schema"
                )

    def field_embeddings(self, batch) -> torch.Tensor:
        """``(B, num_fields, D)``: categorical, then numeric, then pooled sequence fields."""
        self.check_batch(batch)
        parts = [self.embedding(batch["categorical"])]
        if self.schema.numeric:
            parts.append(batch["numeric"].unsqueeze(-1) * self.numeric_vectors)
        for name, field in self.sequence_fields:
            ids = batch["sequences"][name]
            parts.append(masked_mean_pool(self.embedding.lookup(field, ids), ids > 0).unsqueeze(1))
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def regularization_loss(self, batch) -> torch.Tensor | float:
        if not self.embedding_regularizer:
            return 0.0
        if self.regularizer_mode == "full":
            return self.embedding_regularizer / 2 * self.embedding.l2_penalty()
        rows = [self.embedding.rows(batch["categorical"]).flatten()]
        rows += [self.embedding.rows(batch["sequences"][name], field).flatten() for name, field in self.sequence_fields]
        return self.embedding_regularizer * self.embedding.mini_batch_penalty(torch.cat(rows))


def _example_schema() -> FeatureSchema:
    """A tiny fitted schema built in code: user, item and category ids, a price, two behaviour histories."""
    sizes = {"user": ("user", 5), "item_id": ("item", 7), "cate_id": ("item", 3)}
    categorical = [
        CategoricalField(name, source=source).from_counts([f"{name}{i}" for i in range(size)], list(range(size, 0, -1)))
        for name, (source, size) in sizes.items()
    ]
    numeric = [NumericField("price", stats={"mean": 0.0, "std": 1.0, "min": -2.0, "max": 2.0})]
    sequence = [
        SequenceField("hist_item", shares="item_id", max_len=4),
        SequenceField("hist_cate", shares="cate_id", max_len=4),
    ]
    return FeatureSchema(categorical, numeric, sequence)


def _example_batch(schema: FeatureSchema, rows: int = 3) -> dict:
    """A batch shaped like ``TensorTable.as_batch()``: ids from OOV up, histories of 1.. tokens padded in front."""
    generator = torch.Generator().manual_seed(0)
    vocab = schema.vocab_sizes()
    categorical = torch.stack([torch.randint(OOV, size, (rows,), generator=generator) for size in vocab], dim=1)
    numeric = torch.randn(rows, len(schema.numeric), generator=generator)
    sequences = {}
    for field in schema.sequence:
        size = vocab[schema.categorical_index(field.shares)]
        ids = torch.randint(OOV, size, (rows, field.max_len), generator=generator)
        lengths = torch.arange(rows) % field.max_len + 1
        ids[torch.arange(field.max_len) < field.max_len - lengths[:, None]] = PAD
        sequences[field.name] = ids
    return {"categorical": categorical, "numeric": numeric, "sequences": sequences}


def _ctr_example(**kwargs) -> tuple[dict, tuple]:
    schema = _example_schema()
    return {"schema": schema, "embedding_dim": 4, **kwargs}, (_example_batch(schema),)


def _mlp_example() -> tuple[dict, tuple]:
    return _ctr_example(hidden_units=(8, 8))


def _cross_example() -> tuple[dict, tuple]:
    return _ctr_example(num_cross_layers=2, hidden_units=(8,))


def _two_stream_example() -> tuple[dict, tuple]:
    return _ctr_example(mlp1_hidden_units=(8,), mlp2_hidden_units=(4,))


def _finalmlp_example() -> tuple[dict, tuple]:
    return _ctr_example(
        mlp1_hidden_units=(8,),
        mlp2_hidden_units=(4,),
        gate_hidden_units=(8,),
        num_heads=2,
        stream1_context=("user",),
        stream2_context=("item_id",),
    )


def _din_example() -> tuple[dict, tuple]:
    return _ctr_example(attention_hidden_units=(8,), hidden_units=(8,))


@register_model("dnn", family="ctr", paper="finalmlp", example=_mlp_example)
class DNN(CTRModel):
    """Embedding & MLP: flattened field embeddings through one MLP."""

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        hidden_units: Sequence[int] = (400, 400, 400),
        activation: str = "relu",
        dropout: float = 0.2,
        batch_norm: bool = True,
        embedding_regularizer: float = 0.05,
        regularizer_mode: str = "full",
    ):
        super().__init__(schema, embedding_dim, embedding_regularizer, regularizer_mode)
        self.mlp = MLP(self.num_fields * embedding_dim, hidden_units, 1, activation, dropout, batch_norm)

    def forward(self, batch) -> torch.Tensor:
        return self.mlp(self.field_embeddings(batch).flatten(1)).squeeze(-1)


@register_model("deepfm", family="ctr", paper="finalmlp", example=_mlp_example)
class DeepFM(CTRModel):
    """First-order weights + factorization machine + MLP over the same embeddings (BARS Frappe_x1 config)."""

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        hidden_units: Sequence[int] = (400, 400, 400),
        activation: str = "relu",
        dropout: float = 0.2,
        batch_norm: bool = True,
        embedding_regularizer: float = 0.05,
        regularizer_mode: str = "full",
    ):
        super().__init__(schema, embedding_dim, embedding_regularizer, regularizer_mode)
        self.first_order = FieldEmbedding(schema.vocab_sizes(), 1, init_std=1e-4)
        self.fm = FactorizationMachine()
        self.mlp = MLP(self.num_fields * embedding_dim, hidden_units, 1, activation, dropout, batch_norm)

    def forward(self, batch) -> torch.Tensor:
        emb = self.field_embeddings(batch)
        linear = self.first_order(batch["categorical"]).sum(dim=(1, 2))
        return linear + self.fm(emb).squeeze(-1) + self.mlp(emb.flatten(1)).squeeze(-1)


@register_model("dcn", family="ctr", paper="finalmlp", example=_cross_example)
class DCN(CTRModel):
    """Deep & Cross: a cross network beside an MLP, concatenated into the output layer."""

    cross_class = CrossNetwork

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        num_cross_layers: int = 3,
        hidden_units: Sequence[int] = (400, 400, 400),
        activation: str = "relu",
        dropout: float = 0.2,
        batch_norm: bool = True,
        embedding_regularizer: float = 0.05,
        regularizer_mode: str = "full",
    ):
        super().__init__(schema, embedding_dim, embedding_regularizer, regularizer_mode)
        width = self.num_fields * embedding_dim
        self.cross = self.cross_class(width, num_cross_layers)
        self.mlp = MLP(width, hidden_units, None, activation, dropout, batch_norm)
        self.output = nn.Linear(width + self.mlp.output_dim, 1)

    def forward(self, batch) -> torch.Tensor:
        x0 = self.field_embeddings(batch).flatten(1)
        return self.output(torch.cat([self.cross(x0), self.mlp(x0)], dim=-1)).squeeze(-1)


@register_model("dcnv2", family="ctr", paper="finalmlp", example=_cross_example)
class DCNv2(DCN):
    """DCN-V2, parallel structure with full-rank cross layers (BARS Frappe_x1: 4 layers, dropout 0.4)."""

    cross_class = CrossNetworkV2

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        num_cross_layers: int = 4,
        hidden_units: Sequence[int] = (400, 400, 400),
        activation: str = "relu",
        dropout: float = 0.4,
        batch_norm: bool = True,
        embedding_regularizer: float = 0.05,
        regularizer_mode: str = "full",
    ):
        super().__init__(
            schema,
            embedding_dim,
            num_cross_layers,
            hidden_units,
            activation,
            dropout,
            batch_norm,
            embedding_regularizer,
            regularizer_mode,
        )


@register_model("dualmlp", family="ctr", paper="finalmlp", example=_two_stream_example)
class DualMLP(CTRModel):
    """Two independent MLPs over the same embeddings, logits summed (FinalMLP's two-stream baseline)."""

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        mlp1_hidden_units: Sequence[int] = (400, 400, 400),
        mlp2_hidden_units: Sequence[int] = (400, 400, 400),
        mlp1_dropout: float = 0.2,
        mlp2_dropout: float = 0.2,
        batch_norm: bool = True,
        activation: str = "relu",
        embedding_regularizer: float = 0.05,
        regularizer_mode: str = "full",
    ):
        super().__init__(schema, embedding_dim, embedding_regularizer, regularizer_mode)
        width = self.num_fields * embedding_dim
        self.mlp1 = MLP(width, mlp1_hidden_units, 1, activation, mlp1_dropout, batch_norm)
        self.mlp2 = MLP(width, mlp2_hidden_units, 1, activation, mlp2_dropout, batch_norm)

    def forward(self, batch) -> torch.Tensor:
        flat = self.field_embeddings(batch).flatten(1)
        return (self.mlp1(flat) + self.mlp2(flat)).squeeze(-1)


@register_model("finalmlp", family="ctr", paper="finalmlp", example=_finalmlp_example)
class FinalMLP(CTRModel):
    """Two MLP streams, each fed its own context-gated view of the embeddings, fused bilinearly.

    Stream ``s`` sees ``2 * sigmoid(gate_s(context_s)) * e`` where ``context_s`` are the embeddings
    of ``stream{s}_context`` fields (taken from a separate context embedding table, as in the
    reference implementation) or, with no context fields, one learnable vector. Defaults are the
    paper's Frappe_x1 setting: streams [400] and [100] with dropout 0.4, gate hidden [400],
    contexts user / item, 5 fusion heads, embedding regulariser 0.05.
    """

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 10,
        mlp1_hidden_units: Sequence[int] = (400,),
        mlp2_hidden_units: Sequence[int] = (100,),
        mlp1_dropout: float = 0.4,
        mlp2_dropout: float = 0.4,
        mlp1_batch_norm: bool = True,
        mlp2_batch_norm: bool = True,
        activation: str = "relu",
        stream1_context: Sequence[str] = ("user",),
        stream2_context: Sequence[str] = ("item",),
        gate_hidden_units: Sequence[int] = (400,),
        use_gating: bool = True,
        num_heads: int = 5,
        embedding_regularizer: float = 0.05,
        regularizer_mode: str = "full",
    ):
        super().__init__(schema, embedding_dim, embedding_regularizer, regularizer_mode)
        width = self.num_fields * embedding_dim
        self.mlp1 = MLP(width, mlp1_hidden_units, None, activation, mlp1_dropout, mlp1_batch_norm)
        self.mlp2 = MLP(width, mlp2_hidden_units, None, activation, mlp2_dropout, mlp2_batch_norm)
        self.fusion = BilinearFusion(self.mlp1.output_dim, self.mlp2.output_dim, num_heads)
        self.use_gating = use_gating
        self.contexts = [[schema.categorical_index(name) for name in ctx] for ctx in (stream1_context, stream2_context)]
        if use_gating:
            context_fields = sorted({i for ctx in self.contexts for i in ctx})
            self.context_fields = context_fields
            self.context_positions = [[context_fields.index(i) for i in ctx] for ctx in self.contexts]
            self.context_embedding = (
                FieldEmbedding([schema.vocab_sizes()[i] for i in context_fields], embedding_dim)
                if context_fields
                else None
            )
            self.gates = nn.ModuleList(
                FeatureGating(width, len(ctx) * embedding_dim, gate_hidden_units, bias_dim=embedding_dim)
                for ctx in self.contexts
            )

    def regularization_loss(self, batch):
        penalty = super().regularization_loss(batch)
        if (
            self.use_gating
            and self.context_embedding is not None
            and self.embedding_regularizer
            and self.regularizer_mode == "full"
        ):
            penalty = penalty + self.embedding_regularizer / 2 * self.context_embedding.l2_penalty()
        return penalty

    def forward(self, batch) -> torch.Tensor:
        flat = self.field_embeddings(batch).flatten(1)
        x1 = x2 = flat
        if self.use_gating:
            x1, x2 = (self._gated(flat, batch, s) for s in range(2))
        return self.fusion(self.mlp1(x1), self.mlp2(x2)).squeeze(-1)

    def _gated(self, flat: torch.Tensor, batch, stream: int) -> torch.Tensor:
        """Stream ``stream``'s gated embeddings. In training the gate MLP runs once per distinct context
        (CTR contexts such as ``user`` repeat: about 540 distinct users and 2,250 items in a Frappe batch of
        4,096), which gives the same values and gradients as running it on every row. In evaluation it runs
        on every row, so that a row's prediction does not depend, even at float rounding, on which other
        rows share its batch (scikit-learn's subset invariance)."""
        gate, fields = self.gates[stream], self.contexts[stream]
        if not fields:
            return gate(flat)
        categorical, rows = batch["categorical"], None
        if self.training:
            ids = categorical[:, fields]
            distinct, rows = torch.unique(ids, dim=0, return_inverse=True)
            # Embed one occurrence of each distinct context (any one: they are equal rows).
            first = torch.empty(distinct.shape[0], dtype=torch.long, device=ids.device)
            first.scatter_(0, rows, torch.arange(ids.shape[0], device=ids.device))
            categorical = categorical[first]
        context = self.context_embedding(categorical[:, self.context_fields])
        return gate(flat, context[:, self.context_positions[stream]].flatten(1), rows=rows)


@register_model("din", family="ctr", paper="din", example=_din_example)
class DIN(CTRModel):
    """Deep Interest Network: target-aware attention pooling of each behaviour sequence.

    For every pair (behaviour sequence, target field), e.g. ``("hist_item", "item_id")``, the local
    activation unit weights the history by relevance to the target; all other fields are embedded
    as usual; everything is concatenated into an MLP. ``activation`` is ``"dice"`` (paper) or
    ``"prelu"``; ``pooling="sum"`` replaces attention by plain sum pooling (the paper's base
    model). Regularisation defaults to the mini-batch aware form.
    """

    def __init__(
        self,
        schema: FeatureSchema,
        embedding_dim: int = 18,
        target_pairs: Sequence[Sequence[str]] = (("hist_item", "item_id"), ("hist_cate", "cate_id")),
        attention_hidden_units: Sequence[int] = (80, 40),
        hidden_units: Sequence[int] = (200, 80),
        activation: str = "dice",
        attention_activation: str | None = None,
        use_softmax: bool = False,
        pooling: str = "attention",
        dropout: float = 0.0,
        embedding_regularizer: float = 0.01,
        regularizer_mode: str = "mini_batch",
    ):
        super().__init__(schema, embedding_dim, embedding_regularizer, regularizer_mode)
        if pooling not in ("attention", "sum"):
            raise ConfigError(f"pooling={pooling!r}; use 'attention' (DIN) or 'sum' (base model)")
        sequence_names = {s.name for s in schema.sequence}
        self.pairs = []
        for seq_name, target in target_pairs:
            if seq_name not in sequence_names:
                raise ConfigError(
                    f"DIN target_pairs names sequence {seq_name!r}, not in the schema's sequences "
                    f"{sorted(sequence_names)}"
                )
            self.pairs.append((seq_name, schema.categorical_index(target)))
        self.pooling = pooling
        self.attention = nn.ModuleList(
            LocalActivationUnit(embedding_dim, attention_hidden_units, attention_activation or activation, use_softmax)
            for _ in (self.pairs if pooling == "attention" else ())
        )
        other = len(schema.sequence) - len(self.pairs)
        width = (len(schema.categorical) + len(schema.numeric) + len(self.pairs) + other) * embedding_dim
        self.mlp = MLP(width, hidden_units, 1, activation, dropout, batch_norm=False)
        self.paired = {name for name, _ in self.pairs}

    def forward(self, batch) -> torch.Tensor:
        self.check_batch(batch)
        cat = self.embedding(batch["categorical"])
        parts = [cat.flatten(1)]
        if self.schema.numeric:
            parts.append((batch["numeric"].unsqueeze(-1) * self.numeric_vectors).flatten(1))
        for i, (seq_name, target_field) in enumerate(self.pairs):
            ids = batch["sequences"][seq_name]
            history = self.embedding.lookup(target_field, ids)
            mask = ids > 0
            if self.pooling == "attention":
                parts.append(self.attention[i](cat[:, target_field], history, mask))
            else:
                parts.append(masked_sum_pool(history, mask))
        for name, field in self.sequence_fields:
            if name not in self.paired:
                ids = batch["sequences"][name]
                parts.append(masked_mean_pool(self.embedding.lookup(field, ids), ids > 0))
        return self.mlp(torch.cat(parts, dim=-1)).squeeze(-1)


@register_model("din_base", family="ctr", paper="din", example=_din_example)
def din_base(schema: FeatureSchema, activation: str = "prelu", **kwargs) -> DIN:
    """DIN's base model: Embedding & MLP with sum pooling of the behaviours (PReLU)."""
    return DIN(schema, activation=activation, pooling="sum", **kwargs)
