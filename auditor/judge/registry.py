"""The check contract (`@check`) and discovery of checks from `checks/` and entry points."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING

from auditor import PROG
from auditor.common.errors import UsageError
from auditor.judge.model import CheckSpec, Result, Severity

if TYPE_CHECKING:
    from auditor.judge.context import CheckContext

ENTRY_POINT_GROUP = "m365_mail_auditor.checks"
BUILTIN_PACKAGE = "checks"
_ID = re.compile(r"^[A-Z]{2,6}-\d{3}$")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SPEC_ATTR = "__m365_check__"

CheckFunction = Callable[["CheckContext"], Iterable[Result]]


@dataclass(frozen=True)
class Check:
    spec: CheckSpec
    run: CheckFunction


class CheckDefinitionError(Exception):
    """A check module breaks the contract: a programming error, reported at discovery."""


def check(
    *,
    id: str,
    slug: str,
    title: str,
    severity: str,
    requires: Iterable[str],
    remediation: str,
    ndr: Iterable[str] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Declare a check. The function receives a CheckContext and yields one Result per
    resource it examined; it must not do I/O."""
    if not _ID.match(id):
        raise CheckDefinitionError(f"check id {id!r} is not of the form ABC-001")
    if not _SLUG.match(slug):
        raise CheckDefinitionError(f"check {id}: slug {slug!r} is not kebab-case")
    try:
        level = Severity(severity)
    except ValueError:
        raise CheckDefinitionError(f"check {id}: unknown severity {severity!r}") from None
    required = tuple(requires)
    if not required:
        raise CheckDefinitionError(f"check {id}: declares no required sources")

    def decorate(function: CheckFunction) -> CheckFunction:
        spec = CheckSpec(
            id=id,
            slug=slug,
            title=title,
            severity=level,
            requires=required,
            ndr=tuple(ndr),
            remediation=" ".join(remediation.split()),
            module=function.__module__,
        )
        setattr(function, _SPEC_ATTR, spec)
        return function

    return decorate


def checks_in_module(module: ModuleType) -> Iterator[Check]:
    for value in vars(module).values():
        spec = getattr(value, _SPEC_ATTR, None)
        # A module may import another module's check; count it only where it is defined.
        if isinstance(spec, CheckSpec) and spec.module == module.__name__:
            yield Check(spec=spec, run=value)


def _builtin_modules() -> Iterator[ModuleType]:
    # Found by name, as plugins are: judging depends on the check contract, never on checks.
    package = importlib.import_module(BUILTIN_PACKAGE)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")


def _plugin_checks() -> Iterator[Check]:
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            loaded = ep.load()
        except Exception as exc:
            raise CheckDefinitionError(
                f"entry point {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from None
        if isinstance(loaded, ModuleType):
            yield from checks_in_module(loaded)
        elif isinstance(getattr(loaded, _SPEC_ATTR, None), CheckSpec):
            yield Check(spec=getattr(loaded, _SPEC_ATTR), run=loaded)
        else:
            raise CheckDefinitionError(
                f"entry point {ep.name!r} ({ep.value}) is neither a module nor an @check function"
            )


def discover(include_plugins: bool = True) -> dict[str, Check]:
    """Every available check by id, sorted by id. Two checks with one id is an error."""
    found: dict[str, Check] = {}
    sources: Iterable[Check] = (c for m in _builtin_modules() for c in checks_in_module(m))
    if include_plugins:
        sources = [*sources, *_plugin_checks()]
    for item in sources:
        if item.spec.id in found:
            other = found[item.spec.id].spec.module
            raise CheckDefinitionError(
                f"check id {item.spec.id} is defined twice: in {other} and {item.spec.module}"
            )
        found[item.spec.id] = item
    return dict(sorted(found.items()))


def select(checks: Mapping[str, Check], wanted: Sequence[str]) -> list[str]:
    """The check ids asked for on the command line, all of them known; `conn-001` is
    `CONN-001`."""
    by_upper = {cid.upper(): cid for cid in checks}
    chosen = [by_upper.get(cid.strip().upper(), cid) for cid in wanted]
    unknown = [cid for cid in chosen if cid not in checks]
    if unknown:
        raise UsageError(f"unknown check id {', '.join(unknown)} (see '{PROG} checks list')")
    return list(dict.fromkeys(chosen))


def required_sources(checks: Mapping[str, Check], selected: Sequence[str] = ()) -> list[str]:
    """The sources the selected checks (all of them when none is selected) declare."""
    chosen = [checks[c] for c in selected] if selected else list(checks.values())
    return sorted({s for c in chosen for s in c.spec.requires})
