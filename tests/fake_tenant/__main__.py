"""Run the fake tenant by hand: `python -m tests.fake_tenant` (Ctrl-C or SIGTERM stops it).

It prints the environment and the command line that point m365-audit at it.
"""

from __future__ import annotations

import shlex
import signal
import sys
import tempfile
import time

from tests.fake_tenant import FakeTenant


def main() -> int:
    # SIGTERM ends it like Ctrl-C does, so the server and its files are cleaned up.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="fake-tenant-") as directory,
            FakeTenant(directory) as fake,
        ):
            print(f"fake tenant {fake.data.display_name} at {fake.base}")
            print(f"export REQUESTS_CA_BUNDLE={fake.materials.ca_file}")
            print(f"export M365_AUDIT_CLIENT_SECRET={shlex.quote(fake.app.secret)}")
            print(
                "m365-audit run --baseline auditor/demo/baseline.json "
                + shlex.join(fake.cli_args())
            )
            print(f"(or --certificate {fake.materials.client_pem})", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
