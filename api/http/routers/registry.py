"""CSV imports from other systems: the register of persons, death records, alive records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from api.certification import enrolment, registry
from api.http.deps import Service, Staff
from api.http.schemas import AliveRecordsImported, DeathsImported, PersonsImported
from api.http.uploads import read_csv_upload

router = APIRouter(tags=["staff"])
CsvFile = Annotated[UploadFile, File()]


@router.post("/v1/persons/import")
async def import_persons(service: Service, client: Staff, file: CsvFile) -> PersonsImported:
    """CSV: id_number,name,category,benefit_start[,phone,policy]. Good rows are imported
    together; bad rows are reported by line and nothing of them is written."""
    text = await read_csv_upload(file)
    with service.db.transaction() as s:
        report = enrolment.import_persons(service, s, text, client.name)
        return PersonsImported(imported=report.imported, errors=report.errors)


@router.post("/v1/deaths/import")
async def deaths(service: Service, client: Staff, file: CsvFile) -> DeathsImported:
    """Death records (数据比对): CSV id_number,died_on[,source]."""
    text = await read_csv_upload(file)
    with service.db.transaction() as s:
        report = registry.import_deaths(service, s, text, client.name)
        return DeathsImported(recorded=report.imported, errors=report.errors)


@router.post("/v1/alive-records/import")
async def alive_records(service: Service, client: Staff, file: CsvFile) -> AliveRecordsImported:
    """Data comparison (数据比对): CSV id_number,seen_on[,source]; counts where the policy allows."""
    text = await read_csv_upload(file)
    with service.db.transaction() as s:
        report = registry.import_alive_records(service, s, text, client)
        return AliveRecordsImported(certified=report.imported, errors=report.errors)
