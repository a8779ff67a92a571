"""Serves one emulated org standalone: `python -m emulators.salesforce --seed ... --port ...`.

For the demo and for poking at the emulator by hand (curl, simple-salesforce); tests start it
in-process instead.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from emulators import serving
from emulators.salesforce import EmulatorSettings, Org, make_salesforce_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve an emulated Salesforce org.")
    parser.add_argument("--seed", type=Path, required=True, help="seed-format YAML (users: [...])")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--client-id", default=EmulatorSettings.client_id)
    parser.add_argument("--certificate", type=Path, help="X.509 PEM verifying JWT assertions")
    parser.add_argument("--client-secret-env", metavar="VAR", help="enable client_credentials")
    parser.add_argument("--approved-username", action="append", help="repeat; default: everyone")
    parser.add_argument("--daily-api-limit", type=int, default=EmulatorSettings.daily_api_limit)
    parser.add_argument("--ssl-certfile", help="serve https with this certificate")
    parser.add_argument("--ssl-keyfile", help="the key of --ssl-certfile")
    args = parser.parse_args(argv)

    secret = None
    if args.client_secret_env:
        secret = os.environ.get(args.client_secret_env)
        if not secret:
            parser.error(f"environment variable {args.client_secret_env} is not set")
    settings = EmulatorSettings(
        client_id=args.client_id,
        certificate_pem=args.certificate.read_bytes() if args.certificate else None,
        client_secret=secret,
        approved_usernames=frozenset(args.approved_username) if args.approved_username else None,
        daily_api_limit=args.daily_api_limit,
    )
    app = make_salesforce_app(Org.from_seed(args.seed), settings)
    with serving.serve(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    ) as url:
        print(f"Serving Salesforce on {url}; Ctrl+C or SIGTERM stops it.", flush=True)
        serving.wait_for_stop()


if __name__ == "__main__":
    main()
