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
zero rows stay zero), as GCN and GLNN do.

The pickles are read with a restricted unpickler that only builds numpy arrays, scipy CSR
matrices, lists and defaultdicts, so a tampered file cannot run code.
"""

from __future__ import annotations

import collections
import pickle

import numpy as np
import scipy.sparse as sp
import torch

from mlpzoo.data.graphs import Graph, make_graph
from mlpzoo.data.paths import require_file
from mlpzoo.errors import DataError

__all__ = ["PLANETOID_NAMES", "load_planetoid"]

PLANETOID_NAMES = ("cora", "citeseer")
NUM_VAL = 500

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
            raise DataError(f"Planetoid pickle asks for {module}.{name}, which a Planetoid file never holds; "
                            "the file is corrupt or not from kimiyoung/planetoid: download it again") from None


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


def load_planetoid(name: str, data_dir=None, normalize_features: bool = True) -> Graph:
    """Cora or Citeseer with the public split (see the module docstring)."""
    name = name.lower()
    if name not in PLANETOID_NAMES:
        raise DataError(f"unknown Planetoid data set {name!r}; use one of {', '.join(PLANETOID_NAMES)}")
    x, y, tx, ty, allx, ally, graph = (_read(name, p, data_dir) for p in ("x", "y", "tx", "ty", "allx", "ally", "graph"))
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
    masks[1][len(y): len(y) + NUM_VAL] = True
    masks[2][torch.from_numpy(test_index)] = True
    return make_graph(features, _edges_from_dict(graph), labels, *masks, num_classes=ally.shape[1], name=name,
                      info={"source": "planetoid public split"})
