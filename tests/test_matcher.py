"""The shipped matcher on real photos it was not calibrated on (the deepface set).

The preset thresholds were calibrated on LFW View-2, the threshold in force (issue 9) on the
East-Asian development set (models/manifest.toml [calibrations.*]); the 61 deepface
photos (13 people, 140 genuine and 140 impostor pairs in ../shared/data/faces/pairs.csv)
were not used to choose anything, so this is an out-of-sample check.
"""

from __future__ import annotations

import numpy as np
import pytest

from matcher import FaceMatcher, MatcherError, Role
from matcher.evaluation import read_pairs
from tests.conftest import FACES, load

pytestmark = pytest.mark.needs_data


@pytest.fixture(scope="module")
def deepface_scores(matcher: FaceMatcher) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    pairs = [p for p in read_pairs(FACES / "pairs.csv") if p.set == "deepface"]
    cache: dict[str, np.ndarray] = {}
    for f in sorted({p.file_a for p in pairs} | {p.file_b for p in pairs}):
        emb = matcher.analyse(load(f"faces/{f}"), Role.PROBE).embedding
        assert emb is not None
        cache[f] = emb
    scores = np.array([matcher.compare(cache[p.file_a], cache[p.file_b]) for p in pairs])
    same = np.array([p.same for p in pairs])
    return scores, same, [(p.file_a, p.file_b) for p in pairs]


def test_every_genuine_deepface_pair_matches(matcher: FaceMatcher, deepface_scores) -> None:  # type: ignore[no-untyped-def]
    scores, same, _ = deepface_scores
    assert same.sum() == 140
    # At the LFW preset threshold every genuine pair matches.
    assert (scores[same] < matcher.preset.threshold).sum() == 0
    # The East-Asian calibration in force is stricter (0.5425 for fast, FMR <= 1e-3 on Chinese
    # impostors): measured 6 of 140 misses (4.3 %), the price BENCHMARKS.md (issue 9) reports.
    misses = scores[same] < matcher.threshold
    assert misses.sum() <= 6, f"{misses.sum()} genuine pairs below {matcher.threshold}"


def test_impostor_deepface_pairs_do_not_match(matcher: FaceMatcher, deepface_scores) -> None:  # type: ignore[no-untyped-def]
    scores, same, names = deepface_scores
    at_preset = [names[i] for i in np.flatnonzero(~same & (scores >= matcher.preset.threshold))]
    # Measured at the LFW preset threshold: 2 of 140 (1.4 %) — Matt Damon vs Leonardo DiCaprio
    # (img33/img35, 0.49), a famous look-alike pair, and img22/img9. Anything more means the
    # matcher got worse; at the stricter calibration in force neither matches.
    assert len(at_preset) <= 2, at_preset
    false_matches = [names[i] for i in np.flatnonzero(~same & (scores >= matcher.threshold))]
    assert false_matches == [], false_matches


def test_genuine_scores_are_well_above_impostor_scores(deepface_scores) -> None:  # type: ignore[no-untyped-def]
    scores, same, _ = deepface_scores
    assert np.median(scores[same]) - np.median(scores[~same]) > 0.4


def test_verify_refuses_an_id_photo_with_two_faces(matcher: FaceMatcher) -> None:
    a = load("faces/deepface/img1.jpg")
    b = load("faces/deepface/img3.jpg")
    h = min(a.shape[0], b.shape[0])
    two = np.hstack([a[:h], b[:h]])
    with pytest.raises(MatcherError) as info:
        matcher.verify(two, a)
    assert info.value.reason.code == "several_faces"


def test_live_photo_uses_the_centre_face_of_a_crowded_lfw_image(matcher: FaceMatcher) -> None:
    # LFW deep-funnelled images often contain several people; the labelled one is central.
    image = load("faces/lfw/Abel_Pacheco/Abel_Pacheco_0001.jpg")
    face = matcher.analyse(image, Role.PROBE, embed=False)
    centre = np.array([image.shape[1] / 2, image.shape[0] / 2])
    assert np.linalg.norm(face.detection.centre - centre) < image.shape[0] * 0.15


def test_one_matcher_serves_several_threads(matcher: FaceMatcher) -> None:
    """The service analyses clips, previews and enrolments on several threads with one set of
    models; a LiteRT interpreter called from two threads at once raised "There is at least 1
    reference to internal data" (found by benchmarks/faults.py)."""
    import threading

    image = load("faces/deepface/img1.jpg")
    expected = matcher.analyse(image, Role.PROBE).embedding
    errors: list[str] = []

    def work() -> None:
        for _ in range(15):
            try:
                got = matcher.analyse(image, Role.PROBE).embedding
                assert got is not None and expected is not None and float(got @ expected) > 0.999
            except Exception as exc:  # collected: an assertion in a thread would be lost
                errors.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
