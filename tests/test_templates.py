"""Live templates from several frames and comparison against several references."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from matcher.embedding import l2_normalise
from matcher.templates import Reference, compare_references, live_template


def test_template_is_the_renormalised_mean_direction() -> None:
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])  # b not normalised on purpose
    t = live_template([a, b])
    assert np.allclose(t, [np.sqrt(0.5), np.sqrt(0.5), 0.0])
    assert np.linalg.norm(t) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        live_template([])


def test_template_of_noisy_frames_is_closer_to_the_person_than_a_frame() -> None:
    rng = np.random.default_rng(0)
    person = l2_normalise(rng.normal(size=128))
    frames = [l2_normalise(person + 0.1 * rng.normal(size=128)) for _ in range(5)]
    assert float(live_template(frames) @ person) > max(float(f @ person) for f in frames)


def test_best_reference_is_named_with_its_age() -> None:
    old = Reference(np.array([1.0, 0.0]), "id_photo", date(2000, 6, 1), "id")
    recent = Reference(np.array([0.6, 0.8]), "capture", date(2026, 6, 1), "c1")
    v = compare_references(np.array([0.0, 1.0]), [old, recent], threshold=0.5, today=date(2026, 12, 1))
    assert v.match and v.best.reference.label == "c1" and v.best.score == pytest.approx(0.8)
    assert v.best.age_years == pytest.approx(0.5, abs=0.01)
    assert [round(s.score, 3) for s in v.scores] == [0.0, 0.8]
    d = v.as_dict()
    assert d["best"]["kind"] == "capture" and d["all"][0]["age_years"] == pytest.approx(26.5, abs=0.1)
    assert not compare_references(np.array([0.0, 1.0]), [old], threshold=0.5).match
