"""Issue 10: the rendered-face model, its reproducible fit, the cut-out builder, head turns
and random-action challenges."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from liveness import attacks
from liveness.challenge import Challenge, ChallengeFactory, Prompt
from liveness.combiner import load
from liveness.tracking import FrameMeasure, Track
from liveness.turn import judge_turn, nose_offset
from liveness.video import Clip
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[1]


def test_training_script_reproduces_the_committed_model() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/fit_liveness_model.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    model = load()
    assert model.features and 0 < model.threshold < 1 and np.all(model.scale > 0)


def _fake_face(side: int = 200) -> np.ndarray:
    """468 landmark positions with the eye and mouth contours where a face has them."""
    rng = np.random.default_rng(0)
    shape = rng.uniform(60, 140, (468, 2)).astype(np.float32)
    for contour, (cx, cy), r in (
        (attacks.EYE_HOLES[0], (70, 80), 8),
        (attacks.EYE_HOLES[1], (130, 80), 8),
        (attacks.MOUTH_HOLE, (100, 150), 14),
    ):
        a = np.linspace(0, 2 * np.pi, len(contour), endpoint=False)
        shape[list(contour)] = np.stack([cx + r * np.cos(a), cy + r * 0.5 * np.sin(a)], 1)
    return shape


def test_cutout_shows_the_clip_through_the_holes_and_the_still_elsewhere() -> None:
    rng = np.random.default_rng(1)
    still = rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)
    shape = _fake_face()
    behind = Clip([rng.integers(0, 255, (200, 200, 3), dtype=np.uint8) for _ in range(6)], np.arange(6) / 25)
    out = attacks.cutout_photo(still, shape, behind, [shape] * 6, moving=False)
    holes = attacks.cutout_holes(shape, still.shape).astype(bool)
    assert holes.sum() > 200 and holes.mean() < 0.2
    for frame in out.frames:
        assert np.array_equal(frame[~holes], still[~holes])  # the rest is the still
    eye = attacks.cutout_holes(_only(shape, attacks.EYE_HOLES[0]), still.shape).astype(bool)
    changes = [
        np.abs(a[eye].astype(int) - b[eye].astype(int)).mean()
        for a, b in zip(out.frames, out.frames[1:], strict=False)
    ]
    assert min(changes) > 10  # the eyes move
    moving = attacks.cutout_photo(still, shape, behind, [shape] * 6, moving=True)
    assert moving.frames[0].shape == (480, 480, 3) and not np.array_equal(moving.frames[0], moving.frames[-1])


def _only(shape: np.ndarray, contour: tuple[int, ...]) -> np.ndarray:
    """A shape whose other holes are collapsed onto this contour's first point."""
    s = shape.copy()
    for other in (*attacks.EYE_HOLES, attacks.MOUTH_HOLE):
        if other != contour:
            s[list(other)] = shape[contour[0]]
    return s


def _turning_track(offsets: list[float], fps: float = 25.0) -> Track:
    frames = []
    for i, off in enumerate(offsets):
        shape = np.zeros((468, 2), np.float32)
        shape[234], shape[454] = (0, 0), (100, 0)
        shape[1] = (50 + 100 * off, 10)
        frames.append(FrameMeasure(i, i / fps, 1, True, np.array([0, 0, 100, 100.0]), shape=shape))
    return Track(frames)


def test_a_head_turn_counts_only_to_the_side_asked_and_after_the_prompt() -> None:
    still, turn = [0.0] * 50, [min(0.25, 0.02 * k) for k in range(50)]
    track = _turning_track(still + turn)  # the turn to the person's left starts at 2.0 s
    offset, times = nose_offset(track), track.times
    assert judge_turn(offset, times, "left", 1.5, 4.0).done
    assert not judge_turn(offset, times, "right", 1.5, 4.0).done
    assert not judge_turn(offset, times, "left", 2.5, 4.0).done  # already turning at the prompt
    held = _turning_track(still * 2)
    assert not judge_turn(nose_offset(held), held.times, "left", 1.5, 4.0).done  # no turn at all


