"""CSV imports from other systems: the register of persons, death records, alive records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from api.certification.enrolment import ImportReport
from api.certification.service import CertificationService
from api.certification.storage.schema import Client
from api.http.deps import Service, Staff
from api.http.schemas import AliveRecordsImported, DeathsImported, PersonsImported
from api.http.uploads import read_csv_upload

router = APIRouter(tags=["staff"])
CsvFile = Annotated[UploadFile, File()]


async def _import(service: CertificationService, file: UploadFile, kind: str, client: Client) -> ImportReport:
    """Read and decode the CSV, then run the import off the event loop (in a worker process
    when configured): a large file takes seconds of parsing and writing."""
    text = await read_csv_upload(file)
    return await run_in_threadpool(service.run_import, kind, text, client.id)


@router.post("/v1/persons/import")
async def import_persons(service: Service, client: Staff, file: CsvFile) -> PersonsImported:
    """CSV: id_number,name,category,benefit_start[,phone,policy] (UTF-8 or GBK). Good rows
    are imported together; every bad row is reported by line and nothing of it is written."""
    report = await _import(service, file, "persons", client)
    return PersonsImported(imported=report.imported, errors=report.errors)


@router.post("/v1/deaths/import")
async def deaths(service: Service, client: Staff, file: CsvFile) -> DeathsImported:
    """Death records (数据比对): CSV id_number,died_on[,source]."""
    report = await _import(service, file, "deaths", client)
    return DeathsImported(recorded=report.imported, errors=report.errors)


@router.post("/v1/alive-records/import")
async def alive_records(service: Service, client: Staff, file: CsvFile) -> AliveRecordsImported:
    """Data comparison (数据比对): CSV id_number,seen_on[,source]; counts where the policy allows."""
    report = await _import(service, file, "alive_records", client)
    return AliveRecordsImported(certified=report.imported, errors=report.errors)
