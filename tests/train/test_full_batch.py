"""Full-batch node training (train/full_batch.py): best-validation weights kept, patience, sparse features."""

import torch
from torch import nn

from mlpzoo.train import seed_everything
from mlpzoo.train.full_batch import FitConfig, accuracy, cross_entropy_on, feature_matrix, fit_full_batch


def _problem(n: int = 60):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    y = (x[:, 0] > 0).long()
    return x, y, torch.arange(0, 30), torch.arange(30, 45)


def test_fit_learns_and_keeps_the_best_validation_weights():
    seed_everything(0)
    x, y, train, valid = _problem()
    model = nn.Linear(4, 2)
    seen = []

    def logits():
        out = model(x)
        if not model.training:
            seen.append(accuracy(out, y, valid))
        return out

    result = fit_full_batch(model, logits, cross_entropy_on(train, y), y, valid, FitConfig(lr=0.1, max_epochs=40))
    assert result.best_val_acc == max(seen) and result.best_val_acc > 0.8
    with torch.no_grad():
        assert accuracy(model(x), y, valid) == result.best_val_acc  # the best epoch's weights are back


def test_patience_stops_after_epochs_without_improvement():
    """Validation accuracy is best at the first evaluation and worse after it: the fit stops after patience."""
    x, y, train, valid = _problem()
    model = nn.Linear(4, 2)
    evaluations = []

    def logits():
        out = model(x)
        if not model.training:
            evaluations.append(1)
            if len(evaluations) > 1:  # every later evaluation predicts the wrong class
                return torch.stack([out[:, 0] * 0 + y.float(), out[:, 1] * 0 + (1 - y).float()], dim=1)
            return torch.stack([out[:, 0] * 0 + (1 - y).float(), out[:, 1] * 0 + y.float()], dim=1)
        return out

    config = FitConfig(max_epochs=500, patience=5)
    result = fit_full_batch(model, logits, cross_entropy_on(train, y), y, valid, config)
    assert result.best_epoch == 1 and result.epochs == 1 + config.patience


def test_min_epochs_keeps_no_weights_from_before_it_and_starts_patience_there():
    """The same validation curve, best at the first evaluation: with min_epochs=10 the kept weights come from
    epoch 10 (its first evaluation) and patience counts from there; earlier epochs are not even evaluated."""
    x, y, train, valid = _problem()
    model = nn.Linear(4, 2)
    evaluations = []

    def logits():
        out = model(x)
        if not model.training:
            evaluations.append(1)
            good = len(evaluations) == 1
            first, second = (1 - y).float(), y.float()
            if not good:
                first, second = second, first
            return torch.stack([out[:, 0] * 0 + first, out[:, 1] * 0 + second], dim=1)
        return out

    config = FitConfig(max_epochs=500, patience=5, min_epochs=10)
    result = fit_full_batch(model, logits, cross_entropy_on(train, y), y, valid, config)
    assert result.best_epoch == 10 and result.epochs == 10 + config.patience
    assert len(evaluations) == 1 + config.patience


def test_same_seed_same_fit():
    x, y, train, valid = _problem()
    results = []
    for _ in range(2):
        seed_everything(3)
        model = nn.Linear(4, 2)
        fit_full_batch(model, lambda m=model: m(x), cross_entropy_on(train, y), y, valid, FitConfig(max_epochs=10))
        results.append(model.weight.detach().clone())
    assert torch.equal(*results)


def test_sparse_bag_of_words_features_become_csr():
    dense = torch.zeros(10, 50)
    dense[0, 3] = 1.0
    assert feature_matrix(dense).layout == torch.sparse_csr
    assert feature_matrix(torch.ones(3, 3)).layout == torch.strided
