"""scikit-learn estimators over mlpzoo models, fitted by the one Trainer.

- :class:`MLPZooClassifier` / :class:`MLPZooRegressor`: dense tabular data, any model that takes
  ``(in_features, out_features, hidden)`` by name (``mlp``, ``kan_bspline``, ``kan_rbf``,
  ``kan_relu``, ``af_kan``, ``s_kan``, ``gr_kan``...).
- :class:`CTRClassifier`: a binary classifier over a frame of categorical (and numeric) columns,
  FinalMLP by default (any CTR model: ``dnn``, ``deepfm``, ``dcn``, ``dcnv2``, ``dualmlp``).

They follow the estimator contract (``get_params``/``set_params``, fitted attributes ending in
``_``, ``validate_data``), so they work in ``Pipeline``, ``GridSearchCV`` and ``clone``. Early
stopping holds out ``validation_fraction`` of the training rows (stratified for classifiers);
with fewer than ``min_rows_for_validation`` rows there is no hold-out and the training loss of
the last epoch decides (documented fallback). Inputs are standardised inside the estimator
(``standardize=True``): KAN grids live on [-1, 1] and an MLP trains better on scaled inputs.
The regressor also standardises the target and maps predictions back.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from mlpzoo.data.schema import CategoricalField, FeatureSchema, NumericField
from mlpzoo.data.tensors import ArrayData
from mlpzoo.errors import ConfigError
from mlpzoo.registry import create_model
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

__all__ = ["CTRClassifier", "MLPZooClassifier", "MLPZooRegressor"]


class _TrainerParams:
    """Training settings shared by every estimator (all plain constructor arguments)."""

    def _train_config(self, monitor: str | None) -> dict:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "eval_batch_size": 65536,
            "lr": self.learning_rate,
            "optimizer": "adamw" if self.weight_decay else "adam",
            "weight_decay": self.weight_decay,
            "patience": self.patience,
            "lr_decay_factor": 1.0,
            "min_delta": 0.0,
            "grad_clip_norm": 10.0,
            "seed": 0 if self.random_state is None else int(self.random_state),
            "monitor": monitor,
            "progress": bool(self.verbose),
            "save_checkpoints": False,
        }

    def _check_params(self) -> None:
        """Each constructor argument in range, as a one-line error naming this estimator's own parameter."""
        name = type(self).__name__
        _whole(name, "epochs", self.epochs, 1)
        _whole(name, "batch_size", self.batch_size, 2, "a step needs at least 2 rows (BatchNorm)")
        _whole(name, "patience", self.patience, 1)
        _whole(name, "min_rows_for_validation", self.min_rows_for_validation, 0)
        if not isinstance(self.learning_rate, numbers.Real) or not 0 < self.learning_rate < math.inf:
            raise ConfigError(
                f"{name}: learning_rate={self.learning_rate!r} must be a positive finite number, e.g. 1e-3"
            )
        if not isinstance(self.weight_decay, numbers.Real) or not 0 <= self.weight_decay < math.inf:
            raise ConfigError(f"{name}: weight_decay={self.weight_decay!r} must be 0 or a positive finite number")
        if self.validation_fraction is not None and (
            not isinstance(self.validation_fraction, numbers.Real) or not 0 <= self.validation_fraction < 1
        ):
            raise ConfigError(
                f"{name}: validation_fraction={self.validation_fraction!r} must be in [0, 1) "
                "(the share of training rows held out for early stopping; 0 holds out none)"
            )
        seed = self.random_state
        if seed is not None and not (isinstance(seed, numbers.Integral) and 0 <= seed < 2**32):
            raise ConfigError(
                f"{name}: random_state={self.random_state!r} must be None or a whole number from 0 to 2**32 - 1"
            )

    def _holdout(self, n: int, stratify=None):
        """Row indices for fitting and for early stopping (the same rows twice when data is too small)."""
        rows = np.arange(n)
        if n < self.min_rows_for_validation or not self.validation_fraction:
            return rows, rows
        try:
            fit, stop = train_test_split(
                rows, test_size=self.validation_fraction, random_state=self.random_state or 0, stratify=stratify
            )
        except ValueError:  # a class too rare to stratify: split without stratification
            fit, stop = train_test_split(rows, test_size=self.validation_fraction, random_state=self.random_state or 0)
        if stratify is not None and len(np.unique(stratify[stop])) < len(np.unique(stratify)):
            return rows, rows  # a hold-out missing a class cannot judge the classifier: too small to hold out
        return fit, stop


