"""Mutation testing of an assignment's own grading: ``bpgrade selftest ASSIGNMENT``.

Before releasing an assignment, an instructor checks that its parts, cases and diagnoses catch
the mistakes they are meant to catch, the way scikit-learn tests its estimator checks on
deliberately broken estimators:

* every random case can tell each modelled mistake (a part's ``variants``) and each trivial
  answer from the right answer: none was kept after every redraw still gave it the point;
* the reference scores full marks and the stub scores 0 with ``not_implemented`` everywhere;
* every hand-written **mutant** (the reference with one mistake, declared in
  ``solutions/selftest/<id>.py``) loses points on exactly the parts it declares, and each
  labelled part's first diagnosis is the declared code;
* every **correct variant** (einsum, loops, float32 inside, another stable formula) keeps full
  marks;
* a generated **float32** variant wraps every graded function of the reference so it runs on
  its input arrays cast to float32 and returns float64 again (the tolerance policy: float32
  arithmetic inside a correct submission passes); it must keep full marks, probes included;
* **generated** mutants wrap each graded function so one output comes back negated, doubled or
  transposed; the part grading that output must lose points and name the mistake;
* **trivial answers** earn nothing: every graded function returning zeros, ones, a constant or
  an input of the output's shape unchanged, each trivial answer the assignment declares
  (``Function(trivial=...)``), and the public cases' answers hard-coded (a lookup table of
  what ``bpgrade check`` expects) must score 0 on every part in hidden grading.

``solutions/selftest/<id>.py`` defines ``MUTANTS = [Mutant(...), ...]`` and
``CORRECT = [Correct(...), ...]``; it lives beside the hidden solutions because a mutant is
the answer with one mistake.
"""
from .suite import Correct, Mutant, Outcome, Suite, apply_edits, judge_float32, judge_full_marks, judge_mutant, \
    judge_stub, judge_trivial, load, lost, run
from .generate import call_args, float32_variant, generated, table_source, trivial_sources

__all__ = ["call_args", "Correct", "Mutant", "Outcome", "Suite", "apply_edits", "float32_variant", "generated", "judge_float32",
           "judge_full_marks", "judge_mutant", "judge_stub", "judge_trivial", "load", "lost", "run", "table_source",
           "trivial_sources"]
