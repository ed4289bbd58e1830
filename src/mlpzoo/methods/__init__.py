"""Techniques that wrap models: GNN-to-MLP distillation (GLNN, FF-G2M) and Mowst mixtures."""

from mlpzoo.methods.distill import run_distillation, train_student, train_teacher
from mlpzoo.methods.mowst import Mowst, MowstConfig, fit_mowst

__all__ = ["Mowst", "MowstConfig", "fit_mowst", "run_distillation", "train_student", "train_teacher"]
