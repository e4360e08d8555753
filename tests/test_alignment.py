"""The similarity alignment onto the ArcFace template, checked with known transforms."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.alignment import ARCFACE_TEMPLATE, align_face, similarity_matrix


def _transform(points: np.ndarray, scale: float, angle: float, shift: tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]]) * scale
    return (points @ rot.T + np.array(shift)).astype(np.float32)


def test_template_maps_onto_itself() -> None:
    m = similarity_matrix(ARCFACE_TEMPLATE)
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-4)


@pytest.mark.parametrize(("scale", "angle", "shift"), [(2.5, 0.3, (400, 120)), (0.7, -0.9, (10, 300))])
def test_recovers_inverse_of_known_similarity(scale: float, angle: float, shift: tuple[float, float]) -> None:
    points = _transform(ARCFACE_TEMPLATE, scale, angle, shift)
    m = similarity_matrix(points)
    mapped = points @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, ARCFACE_TEMPLATE, atol=1e-3)
    # A similarity: equal scale on both axes, no shear, scale is the inverse of ours.
    np.testing.assert_allclose(np.linalg.norm(m[:, 0]), 1 / scale, rtol=1e-4)
    assert abs(np.dot(m[:, 0], m[:, 1])) < 1e-6


def test_align_face_puts_marked_points_on_the_template() -> None:
    image = np.zeros((600, 800, 3), dtype=np.uint8)
    points = _transform(ARCFACE_TEMPLATE, 3.0, 0.2, (250, 100))
    for x, y in points:
        image[round(y) - 2 : round(y) + 3, round(x) - 2 : round(x) + 3] = 255
    crop = align_face(image, points)
    assert crop.shape == (112, 112, 3)
    for tx, ty in ARCFACE_TEMPLATE:
        assert crop[round(ty), round(tx)].max() > 100


def test_degenerate_points_are_refused() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        similarity_matrix(np.zeros((5, 2), dtype=np.float32))
