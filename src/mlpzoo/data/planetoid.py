"""Cora and Citeseer from the Planetoid ``ind.*`` pickles, read as PyTorch Geometric reads them.

Source: Yang, Cohen & Salakhutdinov, "Revisiting Semi-Supervised Learning with Graph
Embeddings", ICML 2016, arXiv:1603.08861 (github.com/kimiyoung/planetoid). The files are
Python 2 pickles of scipy sparse matrices (``x``, ``tx``, ``allx``), one-hot numpy arrays
(``y``, ``ty``, ``ally``) and a dict of adjacency lists (``graph``), plus ``test.index``.

As in PyG's ``read_planetoid_data``: test rows are put back at the positions listed in
``test.index``; Citeseer's 15 isolated test-range ids without a row get zero features and label
0 (they are in no mask); self-loops and duplicate edges are dropped (Cora 10,556 directed
edges, Citeseer 9,104). Public split: the first ``len(y)`` nodes train (140 / 120), the next 500
validate, the 1,000 ``test.index`` nodes test. Features are row-normalised (each row sums to 1,
zero rows stay zero), as GCN and DGL's ``CoraGraphDataset`` (which FF-G2M reads) do.

``split="cpf"`` is the protocol GLNN's tables use (the CPF data of Yang et al., WWW 2021, read by
GLNN's ``load_cpf_data``): the largest connected component only (Cora 2,485 nodes and 5,069
undirected edges, as GLNN's Table 6; Citeseer 2,120 / 3,679 here against CPF's 2,110 / 3,668), a
new random split per seed with 20 training and 30 validation nodes per class and every other node
testing, and the raw binary bag-of-words features (GLNN does not normalise them).

The pickles are read with a restricted unpickler that only builds numpy arrays, scipy CSR
matrices, lists and defaultdicts, so a tampered file cannot run code.
"""

from __future__ import annotations

import collections
import pickle

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph)
import torch

from mlpzoo.data.graphs import Graph, make_graph
from mlpzoo.data.paths import require_file
from mlpzoo.errors import DataError

__all__ = ["PLANETOID_NAMES", "SPLITS", "load_planetoid"]

PLANETOID_NAMES = ("cora", "citeseer")
SPLITS = ("public", "cpf")
NUM_VAL = 500
CPF_TRAIN_PER_CLASS, CPF_VAL_PER_CLASS = 20, 30

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(1))[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DataError(
                f"Planetoid pickle asks for {module}.{name}, which a Planetoid file never holds; "
                "the file is corrupt or not from kimiyoung/planetoid: download it again"
            ) from None


def _read(name: str, part: str, data_dir):
    path = require_file("planetoid", f"ind.{name}.{part}", data_dir)
    if part == "test.index":
        return np.array([int(line) for line in path.read_text().split()], dtype=np.int64)
    with open(path, "rb") as handle:
        try:
            return _SafeUnpickler(handle, encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            if isinstance(err, DataError):
                raise
            raise DataError(f"{path} is not a readable Planetoid pickle ({err}); download it again") from None


def _edges_from_dict(graph: dict) -> torch.Tensor:
    src = np.repeat(np.fromiter(graph.keys(), dtype=np.int64), [len(v) for v in graph.values()])
    dst = np.fromiter((j for v in graph.values() for j in v), dtype=np.int64, count=len(src))
    return torch.from_numpy(np.stack([src, dst]))


def load_planetoid(
    name: str, data_dir=None, normalize_features: bool | None = None, split: str = "public", seed: int = 0
) -> Graph:
    """Cora or Citeseer with the ``public`` split, or GLNN's ``cpf`` protocol drawn with ``seed`` (see
    the module docstring). ``normalize_features`` defaults to True for ``public``, False for ``cpf``."""
    name = name.lower()
    if name not in PLANETOID_NAMES:
        raise DataError(f"unknown Planetoid data set {name!r}; use one of {', '.join(PLANETOID_NAMES)}")
    if split not in SPLITS:
        raise DataError(f"unknown Planetoid split {split!r}; use one of {', '.join(SPLITS)}")
    if normalize_features is None:
        normalize_features = split == "public"
    x, y, tx, ty, allx, ally, graph = (
        _read(name, p, data_dir) for p in ("x", "y", "tx", "ty", "allx", "ally", "graph")
    )
    test_index = _read(name, "test.index", data_dir)
    sorted_test = np.sort(test_index)
    if name == "citeseer":
        # Some test-range ids are isolated nodes without a row: pad them with zeros.
        span = sorted_test[-1] - sorted_test[0] + 1
        tx_ext = sp.lil_matrix((span, tx.shape[1]), dtype=tx.dtype)
        tx_ext[sorted_test - sorted_test[0], :] = tx
        ty_ext = np.zeros((span, ty.shape[1]), dtype=ty.dtype)
        ty_ext[sorted_test - sorted_test[0], :] = ty
        tx, ty = tx_ext.tocsr(), ty_ext
    features = sp.vstack([allx, tx]).toarray().astype(np.float32)
    labels = np.vstack([ally, ty]).argmax(1)
    features[test_index] = features[sorted_test]
    labels[test_index] = labels[sorted_test]
    if normalize_features:
        rowsum = features.sum(1, keepdims=True)
        features = features / np.where(rowsum > 0, rowsum, 1.0)
    n = features.shape[0]
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][: len(y)] = True
    masks[1][len(y) : len(y) + NUM_VAL] = True
    masks[2][torch.from_numpy(test_index)] = True
    public = make_graph(
        features,
        _edges_from_dict(graph),
        labels,
        *masks,
        num_classes=ally.shape[1],
        name=name,
        info={"source": "planetoid public split", "split": "public"},
    )
    return public if split == "public" else _cpf_split(public, seed)


def _largest_component(graph: Graph) -> torch.Tensor:
    """Node ids of the largest connected component, in their original order."""
    n = graph.num_nodes
    src, dst = graph.edge_index.numpy()
    adjacency = sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    _, component = sp.csgraph.connected_components(adjacency, directed=False)
    return torch.from_numpy(np.flatnonzero(component == np.bincount(component).argmax()))


def _cpf_split(graph: Graph, seed: int) -> Graph:
    """GLNN's CPF protocol on ``graph``: its largest component, 20 / 30 random nodes per class for
    training / validation (``numpy.random.RandomState(seed)``, as GLNN), the rest for testing."""
    lcc = graph.subgraph(_largest_component(graph))
    y = lcc.y.numpy()
    rng = np.random.RandomState(seed)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), CPF_TRAIN_PER_CLASS, replace=False) for c in range(graph.num_classes)]
    )
    free = np.ones(len(y), dtype=bool)
    free[train] = False
    val = np.concatenate(
        [
            rng.choice(np.flatnonzero((y == c) & free), CPF_VAL_PER_CLASS, replace=False)
            for c in range(graph.num_classes)
        ]
    )
    masks = [torch.zeros(len(y), dtype=torch.bool) for _ in range(3)]
    masks[0][train] = True
    masks[1][val] = True
    masks[2] = ~(masks[0] | masks[1])
    return make_graph(
        lcc.x,
        lcc.edge_index,
        lcc.y,
        *masks,
        num_classes=graph.num_classes,
        name=graph.name,
        info={"source": f"planetoid, largest component, CPF split (seed {seed})", "split": "cpf"},
    )
