"""The decision over one attempt, every combination that matters, as a table."""

from __future__ import annotations

import pytest

from api.certification.outcome import Decision, OutcomeKind, ReviewKind, decide_outcome

T = 0.5  # the threshold; the decision only compares against it

IMPERSONATION = Decision(OutcomeKind.REVIEW, ReviewKind.POSSIBLE_IMPERSONATION)
PRESENTATION = Decision(OutcomeKind.REVIEW, ReviewKind.POSSIBLE_PRESENTATION_ATTACK)
CASES = [
    # live, score, look_alike, needs_review, presentation_doubt -> decision
    (False, 0.9, False, False, False, Decision(OutcomeKind.FAILED)),
    (False, None, False, False, False, Decision(OutcomeKind.FAILED)),
    (False, 0.9, True, True, True, Decision(OutcomeKind.FAILED)),  # liveness first: nothing else counts
    (True, None, False, False, False, Decision(OutcomeKind.FAILED, face_mismatch=True)),  # no reference
    (True, 0.49, False, False, False, Decision(OutcomeKind.FAILED, face_mismatch=True)),
    (True, 0.5, False, False, False, Decision(OutcomeKind.PASSED)),  # the threshold itself matches
    (True, 0.9, True, False, False, IMPERSONATION),
    (True, 0.9, False, True, False, Decision(OutcomeKind.REVIEW, ReviewKind.TWENTY_FOUR_MONTHS)),
    (True, 0.9, True, True, False, IMPERSONATION),
    (True, 0.3, True, True, False, Decision(OutcomeKind.FAILED, face_mismatch=True)),
    # A doubted presentation goes to staff, never straight to a certification...
    (True, 0.9, False, False, True, PRESENTATION),
    (True, 0.9, False, True, True, PRESENTATION),  # ...and says why before the 24-month rule does
    (True, 0.9, True, False, True, IMPERSONATION),  # someone else's face on the register says more
    (True, 0.3, False, False, True, Decision(OutcomeKind.FAILED, face_mismatch=True)),  # no match: refused
]


@pytest.mark.parametrize(("live", "score", "look_alike", "needs_review", "doubt", "expected"), CASES)
def test_decide_outcome(
    live: bool, score: float | None, look_alike: bool, needs_review: bool, doubt: bool, expected: Decision
) -> None:
    got = decide_outcome(
        live=live,
        score=score,
        threshold=T,
        look_alike=look_alike,
        needs_review=needs_review,
        presentation_doubt=doubt,
    )
    assert got == expected
