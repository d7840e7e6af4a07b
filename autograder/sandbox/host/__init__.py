"""The trusted half of the sandbox, in the grader: :class:`Sandbox` (limits, uid, work dirs,
a launcher per start method), :class:`Submission` (one submission's worker and its calls),
and the validated results of what a worker replies."""
from .launch import Launcher, SpawnLauncher, ZygoteLauncher
from .replies import CallResult, CellFailure, LoadResult
from .sandbox import Sandbox, default_isolation, default_secret_paths
from .session import Request, Submission, WorkerProcess

__all__ = ["CallResult", "CellFailure", "Launcher", "LoadResult", "Request", "Sandbox", "SpawnLauncher",
           "Submission", "WorkerProcess", "ZygoteLauncher", "default_isolation", "default_secret_paths"]
