"""Whole models, one module per family. Importing this package registers them all."""

from mlpzoo.models import (
    agents,  # noqa: F401
    can,  # noqa: F401
    ctr,  # noqa: F401
    deep_mlp,  # noqa: F401
    fields,  # noqa: F401
    generative,  # noqa: F401
    graph,  # noqa: F401
    hyper,  # noqa: F401
    imaging,  # noqa: F401
    kan,  # noqa: F401
    kat,  # noqa: F401
    modular,  # noqa: F401
    multilabel,  # noqa: F401
    restoration,  # noqa: F401
    sequence,  # noqa: F401
    text,  # noqa: F401
    transformer,  # noqa: F401
    vision,  # noqa: F401
    vision_hybrid,  # noqa: F401
)
