"""The declarative model of sys/kern/vfs_aio.c (FreeBSD and RTEMS profiles)."""

from .actions import BY_NAME, LABELS, Label
from .model import Actor, Model, Transition
from .scenario import Scenario, ScenarioError, builtin_names, load, load_file, load_text
from .variables import ALL_VARS, Var

__all__ = ["ALL_VARS", "BY_NAME", "LABELS", "Actor", "Label", "Model", "Scenario", "ScenarioError", "Transition",
           "Var", "builtin_names", "load", "load_file", "load_text"]
