"""Serves one emulated Slack org standalone: `python -m emulators.slack --port 9301 --token T`.

For the demo and for poking at the emulator by hand (curl, an IdP's SCIM client); tests start
it in-process instead. The SCIM base URL is `http://HOST:PORT/scim/v2`.
"""

from __future__ import annotations

import argparse

from emulators import serving
from emulators.slack import SlackLimits, SlackSettings, make_slack_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve an emulated Slack org (SCIM v2).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9301)
    parser.add_argument("--token", required=True, help="the bearer token every request needs")
    parser.add_argument("--write-latency", type=float, default=0.0, help="seconds per write")
    parser.add_argument("--channel", action="append", help="repeat; default: general, random")
    parser.add_argument("--unlimited", action="store_true", help="no rate limits")
    args = parser.parse_args(argv)
    settings = SlackSettings(
        token=args.token,
        limits=SlackLimits.unlimited() if args.unlimited else SlackLimits(),
        write_latency=args.write_latency,
        channels=frozenset(args.channel) if args.channel else SlackSettings.channels,
    )
    with serving.serve(make_slack_app(settings), host=args.host, port=args.port) as url:
        print(f"Serving Slack SCIM on {url}/scim/v2; Ctrl+C or SIGTERM stops it.", flush=True)
        serving.wait_for_stop()


if __name__ == "__main__":
    main()
