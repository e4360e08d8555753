"""The decision over one attempt, every combination that matters, as a table."""

from __future__ import annotations

import pytest

from api.certification.outcome import Decision, OutcomeKind, ReviewKind, decide_outcome

T = 0.5  # the threshold; the decision only compares against it

CASES = [
    # live, score, look_alike, needs_review -> decision
    (False, 0.9, False, False, Decision(OutcomeKind.FAILED)),
    (False, None, False, False, Decision(OutcomeKind.FAILED)),
    (False, 0.9, True, True, Decision(OutcomeKind.FAILED)),  # liveness first: nothing else counts
    (True, None, False, False, Decision(OutcomeKind.FAILED, face_mismatch=True)),  # no reference
    (True, 0.49, False, False, Decision(OutcomeKind.FAILED, face_mismatch=True)),
    (True, 0.5, False, False, Decision(OutcomeKind.PASSED)),  # the threshold itself matches
    (True, 0.9, True, False, Decision(OutcomeKind.REVIEW, ReviewKind.POSSIBLE_IMPERSONATION)),
    (True, 0.9, False, True, Decision(OutcomeKind.REVIEW, ReviewKind.TWENTY_FOUR_MONTHS)),
    (True, 0.9, True, True, Decision(OutcomeKind.REVIEW, ReviewKind.POSSIBLE_IMPERSONATION)),
    (True, 0.3, True, True, Decision(OutcomeKind.FAILED, face_mismatch=True)),
]


@pytest.mark.parametrize(("live", "score", "look_alike", "needs_review", "expected"), CASES)
def test_decide_outcome(
    live: bool, score: float | None, look_alike: bool, needs_review: bool, expected: Decision
) -> None:
    got = decide_outcome(
        live=live, score=score, threshold=T, look_alike=look_alike, needs_review=needs_review
    )
    assert got == expected
