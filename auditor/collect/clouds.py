"""Endpoints per Microsoft cloud, and the overrides that tests and gateways use."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

# The audience Entra ID expects in a federated (GitHub OIDC) assertion differs by cloud, per
# Microsoft's workload identity federation documentation.
GLOBAL_AUDIENCE = "api://AzureADTokenExchange"
USGOV_AUDIENCE = "api://AzureADTokenExchangeUSGov"
CHINA_AUDIENCE = "api://AzureADTokenExchangeChina"


@dataclass(frozen=True)
class Cloud:
    name: str
    authority_host: str  # https://login.microsoftonline.com
    graph_url: str  # https://graph.microsoft.com
    exchange_url: str  # https://outlook.office365.com
    federation_audience: str = GLOBAL_AUDIENCE
    overridden_authority: bool = False
    # A full authority given to --authority (https://host/<tenant>) names the tenant to sign
    # in to; a bare host takes the tenant from --tenant.
    authority_tenant: str | None = None

    def authority(self, tenant: str) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.authority_tenant or tenant}"

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_url.rstrip('/')}/.default"

    @property
    def exchange_scope(self) -> str:
        return f"{self.exchange_url.rstrip('/')}/.default"


CLOUDS: dict[str, Cloud] = {
    "global": Cloud(
        "global",
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
        "https://outlook.office365.com",
    ),
    # GCC (moderate) tenants use the global cloud's endpoints.
    "usgov": Cloud(
        "usgov",
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
        "https://outlook.office365.com",
    ),
    "usgovhigh": Cloud(
        "usgovhigh",
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://outlook.office365.us",
        USGOV_AUDIENCE,
    ),
    "dod": Cloud(
        "dod",
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us",
        "https://outlook-dod.office365.us",
        USGOV_AUDIENCE,
    ),
    # 21Vianet: the Exchange endpoint is not confirmed by a primary source.
    "china": Cloud(
        "china",
        "https://login.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://partner.outlook.cn",
        CHINA_AUDIENCE,
    ),
}


def resolve(
    name: str = "global",
    authority: str | None = None,
    graph_url: str | None = None,
    exchange_url: str | None = None,
) -> Cloud:
    """The named cloud with any endpoint replaced; every endpoint must be https. `authority`
    may be a host (`https://login.microsoftonline.com`) or a full authority as msal takes it
    (`https://login.microsoftonline.com/<tenant>`)."""
    try:
        cloud = CLOUDS[name]
    except KeyError:
        raise ValueError(f"unknown cloud {name!r}; choose one of {', '.join(CLOUDS)}") from None
    for label, value in (
        ("--authority", authority),
        ("--graph-url", graph_url),
        ("--exchange-url", exchange_url),
    ):
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{label} must be an https:// URL, got {value!r}")
    authority_tenant = None
    if authority is not None:
        parts = urlsplit(authority)
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) > 1 or parts.query or parts.fragment:
            raise ValueError(
                f"--authority must be a host or https://host/<tenant>, got {authority!r}"
            )
        authority_tenant = segments[0] if segments else None
        authority = f"{parts.scheme}://{parts.netloc}"
    return replace(
        cloud,
        authority_tenant=authority_tenant,
        authority_host=(authority or cloud.authority_host).rstrip("/"),
        graph_url=(graph_url or cloud.graph_url).rstrip("/"),
        exchange_url=(exchange_url or cloud.exchange_url).rstrip("/"),
        overridden_authority=authority is not None,
    )
