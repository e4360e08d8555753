"""Rendered-face signals of every development clip, from the track cache, into one table.

Rows: the 41 bona fide clips, their re-encoded variants (benchmarks/liveness_cache.py), the
32 animated-photo clips (../shared/data/attacks/animated) and, where built, the cut-out
photo attacks. Output ``reports/cache/signals.csv``: clip, kind, generator, group (the bona
fide clip a variant came from, for leave-one-clip-out), then liveness/rendering.py's signals.

    nice python benchmarks/rendering_features.py --root ../shared/data
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from benchmarks.liveness_cache import CACHE, VARIANTS, animated_manifest, cached, variant_path
from liveness.bench import read_bona_fide
from liveness.rendering import SIGNAL_NAMES, rendering_signals
from matcher import FaceMatcher


def rows(root: Path, manifest: Path) -> list[dict[str, str]]:
    bona = [i.clip for i in read_bona_fide(manifest)]
    out = [
        {"clip": c, "path": str(root / c), "kind": "bona_fide", "generator": "bona_fide", "group": c}
        for c in bona
    ]
    for v in VARIANTS:
        out += [
            {
                "clip": f"{v}/{c}",
                "path": str(variant_path(c, v)),
                "kind": "bona_fide",
                "generator": f"bona_fide_{v}",
                "group": c,
            }
            for c in bona
        ]
    for r in animated_manifest(root):
        rel = f"attacks/animated/{r['file']}"
        out.append(
            {
                "clip": rel,
                "path": str(root / rel),
                "kind": "animated_photo",
                "generator": r["generator"],
                "group": rel,
            }
        )
    for p in sorted((CACHE / "cutout").glob("*.mp4")):
        out.append(
            {
                "clip": f"cutout/{p.name}",
                "path": str(p),
                "kind": "cutout_photo",
                "generator": "cutout",
                "group": p.name,
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--manifest", type=Path, default=Path("benchmarks/liveness_bona_fide.csv"))
    ap.add_argument("--out", type=Path, default=CACHE / "signals.csv")
    ap.add_argument("--no-cutout", action="store_true", help="leave the cut-out attacks out")
    args = ap.parse_args()
    matcher = FaceMatcher()
    table = []
    for r in rows(args.root, args.manifest):
        if args.no_cutout and r["kind"] == "cutout_photo":
            continue
        clip, track = cached(matcher, Path(r["path"]), with_audio=False)
        t0 = time.process_time()
        s = rendering_signals(clip, track)
        cpu = time.process_time() - t0
        table.append(
            {
                **{k: r[k] for k in ("clip", "kind", "generator", "group")},
                **{k: repr(v) for k, v in zip(SIGNAL_NAMES, s.vector(), strict=True)},
                "seconds": f"{clip.duration_s:.2f}",
                "signals_cpu_s": f"{cpu:.3f}",
            }
        )
        print(r["clip"], s.as_dict(), flush=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)


if __name__ == "__main__":
    main()
