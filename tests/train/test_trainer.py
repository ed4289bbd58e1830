"""The Trainer: learning, resume equivalence, early stopping, checkpoints, run files and config errors."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

import mlpzoo
from mlpzoo.data.schema import CategoricalField, FeatureSchema
from mlpzoo.errors import CheckpointError, ConfigError
from mlpzoo.tasks import get_task
from mlpzoo.train import TrainConfig, Trainer


def _frame(n, seed, random_labels=False, flip=0.0):
    rng = np.random.default_rng(seed)
    item = rng.integers(0, 20, size=n)
    label = rng.integers(0, 2, size=n) if random_labels else (item % 2 == 0)  # a function of one field
    label = np.where(rng.random(n) < flip, 1 - label, label)
    return pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, size=n).astype(str),
            "item_id": item.astype(str),
            "city": rng.integers(0, 5, size=n).astype(str),
            "label": label.astype(float),
        }
    )


def _data(random_labels=False, n_train=1500, n_valid=500, flip=0.0):
    schema = FeatureSchema(
        categorical=[
            CategoricalField("user_id", source="user"),
            CategoricalField("item_id", source="item"),
            CategoricalField("city", source="context"),
        ]
    )
    train = _frame(n_train, 1, random_labels, flip)
    fitted = schema.fit(train)
    return fitted, fitted.encode(train), fitted.encode(_frame(n_valid, 2, random_labels, flip))


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def noisy():
    return _data(flip=0.3, n_train=1000, n_valid=400)


@pytest.fixture(scope="module")
def noise():
    return _data(random_labels=True, n_train=600, n_valid=300)


def _finalmlp(schema, seed=0):
    torch.manual_seed(seed)
    return mlpzoo.create_model(
        "finalmlp",
        schema=schema,
        embedding_dim=4,
        mlp1_hidden_units=(16,),
        mlp2_hidden_units=(8,),
        gate_hidden_units=(8,),
        num_heads=2,
        stream1_context=("user_id",),
        stream2_context=("item_id",),
    )


def _dnn(schema, seed=0):
    torch.manual_seed(seed)
    return mlpzoo.create_model("dnn", schema=schema, embedding_dim=4, hidden_units=(16,), embedding_regularizer=0.0)


def _config(**kwargs):
    base = dict(
        epochs=4, batch_size=128, lr=1e-2, patience=10, progress=False, save_checkpoints=False, seed=7, num_threads=1
    )
    return TrainConfig(**{**base, **kwargs})


@pytest.mark.parametrize("build", [_dnn, _finalmlp])
def test_learns_a_deterministic_label(build, data):
    schema, train, valid = data
    model = build(schema)
    before = Trainer(get_task("binary_ctr"), model, _config()).evaluate(valid)["auc"]
    result = Trainer(get_task("binary_ctr"), model, _config(epochs=5)).fit(train, valid)
    assert result.metrics["valid"]["auc"] > 0.9
    assert result.metrics["valid"]["auc"] > before + 0.2
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.run_dir is None and result.epochs_run == 5


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_is_bit_for_bit(noisy, tmp_path):
    schema, train, valid = noisy
    task = get_task("binary_ctr")
    cfg = dict(epochs=4, run_dir=str(tmp_path), save_checkpoints=True, lr=3e-3)

    model_a = _finalmlp(schema)
    result_a = Trainer(task, model_a, _config(run_name="a", **cfg)).fit(train, valid, valid)

    class Interrupt(Exception):
        pass

    def crash(epoch, record):
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        Trainer(task, _finalmlp(schema), _config(run_name="b", **cfg)).fit(train, valid, valid, callbacks=[crash])
    assert (tmp_path / "b" / "last.pt").exists()
    assert len((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()) == 1

    model_b = _finalmlp(schema)
    result_b = Trainer(task, model_b, _config(run_name="b", **cfg)).fit(train, valid, valid)
    assert result_b.resumed_from_epoch == 1 and result_a.resumed_from_epoch is None
    assert result_b.epochs_run == result_a.epochs_run == 4
    assert result_b.metrics == result_a.metrics
    assert result_b.best_epoch == result_a.best_epoch
    strip = lambda h: [{k: v for k, v in r.items() if "second" not in k} for r in h]  # noqa: E731
    assert strip(result_b.history) == strip(result_a.history)
    state_a, state_b = _state(model_a), _state(model_b)
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    # the metrics moved between epochs (so equality is informative)
    assert len({h["valid_logloss"] for h in result_a.history}) == 4
    # the uninterrupted run really trained: the weights moved from their initial values
    assert not torch.equal(_state(_finalmlp(schema))["embedding.weight"], state_a["embedding.weight"])


def test_finished_run_extended_with_more_epochs(data, tmp_path):
    schema, train, valid = data
    task = get_task("binary_ctr")
    cfg = dict(run_dir=str(tmp_path), save_checkpoints=True, lr=3e-3)
    full = Trainer(task, _dnn(schema), _config(epochs=3, run_name="full", **cfg)).fit(train, valid)
    Trainer(task, _dnn(schema), _config(epochs=2, run_name="ext", **cfg)).fit(train, valid)
    extended = Trainer(task, _dnn(schema), _config(epochs=3, run_name="ext", **cfg)).fit(train, valid)
    assert extended.resumed_from_epoch == 2 and extended.epochs_run == 3
    assert extended.metrics == full.metrics
    # a changed setting (not one of the resumable ones) refuses to resume
    with pytest.raises(ConfigError) as info:
        Trainer(task, _dnn(schema), _config(epochs=3, run_name="ext", **{**cfg, "lr": 1e-1})).fit(train, valid)
    assert "ext" in str(info.value) and "\n" not in str(info.value)


def test_early_stopping_and_lr_decay(noise):
    schema, train, valid = noise
    task = get_task("binary_ctr")
    # min_delta=1 makes every epoch after the first a bad epoch (AUC cannot rise by 1).
    result = Trainer(task, _dnn(schema), _config(epochs=10, patience=2, min_delta=1.0, lr=1e-2)).fit(train, valid)
    assert result.epochs_run == 3 and result.best_epoch == 1
    lrs = [h["lr"] for h in result.history]
    # a record holds the lr its epoch trained with: epoch 1 improved, epoch 2 was bad -> epoch 3 at 1e-3
    assert lrs == pytest.approx([1e-2, 1e-2, 1e-3])
    # the best (first) epoch's weights are restored at the end
    assert result.metrics["valid"]["auc"] == pytest.approx(result.history[0]["valid_auc"], abs=1e-12)
    assert result.metrics["valid"]["auc"] != pytest.approx(result.history[-1]["valid_auc"], abs=1e-9)

    stopped = Trainer(task, _dnn(schema), _config(epochs=10, patience=1, min_delta=1.0)).fit(train, valid)
    assert stopped.epochs_run == 2 and len(stopped.history) == 2

    floor = Trainer(task, _dnn(schema), _config(epochs=10, patience=3, min_delta=1.0, lr=1e-5, min_lr=1e-6)).fit(
        train, valid
    )
    assert [h["lr"] for h in floor.history] == pytest.approx([1e-5, 1e-5, 1e-6, 1e-6], rel=1e-9)


def test_early_stopping_on_random_labels(noise):
    schema, train, valid = noise
    result = Trainer(get_task("binary_ctr"), _dnn(schema), _config(epochs=30, patience=2, lr=3e-2)).fit(train, valid)
    assert result.epochs_run < 30
    history = result.history
    best = [max(h["valid_auc"] for h in history[: i + 1]) for i in range(len(history))]
    bad = [i for i in range(1, len(history)) if history[i]["valid_auc"] <= best[i - 1] + 1e-6]
    assert bad, "random labels gave no bad epoch"
    # the epoch after the first bad one trains with a 10x smaller learning rate
    i = bad[0]
    if i + 1 < len(history):
        assert history[i + 1]["lr"] == pytest.approx(history[i]["lr"] * 0.1)
    assert history[-1]["lr"] < history[0]["lr"]
    # stopped after two consecutive bad epochs
    assert history[-1]["valid_auc"] <= best[-2] + 1e-6 and history[-2]["valid_auc"] <= best[-3] + 1e-6


def test_truncated_checkpoint_is_refused(data, tmp_path):
    schema, train, valid = data
    task = get_task("binary_ctr")
    cfg = _config(epochs=2, run_dir=str(tmp_path), run_name="r", save_checkpoints=True)
    Trainer(task, _dnn(schema), cfg).fit(train, valid)
    last = tmp_path / "r" / "last.pt"
    payload = last.read_bytes()
    last.write_bytes(payload[: len(payload) // 2])
    cfg = _config(epochs=4, run_dir=str(tmp_path), run_name="r", save_checkpoints=True)
    with pytest.raises(CheckpointError) as info:
        Trainer(task, _dnn(schema), cfg).fit(train, valid)
    message = str(info.value)
    assert str(last) in message and "\n" not in message
    # a payload damaged behind an intact checksum footer is refused too
    last.write_bytes(payload[:100] + bytes(len(payload) - 179) + payload[-79:])
    with pytest.raises(CheckpointError) as info:
        Trainer(task, _dnn(schema), cfg).fit(train, valid)
    assert str(last) in str(info.value) and "\n" not in str(info.value)


def test_run_directory_contents(data, tmp_path):
    schema, train, valid = data
    cfg = _config(epochs=3, run_dir=str(tmp_path), run_name="run", save_checkpoints=True)
    result = Trainer(get_task("binary_ctr"), _dnn(schema), cfg, run_config={"model": {"name": "dnn"}}).fit(
        train, valid, valid
    )
    run = tmp_path / "run"
    assert result.run_dir == run
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "best.pt",
        "last.pt",
        "result.json",
        "report.md",
        "learning_curve.png",
    ):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["valid_auc"] for r in records] == [h["valid_auc"] for h in result.history]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"] == {"name": "dnn"} and config["train"]["batch_size"] == 128
    summary = json.loads((run / "result.json").read_text())
    assert summary["metrics"]["valid"]["auc"] == pytest.approx(result.metrics["valid"]["auc"])
    assert summary["best_epoch"] == result.best_epoch and summary["epochs_run"] == 3
    assert summary["parameters"] == sum(p.numel() for p in _dnn(schema).parameters())
    assert (run / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "learning_curve.png" in (run / "report.md").read_text()
    best = torch.load(run / "best.pt", weights_only=True)
    assert best["epoch"] == result.best_epoch


def test_config_errors(data):
    schema, _, _ = data
    task = get_task("binary_ctr")
    with pytest.raises(ConfigError) as info:
        Trainer(task, _dnn(schema), {"epochs": 2, "bacth_size": 4})
    message = str(info.value)
    assert "bacth_size" in message and "batch_size" in message and "patience" in message and "\n" not in message
    with pytest.raises(ConfigError) as info:
        Trainer(task, _dnn(schema), {"batch_size": "big"})
    assert "batch_size" in str(info.value) and "big" in str(info.value)
    with pytest.raises(ConfigError):
        Trainer(task, _dnn(schema), {"epochs": 0})
    with pytest.raises(ConfigError):
        Trainer(task, _dnn(schema), {"optimizer": "lbfgs"})
    with pytest.raises(ConfigError):
        Trainer(task, _dnn(schema), {"monitor": "accuracy"})
    with pytest.raises(ConfigError):
        Trainer(task, _dnn(schema), {"lr": True})
    trainer = Trainer(task, _dnn(schema), {"epochs": 2, "lr": 1, "progress": False})
    assert trainer.config.lr == 1 and trainer.config.epochs == 2


def test_same_seed_same_metrics(data):
    schema, train, valid = data
    task = get_task("binary_ctr")
    runs = [Trainer(task, _finalmlp(schema, seed=s), _config(epochs=2, seed=s)).fit(train, valid) for s in (3, 3, 4)]
    assert runs[0].metrics == runs[1].metrics
    assert [h["train_loss"] for h in runs[0].history] == [h["train_loss"] for h in runs[1].history]
    assert runs[0].metrics != runs[2].metrics


def test_cosine_schedule_warms_up_then_decays(data):
    schema, train, valid = data
    task = get_task("binary_ctr")
    trainer = Trainer(
        task, _dnn(schema), _config(epochs=4, lr=1e-2, min_lr=1e-4, lr_schedule="cosine", warmup_epochs=1, patience=10)
    )
    lrs = [h["lr"] for h in trainer.fit(train, valid).history]
    steps = train.num_batches(trainer.config.batch_size)
    schedule = trainer._cosine_schedule(steps)
    assert schedule(0) == pytest.approx(1e-2 / steps) and schedule(steps - 1) == pytest.approx(1e-2)
    assert schedule(4 * steps) == pytest.approx(1e-4)
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-2 / 2  # decays after the warm-up epoch


def test_plateau_patience_waits_before_decaying(noise):
    schema, train, valid = noise
    task = get_task("binary_ctr")
    # seed 3: the train seed draws the initial weights too; with it the validation AUC stalls, so the rule fires
    config = _config(epochs=8, lr=1e-2, patience=8, lr_patience=2, lr_decay_factor=0.5, seed=3)
    history = Trainer(task, _dnn(schema), config).fit(train, valid).history
    # Replay the rule on the recorded validation AUCs: halve after every 2nd epoch without improvement.
    lr, best, bad, expected = 1e-2, None, 0, []
    for record in history:
        if best is None or record["valid_auc"] > best + config.min_delta:
            best, bad = record["valid_auc"], 0
        else:
            bad += 1
            lr = lr / 2 if bad % 2 == 0 else lr
        expected.append(lr)
    # record["lr"] is the rate used in that epoch; the decision at its end shows in the next record
    assert [h["lr"] for h in history[1:]] == pytest.approx(expected[:-1])
    assert len(set(expected)) > 1  # random labels: the rule fired, so the check is informative
