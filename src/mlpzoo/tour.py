"""A one-minute tour on data that scikit-learn ships (breast cancer, 569 rows, 30 numeric features).

Shows the whole path (schema, encoding, registry, Trainer) without any data directory: a plain
DNN and FinalMLP (numeric fields embedded, no context fields, so both gates are learned vectors)
against scikit-learn's logistic regression, test AUC on the standard 70/20/10 split.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlpzoo.data.datasets import encode_splits, standard_split
from mlpzoo.data.schema import FeatureSchema, NumericField
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.tasks.metrics import auc
from mlpzoo.train import Trainer, seed_everything


def run_tour(epochs: int = 15, seed: int = 2021, log=print) -> list[dict]:
    raw = load_breast_cancer()
    names = [f"f{i}" for i in range(raw.data.shape[1])]
    frame = pd.DataFrame(raw.data, columns=names).assign(label=raw.target.astype(np.float32))
    splits = standard_split(len(frame))
    dataset = encode_splits("breast-cancer", FeatureSchema(numeric=[NumericField(n) for n in names]), frame, splits)
    rows = []
    train_idx, _, test_idx = splits
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        raw.data[train_idx], raw.target[train_idx]
    )
    rows.append(
        {
            "model": "logistic regression (scikit-learn)",
            "test_auc": auc(raw.target[test_idx], logistic.predict_proba(raw.data[test_idx])[:, 1]),
        }
    )
    models = {
        "dnn": {"hidden_units": (64, 64), "embedding_regularizer": 0.0},
        "finalmlp": {
            "stream1_context": (),
            "stream2_context": (),
            "mlp1_hidden_units": (64,),
            "mlp2_hidden_units": (32,),
            "gate_hidden_units": (32,),
            "num_heads": 4,
            "embedding_regularizer": 0.0,
        },
    }
    with tempfile.TemporaryDirectory() as runs:
        for name, kwargs in models.items():
            seed_everything(seed)
            model = create_model(name, schema=dataset.schema, embedding_dim=8, **kwargs)
            config = {
                "epochs": epochs,
                "batch_size": 64,
                "patience": 3,
                "seed": seed,
                "run_dir": runs,
                "progress": False,
            }
            result = Trainer(get_task("binary_ctr"), model, config).fit(dataset.train, dataset.valid, dataset.test)
            log(f"{name}: test AUC {result.metrics['test']['auc']:.4f} (best epoch {result.best_epoch})")
            rows.append({"model": name, "test_auc": result.metrics["test"]["auc"]})
    return rows
