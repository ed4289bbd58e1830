"""GLNN and FF-G2M losses on hand-computed tiny graphs; the inductive split; a small end-to-end run."""

import math

import pytest
import torch

from mlpzoo.data.graphs import csbm
from mlpzoo.errors import ConfigError
from mlpzoo.methods.distill import (
    TEACHERS,
    SAGEGCNAggregator,
    StudentConfig,
    _fit_config,
    add_self_loops,
    ffg2m_loss,
    glnn_loss,
    high_frequency_loss,
    inductive_split,
    low_frequency_loss,
    make_student,
    run_distillation,
    student_config,
    teacher_config,
    train_student,
)


def _kl(p, q):
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def _softmax(v):
    e = [math.exp(a) for a in v]
    return [a / sum(e) for a in e]


S = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
T = torch.tensor([[2.0, 0.0], [0.0, 0.5]])


def test_glnn_loss_by_hand():
    y = torch.tensor([0, 1])
    expected_kl = (_kl(_softmax([2, 0]), _softmax([1, 0])) + _kl(_softmax([0, 0.5]), _softmax([0, 2]))) / 2
    assert glnn_loss(S, T, y, torch.tensor([0])).item() == pytest.approx(expected_kl, rel=1e-5)
    ce = -math.log(_softmax([1, 0])[0])
    assert glnn_loss(S, T, y, torch.tensor([0]), lamb=0.3).item() == pytest.approx(
        0.3 * ce + 0.7 * expected_kl, rel=1e-5
    )


def test_low_frequency_loss_by_hand():
    edges = add_self_loops(torch.tensor([[0], [1]]), 2)  # edge 0->1 plus both self-loops
    pairs = [(0, 1), (0, 0), (1, 1)]  # (student node i, teacher node j)
    expected = sum(_kl(_softmax(T[j].tolist()), _softmax(S[i].tolist())) for i, j in pairs) / 3
    assert low_frequency_loss(S, T, edges).item() == pytest.approx(expected, rel=1e-5)


def test_high_frequency_loss_by_hand():
    edges = torch.tensor([[0, 1], [1, 0]])
    tau = 1.5
    s_diff = [abs(1 - 0) / tau, abs(0 - 2) / tau]
    t_diff = [abs(2 - 0) / tau, abs(0 - 0.5) / tau]
    expected = _kl(_softmax(t_diff), _softmax(s_diff))  # both edges give the same |difference|
    assert high_frequency_loss(S, T, edges, tau).item() == pytest.approx(expected, rel=1e-5)
    # Identical relative differences -> zero loss, even when the logits are shifted.
    assert high_frequency_loss(T + 3.0, T, edges, tau).item() == pytest.approx(0.0, abs=1e-6)


def test_ffg2m_combines_terms_and_has_gradients():
    s = S.clone().requires_grad_()
    edges = torch.tensor([[0, 1], [1, 0]])
    y, idx = torch.tensor([0, 1]), torch.tensor([0, 1])
    loss = ffg2m_loss(s, T, y, idx, add_self_loops(edges, 2), edges, lamb=0.4, tau=1.5)
    ce = torch.nn.functional.cross_entropy(S, y)
    manual = 0.4 * ce + 0.6 * (
        low_frequency_loss(S, T, add_self_loops(edges, 2)) + high_frequency_loss(S, T, edges, 1.5)
    )
    assert loss.item() == pytest.approx(manual.item(), rel=1e-6)
    loss.backward()
    assert s.grad.abs().sum() > 0


def test_inductive_split_holds_out_test_nodes_and_their_edges():
    g = csbm(num_nodes=600, num_classes=3, num_val=100, num_test=200, seed=0)
    split = inductive_split(g, 0.2, seed=0)
    assert len(split.held_out) == 40 and g.test_mask[split.held_out].all()
    assert split.observed.num_nodes == 560 and split.observed.test_mask.sum() == 160
    assert split.observed.train_mask.sum() == g.train_mask.sum()
    with pytest.raises(ConfigError):
        inductive_split(g, 1.5)


