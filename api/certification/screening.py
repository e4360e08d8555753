"""Look-alike screening: a live face that also matches someone else on the register.

The decision table (``decide``), one row per scope, first match wins:

- same proxy: every reference of the persons linked to this certification's proxy (a
  handful, compared exactly), at the matcher's 1:1 threshold;
- same household: the same for the other living persons on the register with the person's
  phone number, when at most ``HOUSEHOLD_MAX`` persons share it (a family lists one child's
  phone for both parents; a number shared by more is a care home's or an office's, no
  household). The fraud the brief names is a look-alike relative, and a relative who is a
  recipient too has a reference here: a live face that passes as this person and also as a
  member of the household is that case, which the register scope, whose threshold rises with
  the register, misses at scale;
- register: the top ``k`` other persons from the register index (candidates re-scored exactly
  from their sealed templates), at ``register_risk.register_threshold`` for the register's
  size, never below ``settings.register_match_threshold``.

Persons staff cleared as someone else (an approved duplicate-reference review,
``duplicates``) are left out of every scope. Anything else, including register candidates
between the 1:1 and the register threshold, is no finding: at a million references those are
expected by chance (BENCHMARKS.md, "Register search at scale"), and a review queue that fills
with them catches nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification import register_index, register_risk
from api.certification.proxies import linked_persons
from api.certification.register_index import Hit
from api.certification.storage.schema import FaceReference, Person, matchable

if TYPE_CHECKING:
    from api.certification.service import CertificationService

# At most this many persons on one phone number make a household (the person included). A
# household of h persons adds (h - 1) 1:1 comparisons, i.e. about (h - 1) x the 1:1 FMR of
# false reviews per certification (BENCHMARKS.md); more than this is no household.
HOUSEHOLD_MAX = 6


def other_person_match(
    svc: CertificationService,
    s: Session,
    person: Person,
    embedding: np.ndarray,
    own_score: float,
    proxy_id: int | None,
    k: int = register_risk.DEFAULT_K,
    cleared: frozenset[int] = frozenset(),
) -> dict[str, object] | None:
    """The finding that sends this certification to review, or None (see the module doc).
    ``cleared``: persons staff found to be someone else with a look-alike face (an approved
    duplicate-reference review): a match with them is what staff already checked."""
    query = np.asarray(embedding, dtype=np.float32)
    linked = linked_persons(s, proxy_id) - {person.id} - cleared
    household = household_of(s, person) - linked - cleared
    index = register_index.index_for(svc)
    return decide(
        proxy_hits=best_of(svc, s, linked, query),
        household_hits=best_of(svc, s, household, query),
        register_hits=[
            h for h in index.search(s, query, k, exclude_person=person.id) if h.person_id not in cleared
        ],
        one_to_one=svc.matcher.threshold,
        register=register_limit(svc, s, index),
        own_score=own_score,
    )


def household_of(s: Session, person: Person) -> set[int]:
    """The other living persons with ``person``'s phone number, or none when more than
    ``HOUSEHOLD_MAX`` persons share it (see the module doc). The dead are left out: nobody can
    stand in front of the camera as them."""
    if not person.phone:
        return set()
    others = set(
        s.execute(
            select(Person.id)
            .where(Person.phone == person.phone, Person.id != person.id, Person.deceased_on.is_(None))
            .limit(HOUSEHOLD_MAX)
        ).scalars()
    )
    return others if len(others) < HOUSEHOLD_MAX else set()


def register_limit(
    svc: CertificationService, s: Session, index: register_index.RegisterIndex
) -> register_risk.RegisterThreshold:
    """The register scope's threshold in force: sized to what one search is compared with,
    never below the configured floor. The certification screening and the enrolment
    de-duplication (api.certification.duplicates) search the same index, so they share it."""
    return register_risk.register_threshold(
        index.size(s),
        floor=svc.settings.register_match_threshold,
        curve=register_risk.CURVES[svc.settings.register_curve],
    )


def decide(
    *,
    proxy_hits: Sequence[Hit],
    register_hits: Sequence[Hit],
    one_to_one: float,
    register: register_risk.RegisterThreshold,
    own_score: float,
    household_hits: Sequence[Hit] = (),
) -> dict[str, object] | None:
    """The decision table: same proxy, then same household, at the 1:1 threshold; then the
    register's top k at the register threshold. Pure, so that it is tested row by row."""
    for scope, hits in (("same_proxy", proxy_hits), ("same_household", household_hits)):
        best = max(hits, key=lambda h: h.score, default=None)
        if best is not None and best.score >= one_to_one:
            return _finding(best, scope, one_to_one, own_score)
    reg_best = max(register_hits, key=lambda h: h.score, default=None)
    if reg_best is not None and reg_best.score >= register.threshold:
        finding = _finding(reg_best, "register", register.threshold, own_score)
        finding["register_expected_false_reviews"] = round(register.expected_false_reviews, 6)
        return finding
    return None


def _finding(hit: Hit, scope: str, threshold: float, own_score: float) -> dict[str, object]:
    return {
        "other_person_id": hit.person_id,
        "other_score": round(hit.score, 4),
        "own_score": round(own_score, 4),
        "scope": scope,
        "threshold": round(threshold, 4),
    }


def best_of(svc: CertificationService, s: Session, persons: set[int], query: np.ndarray) -> list[Hit]:
    """Each of a handful of persons' best reference, scored exactly (a proxy's linked persons,
    a household): few enough to open every template, with no index."""
    if not persons:
        return []
    rows = s.execute(
        select(FaceReference.id, FaceReference.person_id, FaceReference.embedding).where(
            FaceReference.person_id.in_(sorted(persons)),
            FaceReference.preset == svc.matcher.preset.key,
            matchable(),
        )
    ).all()
    best: dict[int, Hit] = {}
    for r in rows:
        score = float(svc.cipher.open_template(r.embedding) @ query)
        if r.person_id not in best or score > best[r.person_id].score:
            best[r.person_id] = Hit(int(r.person_id), int(r.id), score)
    return list(best.values())
