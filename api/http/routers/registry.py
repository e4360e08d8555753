"""CSV imports from other systems: the register of persons, death records, alive records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.certification import enrolment, registry
from api.certification.enrolment import ImportReport
from api.certification.service import CertificationService
from api.http.deps import Service, Staff
from api.http.schemas import AliveRecordsImported, DeathsImported, PersonsImported
from api.http.uploads import read_csv_upload

router = APIRouter(tags=["staff"])
CsvFile = Annotated[UploadFile, File()]


async def _import(
    service: CertificationService, file: UploadFile, operation: Callable[[Session, str], ImportReport]
) -> ImportReport:
    """Read and decode the CSV, then run the import in one transaction off the event loop
    (a large file takes seconds of parsing and writing)."""
    text = await read_csv_upload(file)

    def run() -> ImportReport:
        with service.db.transaction() as s:
            return operation(s, text)

    return await run_in_threadpool(run)


@router.post("/v1/persons/import")
async def import_persons(service: Service, client: Staff, file: CsvFile) -> PersonsImported:
    """CSV: id_number,name,category,benefit_start[,phone,policy] (UTF-8 or GBK). Good rows
    are imported together; every bad row is reported by line and nothing of it is written."""
    report = await _import(
        service, file, lambda s, text: enrolment.import_persons(service, s, text, client.name)
    )
    return PersonsImported(imported=report.imported, errors=report.errors)


@router.post("/v1/deaths/import")
async def deaths(service: Service, client: Staff, file: CsvFile) -> DeathsImported:
    """Death records (数据比对): CSV id_number,died_on[,source]."""
    report = await _import(
        service, file, lambda s, text: registry.import_deaths(service, s, text, client.name)
    )
    return DeathsImported(recorded=report.imported, errors=report.errors)


@router.post("/v1/alive-records/import")
async def alive_records(service: Service, client: Staff, file: CsvFile) -> AliveRecordsImported:
    """Data comparison (数据比对): CSV id_number,seen_on[,source]; counts where the policy allows."""
    report = await _import(
        service, file, lambda s, text: registry.import_alive_records(service, s, text, client)
    )
    return AliveRecordsImported(certified=report.imported, errors=report.errors)
