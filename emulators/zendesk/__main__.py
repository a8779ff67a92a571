"""Serves one emulated Zendesk account: `python -m emulators.zendesk --port 9303 --token T`.

For the demo and for poking at the emulator by hand (curl, a Zendesk client library); tests
start it in-process instead. The API base URL is `http://HOST:PORT/api/v2`.
"""

from __future__ import annotations

import argparse

from emulators import serving
from emulators.zendesk import PLAN_LIMITS, ZendeskSettings, make_zendesk_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve an emulated Zendesk Support account.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9303)
    parser.add_argument("--token", required=True, help="the API token or OAuth token to accept")
    parser.add_argument("--plan", choices=sorted(PLAN_LIMITS), default="enterprise")
    parser.add_argument("--unlimited", action="store_true", help="no rate limits")
    args = parser.parse_args(argv)
    settings = ZendeskSettings(
        token=args.token,
        plan_limit=None if args.unlimited else PLAN_LIMITS[args.plan],
        per_user_limit=None if args.unlimited else ZendeskSettings.per_user_limit,
    )
    with serving.serve(make_zendesk_app(settings), host=args.host, port=args.port) as url:
        print(f"Serving Zendesk on {url}/api/v2; Ctrl+C or SIGTERM stops it.", flush=True)
        serving.wait_for_stop()


if __name__ == "__main__":
    main()
