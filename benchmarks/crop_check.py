"""How much a no-learning frame difference sees in the learned spotters' crops, and how often the crops jump.

Reads a suite of ``benchmarks/spotting_learned.py`` (its work folder) and the crop cache there, builds the crops
with the ``microexp`` on the path when missing, and prints one JSON line: per type the pooled per-frame ROC-AUC
of the frame difference mean |F_t − F_{t−k}| + mean |F_t − F_{t+k}| (k per type from the suite's GT, positives
inside a GT of the type, negatives outside every expression) and the crop jumps (the crop window moving more
than 1 crop px between consecutive frames). Run it with an older checkout on ``PYTHONPATH`` to compare crop
policies (the cache keys differ, so both sets of crops live side by side):

    PYTHONPATH=src python benchmarks/crop_check.py --work ~/.cache/microexp/learnbench/full --suite cas
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="the spotting_learned.py work folder (…/full or …/tiny)")
    ap.add_argument("--suite", default="cas")
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from spotting_learned import aucs, frame_difference, realignments

    from microexp.features import cache
    from microexp.spotting.train import get_sequences, load_spot_data

    data = load_spot_data(f"synth:{args.work / f'suite_{args.suite}'}")
    seqs = get_sequences(data, args.size, args.work / "cache")
    fd = frame_difference(data, seqs)
    out = {"cache_version": cache.CACHE_VERSION, "suite": args.suite, "size": args.size,
           "videos": len(data.videos), "frames": int(sum(s.n_frames for s in seqs.values())),
           "framediff_auc": {k: round(aucs(data, {v: c for v, c in fd.items()}, k)["auc"], 4) for k in ("me", "mae")},
           "crop_jumps": realignments(data, seqs)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
