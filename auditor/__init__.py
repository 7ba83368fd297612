"""m365-mail-auditor: audit a Microsoft 365 tenant's mail configuration."""

__version__ = "0.1.0"
