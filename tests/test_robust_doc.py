"""docs/robustness.md is generated from the robustness case tables; this test fails when it is stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location("robustness_doc", REPO / "benchmarks" / "robustness_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_robustness_doc_matches_the_tests():
    gen = _generator()
    text = gen.render()
    committed = (REPO / "docs" / "robustness.md").read_text(encoding="utf-8")
    assert committed == text, "docs/robustness.md is stale: run .venv/bin/python benchmarks/robustness_doc.py"


def test_every_case_table_is_documented_and_every_case_id_is_unique():
    """Each module-level list of ``Case`` in tests/test_robust_*.py is a section of the page, ids unique."""
    import importlib
    import sys

    from robust_helpers import Case

    gen = _generator()
    text = gen.render()
    listed = {(m, t) for m, t, _title, _test in gen.SECTIONS}
    sys.path.insert(0, str(REPO / "tests"))
    try:
        found = set()
        for path in sorted((REPO / "tests").glob("test_robust_*.py")):
            mod = importlib.import_module(path.stem)
            for name, value in vars(mod).items():
                if isinstance(value, list) and value and all(isinstance(c, Case) for c in value):
                    found.add((path.stem, name))
                    ids = [c.id for c in value]
                    assert len(ids) == len(set(ids)), (path.stem, name)
                    assert all(f"| `{i}` |" in text for i in ids), (path.stem, name)
    finally:
        sys.path.remove(str(REPO / "tests"))
    assert found == listed, f"case tables not on the page: {sorted(found - listed)}"
