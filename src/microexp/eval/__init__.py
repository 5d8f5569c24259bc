"""Evaluation: spotting scorer (three published semantics), STRS, recognition metrics, LOSO protocol, file formats.

Modules: ``spotting`` (``evaluate``), ``strs`` (``evaluate_strs``), ``recognition`` (``evaluate``),
``protocol`` (``loso_splits``, ``normalize_subject``, ``SELECT_MODES``), ``megc_io`` (interval files),
``reclog`` (per-sample recognition logs).
"""