def _whole(estimator: str, name: str, value, least: int, why: str = "") -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        reason = f" ({why})" if why else ""
        raise ConfigError(f"{estimator}: {name}={value!r} must be a whole number >= {least}{reason}")


class _TabularEstimator(_TrainerParams, BaseEstimator):
    def __init__(
        self,
        model: str = "mlp",
        hidden: tuple[int, ...] = (64, 64),
        model_params: dict | None = None,
        epochs: int = 200,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 15,
        validation_fraction: float = 0.1,
        min_rows_for_validation: int = 50,
        standardize: bool = True,
        random_state: int | None = 0,
        verbose: bool = False,
    ):
        self.model = model
        self.hidden = hidden
        self.model_params = model_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.min_rows_for_validation = min_rows_for_validation
        self.standardize = standardize
        self.random_state = random_state
        self.verbose = verbose

    def _scale(self, X: np.ndarray) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float64)
        if self.standardize:
            X = (X - self.mean_) / self.scale_
        return torch.tensor(X, dtype=torch.float32)

    def _check_params(self) -> None:
        super()._check_params()
        hidden = self.hidden
        if (
            isinstance(hidden, (str, bytes))
            or not isinstance(hidden, (list, tuple))
            or not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w > 0 for w in hidden)
        ):
            raise ConfigError(
                f"{type(self).__name__}: hidden={hidden!r} must be a tuple of positive layer widths, "
                "e.g. hidden=(64, 64), or () for none"
            )

    def _fit_network(self, X, target: torch.Tensor, out_features: int, task_name: str, stratify=None):
        if X.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples to train; got 1 sample")
        self.mean_ = X.mean(0) if self.standardize else np.zeros(X.shape[1])
        std = X.std(0) if self.standardize else np.ones(X.shape[1])
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        x = self._scale(X)
        fit_rows, stop_rows = self._holdout(len(x), stratify)
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        network = create_model(
            self.model,
            in_features=X.shape[1],
            out_features=out_features,
            hidden=tuple(self.hidden),
            **(self.model_params or {}),
        )
        task = get_task(task_name)
        trainer = Trainer(task, network, self._train_config(None))
        result = trainer.fit(ArrayData(x[fit_rows], target[fit_rows]), ArrayData(x[stop_rows], target[stop_rows]))
        network.eval()
        self.network_ = network
        self.n_iter_ = result.epochs_run
        self.best_epoch_ = result.best_epoch
        return self

    @torch.no_grad()
    def _outputs(self, X) -> torch.Tensor:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        self.network_.eval()
        return self.network_({"x": self._scale(X)})


class MLPZooClassifier(ClassifierMixin, _TabularEstimator):
    """Multi-class classifier: softmax over ``len(classes_)`` outputs, cross-entropy, early stopping on accuracy."""

    def fit(self, X, y):
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got 1 class ({self.classes_[0]!r})")
        return self._fit_network(
            X, torch.as_tensor(codes, dtype=torch.long), len(self.classes_), "classification", stratify=codes
        )

    def predict_proba(self, X) -> np.ndarray:
        outputs = self._outputs(X)
        return torch.softmax(outputs.reshape(-1, len(self.classes_)), dim=-1).numpy().astype(np.float64)

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)  # checks fitting before classes_ is touched
        return self.classes_[probabilities.argmax(1)]


class MLPZooRegressor(RegressorMixin, _TabularEstimator):
    """Single-target regressor: MSE on the standardised target, predictions mapped back to y's scale."""

    def fit(self, X, y):
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        target = torch.tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        return self._fit_network(X, target, 1, "regression")

    def predict(self, X) -> np.ndarray:
        return self._outputs(X).reshape(-1).numpy().astype(np.float64) * self.y_scale_ + self.y_mean_


