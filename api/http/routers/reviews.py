"""The staff review queue and its decisions."""

from fastapi import APIRouter, Response

from api.certification import reviews
from api.http.deps import Service, Staff
from api.http.schemas import DecisionIn, ReviewDecided, ReviewOut, RowId
from api.http.views import review_view

router = APIRouter(tags=["staff"])


@router.get("/v1/reviews")
def open_reviews(service: Service, client: Staff) -> list[ReviewOut]:
    """Every open review with the persons it names (a duplicate_reference names both records;
    deciding it certifies nobody: approve = different people, reject = the enrolled photo is
    withdrawn, or the other record's photo with ``withdraw: other``)."""
    with service.db.transaction() as s:
        return [review_view(service, s, r) for r in reviews.open_reviews(s)]


@router.post("/v1/reviews/{review_id:int}/decision")
def decide(review_id: RowId, body: DecisionIn, service: Service, client: Staff) -> ReviewDecided:
    """Approve or reject (four eyes where a staff member opened the review). An approval
    certifies the person, except a deceased person's and a duplicate_reference review's: there
    approve = the documents show two different people, reject = the same face on two records
    (the photo that opened it, or with ``withdraw: other`` the other record's, is withdrawn
    from matching); neither certifies anyone."""
    with service.db.transaction() as s:
        review = reviews.get_review(s, review_id)
        cert = reviews.decide_review(
            service, s, review, client, body.approve, body.note, withdraw=body.withdraw
        )
        return ReviewDecided(
            status=review.status,
            certification_id=cert.id if cert else None,
            next_due=cert.next_due if cert else None,
        )


@router.get("/v1/reviews/{review_id:int}/scan", response_class=Response)
def review_scan(review_id: RowId, service: Service, client: Staff) -> Response:
    """The scanned form a remote-form review rests on, for the reviewer who decides it."""
    with service.db.transaction() as s:
        media_type, data = reviews.review_scan(service, s, reviews.get_review(s, review_id), client)
    return Response(data, media_type=media_type, headers={"Cache-Control": "no-store"})
