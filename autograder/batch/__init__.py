"""A whole class, for instructors: find the submissions (:mod:`.submissions`), grade them in a
pool of sandboxes (:mod:`.pool`, driven by :mod:`.runner`), keep the results log and derive the
gradebook and feedback from it (:mod:`.gradebook`) and the class report (:mod:`.classreport`)."""
from .pool import Pool, PoolError, grader_version
from .runner import BatchError, BatchSummary, run_batch, student_key

__all__ = ["BatchError", "BatchSummary", "Pool", "PoolError", "grader_version", "run_batch", "student_key"]
