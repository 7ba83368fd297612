"""Run the fake tenant by hand: `python -m tests.fake_tenant` (Ctrl-C to stop).

It prints the environment and the command line that point m365-audit at it.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import tempfile
import threading

from tests.fake_tenant import FakeTenant


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="fake-tenant-") as directory,
        FakeTenant(directory) as fake,
    ):
        print(f"fake tenant {fake.data.display_name} at {fake.base}", flush=True)
        print(f"export REQUESTS_CA_BUNDLE={fake.materials.ca_file}")
        print(f"export M365_AUDIT_CLIENT_SECRET={shlex.quote(fake.app.secret)}")
        print("m365-audit run --baseline auditor/demo/baseline.json " + shlex.join(fake.cli_args()))
        print(f"(or --certificate {fake.materials.client_pem})", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.2):  # short waits, so the signal handler gets to run
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
