"""Certification rules: policies as data (api/policies/*.toml) and a pure engine over dates."""

from api.rules.engine import Assessment, PersonRecord, Restoration, assess, certify, payment_date
from api.rules.policy import CATEGORIES, CycleRule, Policy, PolicyError, load_policies

__all__ = [
    "CATEGORIES",
    "Assessment",
    "CycleRule",
    "PersonRecord",
    "Policy",
    "PolicyError",
    "Restoration",
    "assess",
    "certify",
    "load_policies",
    "payment_date",
]
