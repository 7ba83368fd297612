"""One self-contained HTML file: no external request of any kind (CSS, script and charts are
inline; links to Microsoft's pages are followed only when clicked), failing checks first with
evidence and remediation, passes collapsed, filters by status, severity, area and text. The
status decides the colour: a pass is green whatever its severity."""

from __future__ import annotations

import json
from collections import Counter
from html import escape

from auditor.judge.model import AuditResult, CheckOutcome, Severity, Status
from auditor.reports import causes, fix_first, links, ordering, waivers
from auditor.reports.changes import render_text as render_changes

_COLOURS = {
    "critical": "#7a0019",
    "high": "#c62828",
    "medium": "#ef6c00",
    "low": "#f9a825",
    "info": "#607d8b",
}

_STATUS_COLOURS = {
    "fail": "#c62828",
    "error": "#6a1b9a",
    "waived": "#8d6e00",
    "pass": "#2e7d32",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2630;
background:#f4f6f8}
header{padding:20px 28px;color:#fff}
header.fail{background:#b71c1c}header.error,header.incomplete{background:#6a1b9a}
header.pass,header.waived{background:#2e7d32}.warning{background:#fff3e0;border-left:6px solid
#ef6c00;padding:8px 12px;margin:0 0 12px}.causes{background:#fff;border-radius:8px;
padding:8px 18px;box-shadow:0 1px 3px #0002;border-left:6px solid #6a1b9a}
header h1{margin:0 0 4px;font-size:22px}main{padding:20px 28px;max-width:1200px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:12px 18px;box-shadow:0 1px 3px #0002;
min-width:110px}
.card b{display:block;font-size:24px}.charts{display:flex;gap:24px;flex-wrap:wrap}
.chart{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002}
#filter{flex:1;min-width:220px;max-width:420px;padding:8px 10px;font-size:15px;
border:1px solid #90a4ae;border-radius:6px}
section.check{background:#fff;border-radius:8px;margin:12px 0;padding:12px 18px;
box-shadow:0 1px 3px #0002;border-left:6px solid #90a4ae}
section.fail{border-left-color:#c62828}section.error{border-left-color:#6a1b9a}
section.waived{border-left-color:#f9a825}section.pass{border-left-color:#2e7d32}
section h2{font-size:16px;margin:0 0 6px}.badge{display:inline-block;padding:1px 8px;
border-radius:10px;color:#fff;font-size:12px;margin-right:6px;text-transform:uppercase}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border-bottom:1px solid #e0e6ea;
padding:5px 6px;text-align:left;vertical-align:top}tr.hidden,section.hidden{display:none}
details pre{white-space:pre-wrap;background:#f4f6f8;padding:8px;border-radius:4px;
font-size:12px}.remediation{color:#37474f}
pre.changes{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;padding:8px 12px;
border-radius:6px}.sev{display:inline-block;padding:0 6px;border:1px solid #b0bec5;
border-radius:10px;font-size:12px;color:#546e7a;margin-right:6px}.filters{display:flex;
gap:10px;flex-wrap:wrap;align-items:center;margin:14px 0}.filters select{padding:7px;
font-size:14px;border:1px solid #90a4ae;border-radius:6px}.links{font-size:13px;margin:4px 0}
.links a{margin-right:14px}tr.result td:first-child{white-space:nowrap}
details.fold>summary{cursor:pointer}
details.passes>summary{color:#2e7d32;margin:6px 0}
"""

# Filters results and whole checks by status, severity, area and text; the address can carry
# them (`#filter=...&status=fail&severity=critical&area=Connectors`) and they apply on load.
# Collapsed blocks that hold a match open.
_SCRIPT = """
(function(){
  var box=document.getElementById('filter'),st=document.getElementById('f-status'),
    sev=document.getElementById('f-severity'),area=document.getElementById('f-area');
  function apply(){
    var q=box.value.toLowerCase(),s=st.value,v=sev.value,a=area.value,any=q||s||v||a;
    document.querySelectorAll('section.check').forEach(function(sec){
      var inArea=!a||sec.dataset.area===a,shown=0,rows=sec.querySelectorAll('tr.result');
      rows.forEach(function(r){
        var hit=inArea&&(!s||r.dataset.status===s)&&(!v||r.dataset.severity===v)&&
          (!q||r.textContent.toLowerCase().indexOf(q)>=0||
           sec.dataset.check.toLowerCase().indexOf(q)>=0);
        r.classList.toggle('hidden',!hit);if(hit){shown++;}
      });
      var title=sec.querySelector('h2').textContent.toLowerCase();
      var own=inArea&&!v&&(!s||sec.dataset.status===s)&&
        (q?title.indexOf(q)>=0:rows.length===0);
      sec.classList.toggle('hidden',!!any&&!shown&&!own);
      sec.querySelectorAll('details.fold').forEach(function(d){
        if(any&&d.querySelector('tr.result:not(.hidden)')){d.open=true;}
      });
    });
    document.getElementById('shown').textContent=
      document.querySelectorAll('tr.result:not(.hidden)').length;
  }
  [box,st,sev,area].forEach(function(e){
    e.addEventListener('input',apply);e.addEventListener('change',apply);
  });
  var controls={filter:box,status:st,severity:sev,area:area};
  location.hash.replace(/^#/,'').split('&').forEach(function(pair){
    var kv=pair.split('=');
    if(controls[kv[0]]&&kv.length>1){controls[kv[0]].value=decodeURIComponent(kv[1]);}
  });
  apply();
})();
"""


def _bar_chart(
    title: str, counts: dict[str, int], colours: dict[str, str], label_width: int = 100
) -> str:
    width, bar_h, gap = 220 + label_width, 18, 6
    top = max(counts.values() or [1]) or 1
    rows = []
    for i, (label, value) in enumerate(counts.items()):
        y = i * (bar_h + gap)
        length = int((width - label_width - 20) * value / top)
        rows.append(
            f'<text x="0" y="{y + 13}" font-size="12">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{max(length, 1)}" height="{bar_h}" '
            f'fill="{colours.get(label, "#546e7a")}"/>'
            f'<text x="{label_width + 4 + length}" y="{y + 13}" font-size="12">{value}</text>'
        )
    height = len(counts) * (bar_h + gap)
    return (
        f'<div class="chart"><b>{escape(title)}</b><br>'
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}">'
        + "".join(rows)
        + "</svg></div>"
    )


def _causes(audit: AuditResult) -> str:
    if not audit.causes:
        return ""
    items = "".join(
        f"<li>{escape(causes.describe(cause))}"
        + (f"<br><b>Fix:</b> {escape(cause.fix)}" if cause.fix else "")
        + "</li>"
        for _, cause in causes.numbered(audit)
    )
    return f'<div class="causes"><h2>Why checks could not judge</h2><ol>{items}</ol></div>'


def _fix_first(audit: AuditResult) -> str:
    items, more = fix_first.shown(audit)
    if not items:
        return ""
    rows = "".join(
        f"<li><b><code>{escape(item.resource)}</code></b> "
        f'<span class="badge" style="background:{_COLOURS[item.severity.value]}">'
        f"{item.severity.value}</span><ul>"
        + "".join(
            f"<li>{escape(f.check)} ({f.severity.value}): {escape(f.message)}</li>"
            for f in item.findings
        )
        + f"</ul><i>Next:</i> {escape(item.action)}</li>"
        for item in items
    )
    tail = f"<p>{more} more failing resources below.</p>" if more else ""
    return f'<div class="fixfirst"><h2>Fix first</h2><ol>{rows}</ol>{tail}</div>'


def _waivers(audit: AuditResult) -> str:
    review = waivers.to_review(audit)
    active = waivers.in_force(audit)
    if not review and not active:
        return ""
    items = "".join(
        f"<li><b>to review</b> {escape(w.check)} <code>{escape(w.resource)}</code>: "
        f"{escape(note)} ({escape(w.reason)})</li>"
        for w, note in review
    )
    items += "".join(
        f"<li>{escape(w.check)} <code>{escape(w.resource)}</code> waived until "
        f"{escape(w.expires)}: {escape(w.reason)}</li>"
        for w in active
    )
    return f'<div class="waivers"><h2>Waivers</h2><ul>{items}</ul></div>'


def _badge(status: Status) -> str:
    return (
        f'<span class="badge" style="background:{_STATUS_COLOURS[status.value]}">'
        f"{status.value}</span>"
    )


def _severity(severity: Severity, status: Status) -> str:
    """Coloured by severity only where something is wrong: a pass is never red."""
    if status in (Status.FAIL, Status.ERROR):
        colour = _COLOURS[severity.value]
        return (
            f'<span class="sev" style="border-color:{colour};color:{colour}">'
            f"{severity.value}</span>"
        )
    return f'<span class="sev">{severity.value}</span>'


def _row(outcome: CheckOutcome, result) -> str:
    severity = outcome.result_severity(result)
    evidence = escape(json.dumps(result.evidence, indent=2, sort_keys=True))
    return (
        f'<tr class="result {result.status.value}" data-status="{result.status.value}" '
        f'data-severity="{severity.value}"><td>{_badge(result.status)}'
        f"{_severity(severity, result.status)}</td>"
        f"<td><code>{escape(result.resource)}</code></td>"
        f"<td>{escape(result.message)}<details><summary>evidence</summary>"
        f"<pre>{evidence}</pre></details></td></tr>"
    )


def _links(outcome: CheckOutcome) -> str:
    anchors = [
        f'<a href="{escape(page)}" rel="noopener noreferrer">Microsoft on NDR {escape(codes)}</a>'
        for codes, page in links.ndr_pages(outcome.spec.ndr)
    ]
    fix = links.remediation(outcome.spec.id)
    if fix:
        anchors.append(f'<a href="{escape(fix)}" rel="noopener noreferrer">How to fix it</a>')
    return f'<div class="links">{"".join(anchors)}</div>' if anchors else ""


def _check(audit: AuditResult, outcome: CheckOutcome) -> str:
    spec = outcome.spec
    status = outcome.status.value
    results = sorted(outcome.results, key=lambda r: (ordering.STATUS_ORDER[r.status], r.resource))
    attention = [_row(outcome, r) for r in results if r.status is not Status.PASS]
    passes = [_row(outcome, r) for r in results if r.status is Status.PASS]
    reason = (
        f"<p><b>Could not run:</b> {escape(causes.stopped_by(audit, outcome))}</p>"
        if outcome.reason
        else ""
    )
    if causes.shows_remediation(outcome):
        advice = f'<p class="remediation"><b>Remediation.</b> {escape(spec.remediation)}</p>'
    elif outcome.fix:
        advice = f'<p class="remediation"><b>To fix the error.</b> {escape(outcome.fix)}</p>'
    else:
        advice = ""
    ndr = f" · prevents NDR {escape(', '.join(spec.ndr))}" if spec.ndr else ""
    heading = (
        f"<h2>{_badge(outcome.status)}{_severity(ordering.worst(outcome), outcome.status)}"
        f"{escape(spec.id)} · {escape(spec.title)}</h2>"
    )
    about = (
        f"<div>{escape(spec.slug)} · {escape(links.area(spec.id))}{ndr}</div>"
        f"{_links(outcome)}{reason}"
    )
    if outcome.status is Status.PASS:
        # Passed: one line, the rest a click away.
        body = (
            f'<details class="fold"><summary>{heading}</summary>{about}'
            f"<table>{''.join(passes)}</table></details>"
        )
    else:
        folded = (
            f'<details class="fold passes"><summary>{len(passes)} passing '
            f"result{'s' if len(passes) != 1 else ''}</summary>"
            f"<table>{''.join(passes)}</table></details>"
            if passes
            else ""
        )
        body = f"{heading}{about}<table>{''.join(attention)}</table>{folded}{advice}"
    return (
        f'<section class="check {status}" data-check="{escape(spec.id)}" '
        f'data-status="{status}" data-area="{escape(links.area(spec.id))}">{body}</section>'
    )


def _filters(audit: AuditResult) -> str:
    def select(ident: str, label: str, options: list[str]) -> str:
        items = "".join(f'<option value="{escape(o)}">{escape(o)}</option>' for o in options)
        return (
            f'<select id="{ident}" aria-label="{label}"><option value="">{label}: all</option>'
            f"{items}</select>"
        )

    areas = sorted({links.area(o.spec.id) for o in audit.outcomes})
    return (
        '<div class="filters">'
        + select("f-status", "status", [s.value for s in ordering.STATUS_ORDER])
        + select("f-severity", "severity", [s.value for s in reversed(Severity)])
        + select("f-area", "area", areas)
        + '<input id="filter" type="search" placeholder="Filter: check, resource, text…" '
        'aria-label="filter"> <span><span id="shown"></span> results shown</span></div>'
    )


def render(audit: AuditResult) -> str:
    status = audit.status.value
    results = [(o, r) for o in audit.outcomes for r in o.results]
    failing = [(o, r) for o, r in results if r.status is Status.FAIL]
    by_severity = Counter(o.result_severity(r).value for o, r in failing)
    severity_counts = {s.value: by_severity.get(s.value, 0) for s in reversed(Severity)}
    by_area = Counter(links.area(o.spec.id) for o, _ in failing)
    area_counts = dict(sorted(by_area.items())) or {"none": 0}
    ordered = ordering.ordered(audit.outcomes)
    name = audit.tenant.display_name or audit.tenant.id
    cards = "".join(
        f'<div class="card">{label}<b>{value}</b></div>'
        for label, value in (
            ("checks", len(audit.outcomes)),
            ("failed", audit.count(Status.FAIL)),
            ("errored", audit.count(Status.ERROR)),
            ("not judged", audit.unjudged),
            ("waived", audit.count(Status.WAIVED)),
            ("passed", audit.count(Status.PASS)),
            ("resources", len(results)),
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>m365-mail-auditor: {escape(status.upper())} for {escape(name)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f'<header class="{status}"><h1>{escape(status.upper())}: {escape(name)}</h1>'
        f"Tenant {escape(audit.tenant.id)} · collected {escape(audit.collected_at)} · "
        f"audited {escape(audit.started_at)} · m365-mail-auditor {escape(audit.tool_version)}"
        "</header><main>"
        + "".join(f'<p class="warning"><b>Warning.</b> {escape(w)}</p>' for w in audit.warnings)
        + f'<div class="cards">{cards}</div><div class="charts">'
        + _bar_chart("Failing results by severity", severity_counts, _COLOURS)
        + _bar_chart("Failing results by area", area_counts, {}, label_width=150)
        + "</div>"
        + _fix_first(audit)
        + _causes(audit)
        + _waivers(audit)
        + (
            f'<h2>Changes since the previous run</h2><pre class="changes">'
            f"{escape(render_changes(audit.changes))}</pre>"
            if audit.changes is not None
            else ""
        )
        + _filters(audit)
        + "".join(_check(audit, o) for o in ordered)
        + f"</main><script>{_SCRIPT}</script></body></html>\n"
    )
