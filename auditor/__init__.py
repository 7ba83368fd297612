"""m365-mail-auditor: audit a Microsoft 365 tenant's mail configuration."""

__version__ = "0.1.0"
PROG = "m365-audit"  # the command's name, as every message it prints begins
