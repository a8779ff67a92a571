"""The container's HEALTHCHECK: exit 0 when this controller's /healthz answers 200, else 1.

A Python one-liner in the Dockerfile would hide its URL and port logic in quoting; this module
reads the same PROVISIONER_PORT the controller serves on, needs nothing the image lacks (no
curl), and is tested with the rest of the image's entrypoint (tests/deploy/test_image.py).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from controller.settings import LoopSettings


def main() -> int:
    port = os.environ.get("PROVISIONER_PORT") or str(LoopSettings().port)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
