"""ScaleKD and Hinton KD: the DCT and its frequency view, the projector's shapes, the frozen teacher, the losses
and where their gradients go, and one Trainer fit of each wrapper."""

import pytest
import torch

from mlpzoo import create_model
from mlpzoo.data.images import ImageData
from mlpzoo.errors import ConfigError
from mlpzoo.methods.scalekd import (
    CrossAttentionProjector,
    HintonKD,
    ScaleKD,
    TeacherStages,
    dct_matrix,
    dual_view_loss,
    frequency_view,
    hinton_loss,
)
from mlpzoo.tasks import get_task
from mlpzoo.train.trainer import Trainer

MIXER = {"img_size": 16, "dim": 16, "depth": 1, "token_hidden": 8, "channel_hidden": 16}


def _teacher():
    torch.manual_seed(0)
    return TeacherStages(create_model("resnet_cifar", depth=8, width=4), late_blocks=1)


def _images(n=4, side=16):
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1))


def test_dct_is_orthonormal_and_the_frequency_view_drops_the_direct_component():
    d = dct_matrix(8)
    assert torch.allclose(d @ d.T, torch.eye(8), atol=1e-5)
    constant = torch.full((2, 3, 8, 8), 5.0)
    assert frequency_view(constant).abs().max() < 1e-4  # a constant map is all direct component
    # Orthonormal: the frequency-view error is the spatial error of the maps with their means removed.
    a, b = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    spatial, frequency = dual_view_loss(a, b)
    centred = (a - a.mean((2, 3), keepdim=True)) - (b - b.mean((2, 3), keepdim=True))
    assert frequency == pytest.approx(float(centred.pow(2).mean()), rel=1e-4)
    assert spatial == pytest.approx(float((a - b).pow(2).mean()), rel=1e-5)
    with pytest.raises(ConfigError, match="project the student"):
        dual_view_loss(a, b[:, :2])


def test_cross_attention_projector_gives_the_teacher_shape():
    projector = CrossAttentionProjector(student_dim=24, student_tokens=5, teacher_dim=32, teacher_tokens=16)
    assert projector(torch.randn(3, 5, 24)).shape == (3, 16, 32)
    with pytest.raises(ConfigError, match="student tokens"):
        projector(torch.randn(3, 4, 24))


def test_hinton_loss_is_zero_only_for_matching_logits():
    logits = torch.randn(4, 10)
    assert hinton_loss(logits, logits, 4.0).abs() < 1e-6
    assert hinton_loss(torch.randn(4, 10), logits, 4.0) > 0


def test_teacher_stays_frozen_and_in_eval_mode():
    teacher = _teacher()
    wrapper = HintonKD(create_model("mixer", **MIXER), teacher)
    wrapper.train()
    assert wrapper.student.training and not teacher.training
    assert not any(m.training for m in teacher.modules())
    assert all(not p.requires_grad for p in teacher.parameters())
    with pytest.raises(ConfigError, match="stem/blocks/forward_head"):
        TeacherStages(create_model("mixer", **MIXER), 1)


@pytest.mark.parametrize(
    "student, kwargs, channels_last",
    [
        ("mixer", MIXER, True),
        ("scaling_mlp", {"image_size": 16, "width": 16, "depth": 1}, False),
    ],
)
def test_scalekd_losses_train_student_and_projectors_not_the_teacher(student, kwargs, channels_last):
    torch.manual_seed(0)
    teacher, x = _teacher(), _images()
    model = ScaleKD(create_model(student, **kwargs), teacher, x, channels_last=channels_last)
    model.train()
    model({"x": x})
    losses = model.losses(x, model.student.forward_features(x))
    assert set(losses) == {"spatial", "frequency", "tpp"} and all(v > 0 for v in losses.values())
    model({"x": x})
    model.regularization_loss({"x": x}).backward()
    assert all(p.grad is not None for p in model.feature_projector.parameters())
    assert all(p.grad is not None for p in model.proxy_projector.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.student.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    with pytest.raises(ConfigError, match="training forward"):
        model.regularization_loss({"x": x})


def test_evaluation_sees_the_student_alone():
    torch.manual_seed(0)
    student, x = create_model("mixer", **MIXER), _images()
    model = ScaleKD(student, _teacher(), x).eval()
    with torch.no_grad():
        assert torch.equal(model({"x": x}), student(x))


@pytest.mark.parametrize("method", ["hinton", "scalekd"])
def test_one_trainer_fit(method):
    torch.manual_seed(0)
    images = (torch.rand(24, 3, 16, 16) * 255).to(torch.uint8)
    data = ImageData(images, torch.arange(24) % 10)
    student = create_model("mixer", **{**MIXER, "num_classes": 10})
    teacher = _teacher()
    model = (
        HintonKD(student, teacher) if method == "hinton" else ScaleKD(student, teacher, next(data.iter_batches(2))["x"])
    )
    before = [p.detach().clone() for p in teacher.parameters()]
    config = {"epochs": 1, "batch_size": 8, "progress": False, "save_checkpoints": False, "optimizer": "adamw"}
    result = Trainer(get_task("classification"), model, config).fit(data, data)
    assert 0 <= result.metrics["valid"]["accuracy"] <= 1
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
