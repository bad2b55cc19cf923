"""Every write of the scans app, one module per area, re-exported here.

- requests: requesting, cancelling and scheduling scans (who may, with which scanners/inputs);
- engine: running a scan (the Celery task's body), attempts after a lost worker, fixed
  reconciliation, and the sweeper of scans whose worker is gone;
- findings: triage by compliance officers and the expiry of accepted risks;
- advisories: importing OSV records into the local advisory database.
"""

from apps.scans.services.advisories import AdvisoryImportReport, advisories_import
from apps.scans.services.engine import atlas_technique_is_valid, scan_execute, scans_fail_stuck
from apps.scans.services.findings import finding_triage, findings_reopen_expired
from apps.scans.services.requests import (
    clean_params,
    scan_cancel,
    scan_request,
    scan_request_on_register,
    scans_schedule_production_rescans,
    target_team,
)

__all__ = [
    "AdvisoryImportReport",
    "advisories_import",
    "atlas_technique_is_valid",
    "clean_params",
    "finding_triage",
    "findings_reopen_expired",
    "scan_cancel",
    "scan_execute",
    "scan_request",
    "scan_request_on_register",
    "scans_fail_stuck",
    "scans_schedule_production_rescans",
    "target_team",
]