def test_random_challenges_vary_and_round_trip() -> None:
    factory = ChallengeFactory()
    seen_orders, seen_turns = set(), set()
    for _ in range(300):
        ch = factory.issue_random()
        actions = [p.action for p in ch.prompts]
        assert 2 <= len(actions) <= 3 and len(set(actions)) == len(actions)
        assert ch.prompts[0].start_s >= 0.6  # prompted at a server-chosen moment, not at 0
        for a, b in zip(ch.prompts, ch.prompts[1:], strict=False):
            assert b.start_s > a.end_s
        assert len(ch.turns) == sum(a.startswith("turn_") for a in actions)
        assert ch.digits and "digits" in actions and ch.blinks == ("blink" in actions)
        seen_orders.add(tuple(a.split("_")[0] for a in actions))
        seen_turns.update(ch.turns)
        assert Challenge.from_dict(ch.to_dict()) == ch
    assert len(seen_orders) >= 8 and seen_turns == {"left", "right"}


def test_old_challenge_json_without_turns_still_reads() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    old = Challenge("n", 1, "3816", (Prompt("blink", 0, 4),), now, now + timedelta(minutes=1))
    d = old.to_dict()
    d.pop("turns")
    assert Challenge.from_dict(d) == old and old.turns == ()


@pytest.mark.needs_data
def test_signals_of_a_listed_clip_are_what_the_training_list_says(matcher) -> None:  # type: ignore[no-untyped-def]
    from liveness.rendering import SIGNAL_NAMES, rendering_signals
    from liveness.tracking import track_face
    from liveness.video import read_video

    rows = {r["clip"]: r for r in csv.DictReader((ROOT / "benchmarks/liveness_model_training.csv").open())}
    for rel in ("videos/grid/bbaf2n.mpg", "attacks/animated/g_edtalk_A.mp4"):
        clip = read_video(DATA / rel, with_audio=False)
        signals = rendering_signals(clip, track_face(matcher, clip)).vector()
        for name, value in zip(SIGNAL_NAMES, signals, strict=True):
            listed = float(rows[rel][name])
            assert (np.isnan(value) and np.isnan(listed)) or abs(value - listed) < 1e-3, (rel, name)


def _blink_challenge(duration: float) -> Challenge:
    now = datetime.now(UTC)
    return Challenge("t", 1, "", (Prompt("blink", 0.0, duration),), now, now + timedelta(minutes=1))


@pytest.mark.needs_data
def test_a_generated_clip_fails_naming_what_was_seen_and_a_real_one_passes(matcher) -> None:  # type: ignore[no-untyped-def]
    from liveness.analyse import LivenessAnalyzer
    from liveness.video import read_video

    analyzer = LivenessAnalyzer(matcher, rendered_face_decides=True)
    fake = read_video(DATA / "attacks/animated/g_edtalk_A.mp4")
    result = analyzer.analyse(fake, _blink_challenge(fake.duration_s))
    assert not result.passed
    reason = next(r for r in result.reasons if r.code == "rendered_face")
    check = next(c for c in result.checks if c.name == "rendered_face")
    assert check.evidence["strongest_against"] in check.evidence["signals"]  # type: ignore[operator]
    assert ":" in reason.en and "：" in reason.zh and len(reason.en) > 60  # names what was seen
    real = read_video(DATA / "videos/talking/liveportrait_driving_d0.mp4")
    assert analyzer.analyse(real, _blink_challenge(real.duration_s)).passed
    # By default the model is evidence only: the same generated clip's verdict is not its.
    advisory = LivenessAnalyzer(matcher).analyse(fake, _blink_challenge(fake.duration_s))
    assert next(c for c in advisory.checks if c.name == "rendered_face").advisory
