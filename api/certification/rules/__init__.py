"""Certification rules: policies as data (api/policies/*.toml) and a pure engine over dates."""

from api.certification.rules.engine import (
    Assessment,
    Month,
    PersonRecord,
    Restoration,
    assess,
    certify,
    month_end,
    payment_date,
    payment_in_run,
    run_day,
)
from api.certification.rules.policy import CATEGORIES, CycleRule, Policy, PolicyError, load_policies

__all__ = [
    "CATEGORIES",
    "Assessment",
    "CycleRule",
    "Month",
    "PersonRecord",
    "Policy",
    "PolicyError",
    "Restoration",
    "assess",
    "certify",
    "load_policies",
    "month_end",
    "payment_date",
    "payment_in_run",
    "run_day",
]
