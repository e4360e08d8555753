"""Look-alike screening: a live face that also matches someone else on the register."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.certification.proxies import linked_persons
from api.certification.storage.schema import FaceReference, Person

if TYPE_CHECKING:
    from api.certification.service import CertificationService


def other_person_match(
    svc: CertificationService,
    s: Session,
    person: Person,
    embedding: np.ndarray,
    own_score: float,
    proxy_id: int | None,
) -> dict[str, object] | None:
    """The best match among other persons that crosses its scope's threshold, or None.

    Two scopes, two thresholds. Among the people linked to the same proxy (a handful),
    the matcher's 1:1 operating threshold applies. Against the whole register a 1:1
    threshold would flag nearly everyone once the register is large (at FMR 1e-3 and
    10,000 people, ~10 false hits per check), so a stricter identification threshold is
    used there (settings.register_match_threshold, 0.55: FMR 1.6e-6 per comparison and
    TAR 86 % over every pair of LFW photos, measured by `lifecert bench-impostors`; a
    register of 10,000 sends ~1.5 % of certifications to review). One matrix product over
    all references; beyond ~10^5 people, index the embeddings instead.
    """
    linked = linked_persons(s, proxy_id)
    rows = s.execute(
        select(FaceReference.person_id, FaceReference.embedding).where(
            FaceReference.person_id != person.id, FaceReference.preset == svc.matcher.preset.key
        )
    ).all()
    if not rows:
        return None
    refs = np.stack([svc.cipher.open_template(r.embedding) for r in rows])
    scores = refs @ np.asarray(embedding, dtype=np.float32)
    for i in np.argsort(-scores):
        other = int(rows[i].person_id)
        limit = svc.matcher.threshold if other in linked else svc.settings.register_match_threshold
        if scores[i] >= limit:
            return {
                "other_person_id": other,
                "other_score": round(float(scores[i]), 4),
                "own_score": round(own_score, 4),
                "scope": "same_proxy" if other in linked else "register",
            }
        if scores[i] < svc.matcher.threshold:
            break
    return None
