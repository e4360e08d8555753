"""Staff lists (due soon, overdue) and monthly payment runs, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from api.certification import audit, lists, payments
from api.http.deps import Admin, Service, Staff, StaffOrAdmin
from api.http.schemas import (
    MONTH_PATTERN,
    PaymentRunIn,
    PaymentRunOut,
    PaymentRunWithheld,
    StatusRow,
    WithheldRow,
)

router = APIRouter(tags=["staff"])
Format = Annotated[str, Query(pattern="^(json|csv)$")]
CSV_TOO: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with ?format=csv"}
}


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """Text that a spreadsheet would run is prefixed with a quote, so it is shown as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_csv(rows: list[BaseModel], columns: list[str]) -> PlainTextResponse:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows({k: cell(v) for k, v in row.model_dump(mode="json").items()} for row in rows)
    return PlainTextResponse(buf.getvalue(), media_type="text/csv; charset=utf-8")


@router.get("/v1/lists/{which}", response_model=list[StatusRow], responses=CSV_TOO)
def status_list(
    which: str, service: Service, client: Staff, format: Format = "json", on: date | None = None
) -> list[StatusRow] | PlainTextResponse:
    """due-soon (for SMS reminders, with phone), overdue (suspended or needing review)."""
    chosen = lists.status_list(which)
    with service.db.transaction() as s:
        rows = [
            StatusRow(
                person_id=p.id,
                name=p.name,
                phone=p.phone,
                category=p.category,
                status=a.status,
                due_date=a.due_date,
                suspended_months=len(a.suspended_months),
            )
            for p, a in lists.people_with_status(service, s, on or service.today(), chosen)
        ]
        audit.append(s, client.name, "list_exported", list=which, rows=len(rows), format=format)
    if format == "csv":
        return as_csv(list(rows), list(StatusRow.model_fields))
    return rows


@router.post("/v1/payment-runs")
def payment_run(body: PaymentRunIn, service: Service, client: Admin) -> PaymentRunOut:
    """Decide a month's payment run, once, after its cut-off day: everyone overdue then has
    that month withheld (recorded as a payment event; back-paid when they certify again)."""
    with service.db.transaction() as s:
        run = payments.payment_run(service, s, body.month, client.name)
        return PaymentRunOut(month=run.month, decided_on=run.decided_on, counts=run.counts)


@router.get("/v1/payment-runs/{month}", response_model=PaymentRunWithheld, responses=CSV_TOO)
def payment_run_withheld(
    month: Annotated[str, Path(pattern=MONTH_PATTERN)],
    service: Service,
    client: StaffOrAdmin,
    format: Format = "json",
) -> PaymentRunWithheld | PlainTextResponse:
    """Whose pay a recorded run withheld: suspended, or held for staff review."""
    with service.db.transaction() as s:
        run, withheld = payments.withheld_in_run(s, month)
        rows = [
            WithheldRow(person_id=p.id, name=p.name, category=p.category, withheld=kind)
            for p, kind in withheld
        ]
        audit.append(s, client.name, "list_exported", list=f"payment-run {month}", rows=len(rows))
    if format == "csv":
        return as_csv(list(rows), list(WithheldRow.model_fields))
    return PaymentRunWithheld(month=run.month, decided_on=run.decided_on, counts=run.counts, withheld=rows)
