"""skelbench: benchmark a skeleton-understanding model on recognition, captioning, reasoning QA and
cross-format transfer, with a GCN baseline trained in the same run."""

from __future__ import annotations

__version__ = "0.1.0"

from skelbench.api import evaluate
from skelbench.tasks import TaskSpec, get_task, list_tasks, load_task_yaml, register_task

__all__ = [
    "__version__",
    "evaluate",
    "TaskSpec",
    "register_task",
    "get_task",
    "list_tasks",
    "load_task_yaml",
]