class CTRClassifier(ClassifierMixin, _TrainerParams, BaseEstimator):
    """Binary click-through classifier over categorical (and numeric) columns; FinalMLP by default.

    Columns: ``categorical`` and ``numeric`` name them explicitly; NaN is allowed (numeric: filled
    with the training mean; categorical: the out-of-vocabulary index); when both are None, columns of
    float dtype are numeric (standardised, NaN filled with the training mean) and all others are
    categorical (vocabulary from the training rows; values seen fewer than ``min_count`` times and
    unseen values map to one out-of-vocabulary index). Arrays are accepted and named ``x0, x1...``.
    """

    def __init__(
        self,
        model: str = "finalmlp",
        categorical: tuple[str, ...] | None = None,
        numeric: tuple[str, ...] | None = None,
        min_count: int = 1,
        embedding_dim: int = 10,
        model_params: dict | None = None,
        epochs: int = 50,
        batch_size: int = 1024,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 3,
        validation_fraction: float = 0.1,
        min_rows_for_validation: int = 50,
        random_state: int | None = 0,
        verbose: bool = False,
    ):
        self.model = model
        self.categorical = categorical
        self.numeric = numeric
        self.min_count = min_count
        self.embedding_dim = embedding_dim
        self.model_params = model_params
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.min_rows_for_validation = min_rows_for_validation
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True  # numeric NaN -> training mean, categorical NaN -> out-of-vocabulary
        return tags

    def _frame(self, X, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")  # names, counts, emptiness
            return X.reset_index(drop=True)
        array = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _columns(self, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
        if self.categorical is None and self.numeric is None:
            numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
            return [c for c in frame.columns if c not in numeric], numeric
        categorical, numeric = list(self.categorical or ()), list(self.numeric or ())
        unknown = [c for c in categorical + numeric if c not in frame.columns]
        if unknown:
            raise ValueError(f"CTRClassifier: column(s) {unknown} not in X; X has {list(frame.columns)[:20]}")
        return categorical, numeric

    def fit(self, X, y):
        self._check_params()
        _whole(type(self).__name__, "embedding_dim", self.embedding_dim, 1)
        _whole(type(self).__name__, "min_count", self.min_count, 1)
        frame = self._frame(X, reset=True)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "binary":
            raise ValueError(
                "Only binary classification is supported (CTRClassifier). The type of the target is "
                f"{kind}; pass y with exactly 2 classes"
            )
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"CTRClassifier needs both classes in y; got 1 class ({self.classes_[0]!r})")
        if len(frame) != len(codes):
            raise ValueError(f"X has {len(frame)} rows but y has {len(codes)}; pass matching rows")
        categorical, numeric = self._columns(frame)
        frame = frame.assign(label=codes.astype(np.float32))
        fit_rows, stop_rows = self._holdout(len(frame), stratify=codes)
        schema = FeatureSchema(
            [CategoricalField(str(c), min_count=self.min_count) for c in categorical],
            [NumericField(str(c)) for c in numeric],
        ).fit(frame.iloc[fit_rows].rename(columns=str))
        self.schema_ = schema
        torch.manual_seed(0 if self.random_state is None else int(self.random_state))
        params = dict(self.model_params or {})
        if self.model == "finalmlp":
            # FinalMLP's Frappe defaults gate on fields named user / item; other data starts from the
            # paper's no-context setting (a learned gate vector) unless the caller names contexts.
            params.setdefault("stream1_context", ())
            params.setdefault("stream2_context", ())
        network = create_model(self.model, schema=schema, embedding_dim=self.embedding_dim, **params)
        trainer = Trainer(get_task("binary_ctr"), network, self._train_config("logloss"))
        table = schema.encode(frame.rename(columns=str), "X")
        result = trainer.fit(table.select(torch.as_tensor(fit_rows)), table.select(torch.as_tensor(stop_rows)))
        network.eval()
        self.network_ = network
        self.n_iter_ = result.epochs_run
        return self

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        frame = self._frame(X, reset=False).rename(columns=str).assign(label=0.0)
        self.network_.eval()
        p = torch.sigmoid(self.network_(self.schema_.encode(frame, "X").as_batch())).numpy().astype(np.float64)
        return np.stack([1 - p, p], axis=1)

    def predict(self, X) -> np.ndarray:
        probabilities = self.predict_proba(X)
        return self.classes_[(probabilities[:, 1] > 0.5).astype(int)]
