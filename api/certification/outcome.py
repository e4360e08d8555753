"""The decision over one attempt, as a pure function of what was established: kept apart
from storage so that every combination is tested by a table (tests/test_outcome.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeKind(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    REVIEW = "review"


class ReviewKind(StrEnum):
    POSSIBLE_IMPERSONATION = "possible_impersonation"
    # A live clip that matched, with evidence against the presentation that is not enough to
    # refuse on (``LivenessResult.referrals``: the chin did not move with the mouth).
    POSSIBLE_PRESENTATION_ATTACK = "possible_presentation_attack"
    TWENTY_FOUR_MONTHS = "24_month_rule"
    REMOTE_FORM = "remote_form"
    DECEASED_ATTEMPT = "deceased_attempt"
    # One face on two records, found when an ID photo was enrolled (api.certification.duplicates):
    # its approval certifies nobody.
    DUPLICATE_REFERENCE = "duplicate_reference"


@dataclass(frozen=True)
class Decision:
    outcome: OutcomeKind
    review: ReviewKind | None = None
    face_mismatch: bool = False


def decide_outcome(
    *,
    live: bool,
    score: float | None,
    threshold: float,
    look_alike: bool,
    needs_review: bool,
    presentation_doubt: bool = False,
) -> Decision:
    """``live``: every liveness check passed; ``score``: the best reference's cosine;
    ``look_alike``: the live face also matches someone else on the register; ``needs_review``:
    the person's status already needs staff review (the 24-month proof rule);
    ``presentation_doubt``: a liveness check that refers to staff failed.

    A failed liveness check is a failure whatever the score; a live face that does not match
    is a failure that says so; a match is certified unless staff must look first.
    """
    if not live:
        return Decision(OutcomeKind.FAILED)
    if score is None or score < threshold:
        return Decision(OutcomeKind.FAILED, face_mismatch=True)
    if look_alike:
        return Decision(OutcomeKind.REVIEW, ReviewKind.POSSIBLE_IMPERSONATION)
    if presentation_doubt:
        return Decision(OutcomeKind.REVIEW, ReviewKind.POSSIBLE_PRESENTATION_ATTACK)
    if needs_review:
        return Decision(OutcomeKind.REVIEW, ReviewKind.TWENTY_FOUR_MONTHS)
    return Decision(OutcomeKind.PASSED)
