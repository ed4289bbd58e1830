"""The SwinCheX multi-label head: 1/2/3 layers on a backbone, the task's loss and AUCs, a target of the wrong width."""

import pytest
import torch
from torch import nn

from mlpzoo import create_model
from mlpzoo.errors import ConfigError, DataError
from mlpzoo.tasks.multilabel import MultiLabel

BACKBONE = {"in_chans": 1, "depth": 8, "width": 4}


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_head_has_the_asked_number_of_linear_layers(layers):
    model = create_model("swinchex_head", num_labels=7, head_layers=layers, hidden=12, backbone_kwargs=BACKBONE)
    assert sum(isinstance(m, nn.Linear) for m in model.head.modules()) == layers
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 7)


def test_backbone_returns_pooled_features():
    model = create_model("swinchex_head", head_layers=1, backbone_kwargs=BACKBONE)
    assert model.forward_features(torch.randn(2, 1, 8, 8)).shape == (2, model.num_features)


def test_bad_head_and_backbone_are_refused():
    with pytest.raises(ConfigError, match="1, 2 or 3 layers"):
        create_model("swinchex_head", head_layers=4, backbone_kwargs=BACKBONE)
    with pytest.raises(ConfigError, match="no head/num_features"):
        from mlpzoo.models.multilabel import MultiLabelClassifier

        MultiLabelClassifier(nn.Linear(3, 3), 5)


def test_target_of_the_wrong_width_is_a_one_line_error():
    model = create_model("swinchex_head", num_labels=10, backbone_kwargs=BACKBONE)
    batch = {"x": torch.randn(2, 1, 8, 8), "label": torch.zeros(2, 14)}
    with pytest.raises(DataError, match="num_labels=14") as err:
        MultiLabel().loss(model(batch), batch)
    assert "\n" not in str(err.value)
