"""JUnit XML: a test suite per check, a test case per resource, so any CI shows findings."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from auditor.judge.model import AuditResult, Status
from auditor.reports import untrusted
from auditor.reports.changes import change_index


def render(audit: AuditResult) -> str:
    root = ET.Element("testsuites", name=f"m365-mail-auditor {audit.tenant.id}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    changes = change_index(audit.changes)
    for outcome in audit.outcomes:
        spec = outcome.spec
        suite = ET.SubElement(
            root, "testsuite", name=f"{spec.id} {spec.slug}", timestamp=audit.started_at
        )
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        # The run's own status, so a CI view of one suite still says the audit was incomplete.
        about = ET.SubElement(suite, "properties")
        ET.SubElement(about, "property", name="auditStatus", value=audit.status.value)
        for warning in audit.warnings:
            ET.SubElement(about, "property", name="warning", value=warning)
        if outcome.reason:
            case = ET.SubElement(suite, "testcase", classname=spec.id, name="(could not run)")
            node = ET.SubElement(case, "error", message=outcome.reason[:500], type="source")
            if outcome.fix:
                node.text = f"{outcome.reason}\n\nTo fix the error: {outcome.fix}"
            counts["tests"] += 1
            counts["errors"] += 1
        for result in outcome.results:
            case = ET.SubElement(suite, "testcase", classname=spec.id, name=result.resource)
            counts["tests"] += 1
            change = changes.get((spec.id, result.resource))
            if change:
                properties = ET.SubElement(case, "properties")
                ET.SubElement(properties, "property", name="change", value=change)
            severity = outcome.result_severity(result).value
            if result.status is Status.FAIL:
                node = ET.SubElement(case, "failure", message=result.message[:500], type=severity)
                node.text = f"{result.message}\n\nRemediation: {spec.remediation}"
                counts["failures"] += 1
            elif result.status is Status.ERROR:
                ET.SubElement(case, "error", message=result.message[:500], type=severity)
                counts["errors"] += 1
            elif result.status is Status.WAIVED and result.waiver is not None:
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"waived until {result.waiver.expires}: {result.waiver.reason}",
                )
                counts["skipped"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    # What XML 1.0 forbids (a connector name can hold ESC or BEL) is shown as an escape.
    body = untrusted.for_xml(ET.tostring(root, encoding="unicode"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
