"""How often does a clip that was NOT answering a challenge meet one by chance?

Every bona fide clip (benchmarks/liveness_bona_fide.csv) and every animated-photo clip
(../shared/data/attacks/animated) is judged against N random challenges of
``ChallengeFactory.issue_random`` (random actions among blink, head turn left/right and
digits, random order, random pauses, short windows that must start after the prompt) and,
for comparison, of today's ``ChallengeFactory.issue``. Only the challenge's part of the
verdict is judged (face present for the challenge's length, each action in its window:
LivenessAnalyzer.actions); the per-frame track comes from the cache of
benchmarks/liveness_cache.py. Reported: share accepted, also among clips long enough to
cover the challenge, and per action the share of its windows met.

    nice python benchmarks/challenge_chance.py --root ../shared/data --n 100
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
from collections import Counter
from pathlib import Path

from benchmarks.liveness_cache import animated_manifest, cached
from liveness.analyse import LivenessAnalyzer
from liveness.bench import read_bona_fide
from liveness.challenge import ChallengeFactory
from matcher import FaceMatcher


class SeededRandom(secrets.SystemRandom):
    """A reproducible stand-in for the factory's random source (benchmark only)."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def random(self) -> float:
        return self._r.random()

    def getrandbits(self, k: int) -> int:
        return self._r.getrandbits(k)

    def _randbelow(self, n: int) -> int:  # type: ignore[override]
        return self._r.randrange(n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--manifest", type=Path, default=Path("benchmarks/liveness_bona_fide.csv"))
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("reports/challenge_chance.json"))
    ap.add_argument("--kinds", nargs="*", default=["random_actions", "current_service"])
    args = ap.parse_args()
    matcher = FaceMatcher()
    analyzer = LivenessAnalyzer(matcher)
    clips = [("bona_fide", args.root / i.clip) for i in read_bona_fide(args.manifest)]
    clips += [
        ("animated_photo", args.root / "attacks/animated" / r["file"]) for r in animated_manifest(args.root)
    ]
    report: dict[str, dict[str, object]] = {}
    for kind_name, issue in (("random_actions", "issue_random"), ("current_service", "issue")):
        if kind_name not in args.kinds:
            continue
        factory = ChallengeFactory()
        factory._rng = SeededRandom(10)
        tally: Counter[str] = Counter()
        for kind, path in clips:
            clip, track = cached(matcher, path)
            for _ in range(args.n):
                ch = getattr(factory, issue)()
                checks = {c.name: c.passed for c in analyzer.actions(clip, track, ch)}
                covers = clip.duration_s + 0.5 >= ch.duration_s
                tally[f"{kind}:judged"] += 1
                tally[f"{kind}:accepted"] += all(checks.values())
                tally[f"{kind}:long_enough"] += covers
                tally[f"{kind}:accepted_long_enough"] += covers and all(checks.values())
                for name, ok in checks.items():
                    if name != "face_present" and covers:
                        tally[f"{kind}:{name}:asked"] += 1
                        tally[f"{kind}:{name}:met"] += ok
        report[kind_name] = dict(tally)
        for kind in ("bona_fide", "animated_photo"):
            j, a = tally[f"{kind}:judged"], tally[f"{kind}:accepted"]
            le, ale = tally[f"{kind}:long_enough"], tally[f"{kind}:accepted_long_enough"]
            per = {
                k.split(":")[1]: f"{tally[k.replace(':asked', ':met')]}/{v}"
                for k, v in tally.items()
                if k.startswith(kind + ":") and k.endswith(":asked")
            }
            print(
                f"{kind_name} {kind}: accepted {a}/{j} = {a / j:.2%}; long enough {le}, "
                f"accepted among them {ale} = {ale / max(le, 1):.2%}; per action met {per}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=int), encoding="utf-8")


if __name__ == "__main__":
    main()
