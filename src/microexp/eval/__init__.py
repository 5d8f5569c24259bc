"""Evaluation: spotting scorer (three published semantics), STRS, recognition metrics, model selection, file formats.

Modules: ``spotting`` (``evaluate``), ``strs`` (``evaluate_strs``), ``recognition`` (``evaluate``),
``protocol`` (``SELECT_MODES``, ``select_epoch``), ``megc_io`` (interval files; the one converter between a
file's frame numbering and 0-based tables), ``reclog`` (per-sample recognition logs). LOSO splits live in
``microexp.experiments``.
"""