def test_configs_follow_each_papers_release_and_bad_names():
    # FF-G2M's best_parameters.json: the student MLP takes dropout_t, the teacher dropout_s and the student's size.
    cora_sage = student_config("cora", "sage")
    fields = (cora_sage.hidden, cora_sage.num_layers, cora_sage.dropout, cora_sage.tau, cora_sage.lamb)
    assert fields == (512, 3, 0.4, 1.3, 0.5)
    assert cora_sage.glnn_lamb == 0.5
    teacher = teacher_config("sage", "cora")
    assert (teacher.hidden, teacher.num_layers, teacher.dropout) == (512, 3, 0.3)
    assert student_config("csbm600", "sage").hidden == 256 and teacher_config("gcn").dropout == 0.8
    # GLNN's train.conf.yaml and experiment scripts.
    glnn = student_config("cora", "sage", "glnn")
    assert (glnn.hidden, glnn.num_layers, glnn.dropout, glnn.weight_decay, glnn.glnn_lamb, glnn.max_epochs) == (
        128,
        2,
        0.6,
        5e-3,
        0.0,
        200,
    )
    assert teacher_config("sage", "cora", "glnn").hidden == 128
    # The teacher's kept weights come from epoch 20 on (capped by a shorter budget); students follow the papers.
    assert teacher_config("sage", "cora").min_epochs == 20 and not hasattr(glnn, "min_epochs")
    assert _fit_config(teacher_config("gcn", max_epochs=15)).min_epochs == 15
    assert _fit_config(glnn).min_epochs == 0
    with pytest.raises(ConfigError, match="teacher"):
        teacher_config("gin")
    with pytest.raises(ConfigError, match="protocol"):
        student_config("cora", "gcn", "cpf")
    g = csbm(num_nodes=200, num_classes=2, num_val=50, num_test=50, seed=0)
    with pytest.raises(ConfigError, match="method"):
        train_student(g, "kd", None, 0, student_config("x", "gcn"))
    with pytest.raises(ConfigError, match="teacher logits"):
        train_student(g, "glnn", None, 0, student_config("x", "gcn"))


@pytest.mark.parametrize("setting", ["transductive", "inductive"])
def test_distillation_beats_mlp_on_a_homophilous_csbm(setting):
    torch.set_num_threads(1)
    g = csbm(
        num_nodes=800,
        num_classes=3,
        num_features=32,
        signal=0.4,  # weak enough features that the MLP stays well below the teacher
        homophily=0.9,
        avg_degree=8,
        seed=0,
        num_val=200,
        num_test=300,
    )
    cfg = student_config("csbm", "gcn", hidden=64, max_epochs=60)
    records = {r["model"]: r for r in run_distillation(g, "gcn", setting, 0, teacher_config("gcn", max_epochs=60), cfg)}
    assert set(records) == {"teacher", "mlp", "glnn", "ffg2m"}
    assert records["teacher"]["test_acc"] > records["mlp"]["test_acc"] + 0.05
    assert records["glnn"]["test_acc"] > records["mlp"]["test_acc"]
    if setting == "inductive":
        r = records["glnn"]
        assert r["prod_acc"] == pytest.approx(0.8 * r["tran_acc"] + 0.2 * r["test_acc"])


def test_sage_teacher_is_dgls_gcn_aggregator_on_a_self_looped_graph():
    """GLNN and FF-G2M run DGL's SAGEConv(aggregator_type="gcn") after adding self-loops:
    h_i' = W (h_i + sum over in-edges incl. the loop of h_j) / (in-degree incl. the loop + 1) + b."""
    assert TEACHERS["sage"] is SAGEGCNAggregator
    edges = torch.tensor([[0, 1, 1, 2, 1], [1, 0, 2, 1, 1]])  # path 0-1-2 plus an existing self-loop on 1
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    neighbours = {0: [1], 1: [0, 2], 2: [1]}
    by_hand = torch.stack([(2 * x[i] + sum(x[j] for j in nb)) / (len(nb) + 2) for i, nb in neighbours.items()])
    adj = SAGEGCNAggregator.adjacency(edges, 3)
    assert torch.allclose(torch.sparse.mm(adj, x), by_hand)
    torch.manual_seed(0)
    net = SAGEGCNAggregator(2, 3, hidden=4, num_layers=1)
    layer = net.layers[0]
    assert torch.allclose(net(x, adj), by_hand @ layer.linear.weight.T + layer.bias, atol=1e-6)
    # DGL's initialisation: Xavier-uniform with ReLU gain, zero bias.
    bound = torch.nn.init.calculate_gain("relu") * (6 / (2 + 3)) ** 0.5
    assert layer.linear.weight.abs().max() <= bound and not layer.bias.any()


def test_students_start_as_the_papers_linear_layers_and_the_shared_block_keeps_its_own():
    cfg = StudentConfig(hidden=256, num_layers=3, dropout=0.4)
    torch.manual_seed(0)
    paper = [m for m in make_student(1000, 7, cfg, paper_init=True).modules() if isinstance(m, torch.nn.Linear)]
    for layer in paper:  # nn.Linear's default: weights and biases uniform in +-1/sqrt(fan_in)
        bound = layer.in_features**-0.5
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound and layer.bias.any()
    assert paper[0].weight.std() < 0.6 * (2 / (1000 + 256)) ** 0.5  # clearly below Xavier-normal's std
    # Without paper_init (Mowst's experts) the MLP block's Xavier-normal init with zero biases stays.
    block = [m for m in make_student(1000, 7, cfg).modules() if isinstance(m, torch.nn.Linear)]
    assert not any(layer.bias.any() for layer in block)
