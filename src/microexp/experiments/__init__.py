"""The experiment layer: LOSO splits, fold seeds, run fingerprints, the fold store and the executors.

One experiment = a list of fold tasks + a fold function + a :class:`FoldStore` (one fingerprint per output
folder; a mismatch is refused) + an executor (in-process, process pool or Ray)::

    folds = loso_splits(index, n_val_subjects=6, seed=0)
    fp = fingerprint(settings={...}, content=content_digest([X], index), subjects=all_subjects(index))
    store = FoldStore(out, fp, meta={...})
    with make_executor("ray", threads_per_task=1) as ex:
        res = run_experiment(tasks, fold_fn, store, executor=ex, progress=update)

Recognition LOSO (``recognition.loso``) and spotting LOSO build their tasks and summaries on top of it.
"""

from microexp.experiments.executor import (
    KINDS,
    LocalExecutor,
    RayExecutor,
    TaskResult,
    item_name,
    make_executor,
    run_task,
)
from microexp.experiments.fingerprint import content_digest, fingerprint
from microexp.experiments.run import ExperimentResult, run_experiment
from microexp.experiments.splits import (
    Fold,
    all_subjects,
    fold_seed,
    loso_splits,
    normalize_subject,
    resolve_subjects,
    safe_name,
    subject_keys,
    validation_subjects,
)
from microexp.experiments.store import FoldStore

__all__ = [
    "KINDS", "ExperimentResult", "Fold", "FoldStore", "LocalExecutor", "RayExecutor", "TaskResult", "all_subjects",
    "content_digest", "fingerprint", "fold_seed", "item_name", "loso_splits", "make_executor", "normalize_subject",
    "resolve_subjects", "run_experiment", "run_task", "safe_name", "subject_keys", "validation_subjects",
]
