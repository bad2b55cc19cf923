"""Serving evidence files (shared by the API and the pages): streamed, and audited."""

from django.http import FileResponse

from apps.audit.choices import AuditAction
from apps.audit.services import audit_record
from apps.core.exceptions import NotInScope
from apps.core.storage import open_stored
from apps.threats.models import Evidence


def evidence_file_response(evidence: Evidence) -> FileResponse:
    """Stream an evidence file as an attachment and record the download in the audit trail.

    The caller has already found `evidence` through a scoped selector. A link (no file) is a
    NotInScope (404): there is nothing to download.
    """
    if not evidence.is_file:
        raise NotInScope("This evidence is a link, not a file.", field="file")
    handle = open_stored(evidence.file)
    audit_record(action=AuditAction.DOWNLOAD, obj=evidence,
                 changes={"file_name": evidence.file_name, "sha256": evidence.sha256})
    response = FileResponse(handle, as_attachment=True, filename=evidence.file_name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response
