"""The only way into student code, in two halves that never share a process.

``host/``   trusted, in the grader: starts workers, sends calls, validates every reply, measures
            CPU time (:class:`autograder.sandbox.host.Sandbox`, :class:`~.host.Submission`).
``guest/``  beside student code: the zygote (fork server), the worker, and the confinement
            they apply to themselves. It imports only the standard library, numpy,
            :mod:`autograder.spec` and the shared modules below, never grader code
            (``tests/test_boundary.py`` holds it to that).

Shared plain pieces both halves read: :mod:`.wire` (frames and ``.npy`` validation),
:mod:`.channel` (frames over a file descriptor), :mod:`.protocol` (what requests carry),
:mod:`.values` (a return value as named float64 arrays), :mod:`.policy` (limits, confinement,
forbidden and preimported modules) and :mod:`.libc`.

This file imports nothing: the guest imports its modules through this package, and anything
imported here would be in every zygote.
"""
