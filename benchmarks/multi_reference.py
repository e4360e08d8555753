"""Issue 9 study: does a template of several images lower FNMR at a fixed FMR?

For people with at least 4 photos (CASIA dev: all 20 with faces found, 5 photos each; LFW
View-2 images: people with >= 4 photos) one photo is the reference (the "ID photo") and a
template is built from k of the others (k = 1: a single live frame, as today; k = 2, 3: the
mean of k normalised embeddings, matcher.templates.live_template). Genuine: the reference
against its own person's template; impostor: every reference against every other person's
template. Rotating which photo is the reference gives more pairs. FMR and FNMR are read at
the thresholds in force (shipped calibration) and TAR at a fixed FMR on these impostors.

    PYTHONPATH=. nice python -m benchmarks.multi_reference
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from benchmarks.face_sets import FaceSet, casia_dev, lfw
from matcher.evaluation import threshold_at_fmr
from matcher.pipeline import FaceMatcher
from matcher.templates import live_template

MIN_PHOTOS = 4
MAX_PEOPLE_LFW = 300  # the first 300 people (sorted) with >= 4 photos: ~90 k impostor pairs per k


def template_scores(data: FaceSet, k: int, max_people: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    people = [p for p in sorted(set(data.ids.tolist())) if np.sum(data.ids == p) >= MIN_PHOTOS]
    people = people[:max_people] if max_people else people
    refs, temps, owner_r, owner_t = [], [], [], []
    for who, p in enumerate(people):
        idx = np.flatnonzero(data.ids == p)[: MIN_PHOTOS + 1]
        for r in idx[:2]:  # two rotations of the reference photo
            rest = [i for i in idx if i != r]
            refs.append(data.emb[r])
            owner_r.append(who)
            # the first k-combination of the others (deterministic); one template per rotation
            temps.append(live_template([data.emb[i] for i in next(combinations(rest, k))]))
            owner_t.append(who)
    s = np.array(refs) @ np.array(temps).T
    same = np.array(owner_r)[:, None] == np.array(owner_t)[None, :]
    # a reference against the template of its own rotation (same person) is genuine; the other
    # rotation of the same person is left out (it shares photos with the reference).
    own = np.eye(len(refs), dtype=bool)
    genuine = s[own]
    impostor = s[~same]
    return genuine, impostor


def main() -> None:
    m = FaceMatcher(preset="fast", threads=1)
    ea = casia_dev(m).faces_found()
    other, _ = lfw(m)
    print(f"threshold in force: {m.threshold:.4f} ({m.calibration.source})")
    print(
        "| set | frames in template k | genuine / impostor | FNMR @ in force | FMR @ in force "
        "| TAR @ FMR 1e-3 (read on these impostors) |"
    )
    print("|---|---|---|---|---|---|")
    for name, data, cap in (("CASIA dev", ea, None), ("LFW", other, MAX_PEOPLE_LFW)):
        for k in (1, 2, 3):
            gen, imp = template_scores(data, k, cap)
            t = threshold_at_fmr(imp, 1e-3)
            print(
                f"| {name} | {k} | {gen.size} / {imp.size} | {100 * np.mean(gen < m.threshold):.2f} % "
                f"| {np.mean(imp >= m.threshold):.2e} | {100 * np.mean(gen >= t):.2f} % |",
                flush=True,
            )


if __name__ == "__main__":
    main()
