"""Wall time of ``prepare`` on a synthetic suite with the local executor (1 and 2 workers) and Ray, here.

    python benchmarks/scale.py [--videos 4] [--seconds 5] [--suite DIR] [--json]

Generates a suite with ``microexp.synth.write_suite`` (kept in --suite when given, else a temp folder),
then prepares it into a fresh cache per executor: ``local`` in-process, ``local`` with a pool of 2 worker
processes, ``ray`` on a local 2-CPU cluster (cluster start-up timed apart), and finally a Ray rerun on the
filled cache (the resume path: videos are hashed, not tracked). The load average is printed because
other work on the machine slows every column alike. With --json the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _prepare(suite: Path, cache: Path, executor) -> tuple[float, dict]:
    from microexp.prepare import prepare_dataset

    t = time.perf_counter()
    rep = prepare_dataset("synth", suite, cache, executor=executor)
    wall = time.perf_counter() - t
    return wall, {s: rep.count(s) for s in ("built", "cached", "failed")} | {
        "frames": int(sum(r["frames"] for r in rep.rows))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each synthetic video")
    ap.add_argument("--suite", type=Path, default=None, help="keep (or reuse) the suite in this folder")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from microexp.experiments.executor import LocalExecutor, RayExecutor
    from microexp.synth import write_suite

    with tempfile.TemporaryDirectory(prefix="microexp-scale-") as tmp:
        tmp = Path(tmp)
        suite = args.suite or tmp / "suite"
        t = time.perf_counter()
        write_suite(suite, args.videos, "casme_sq", seed=0, seconds=args.seconds)
        results: dict = {"videos": args.videos, "seconds_per_video": args.seconds, "cpus": os.cpu_count(),
                         "suite_seconds": round(time.perf_counter() - t, 2)}
        runs = [("local, 1 worker (in-process)", "local_1", lambda: LocalExecutor(1)),
                ("local, 2 worker processes", "local_2", lambda: LocalExecutor(2))]
        for label, key, make in runs:
            with make() as ex:
                wall, counts = _prepare(suite, tmp / key, ex)
            results[key] = {"wall_s": round(wall, 2), **counts}
            print(f"{label:34s} {wall:7.2f} s  {counts}", flush=True)
        if not args.no_ray:
            try:
                import ray  # noqa: F401
            except ImportError:
                print("ray: not installed (pip install 'microexp[ray]'); skipped")
            else:
                t = time.perf_counter()
                with RayExecutor(workers=2) as ex:
                    start = time.perf_counter() - t
                    wall, counts = _prepare(suite, tmp / "ray", ex)
                    again, counts2 = _prepare(suite, tmp / "ray", ex)
                results["ray_2cpu"] = {"start_s": round(start, 2), "wall_s": round(wall, 2), **counts}
                results["ray_2cpu_rerun"] = {"wall_s": round(again, 2), **counts2}
                print(f"{'ray, local 2-CPU cluster':34s} {wall:7.2f} s  {counts}  (+{start:.1f} s cluster start)")
                print(f"{'ray rerun on the filled cache':34s} {again:7.2f} s  {counts2}")
        load = os.getloadavg()[0]
        results["load_avg_1min"] = round(load, 2)
        print(f"{results['videos']} videos x {args.seconds:g} s at 30 fps, {results['cpus']} CPUs, "
              f"load average {load:.1f} (suite generated in {results['suite_seconds']} s)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
