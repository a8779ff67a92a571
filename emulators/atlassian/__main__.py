"""`python -m emulators.atlassian`: serve one emulated Atlassian directory until stopped."""

from __future__ import annotations

import argparse

from emulators import serving
from emulators.atlassian import AtlassianSettings, make_atlassian_app, scim_base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve an emulated Atlassian SCIM directory.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9302)
    parser.add_argument("--token", required=True, help="the directory API key to require")
    parser.add_argument(
        "--domain", action="append", help="a verified email domain (repeatable; orion.example)"
    )
    args = parser.parse_args(argv)
    settings = AtlassianSettings(token=args.token)
    if args.domain:
        settings = AtlassianSettings(token=args.token, verified_domains=frozenset(args.domain))
    with serving.serve(make_atlassian_app(settings), host=args.host, port=args.port) as root:
        print(
            f"Serving Atlassian SCIM on {scim_base(root, settings)}; Ctrl+C stops it.", flush=True
        )
        serving.wait_for_stop()


if __name__ == "__main__":
    main()
