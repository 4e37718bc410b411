"""``python -m example_app [--host H] [--port P]``: serve the hooks with Flask's server.

For development: it creates the SQLite schema and demo data when missing. Production runs
the service under gunicorn (see the README).
"""

from __future__ import annotations

import argparse
import sys

from . import create_app
from .banner import port_taken, port_taken_message, render
from .cli import prepare_for_development


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    args = parser.parse_args(argv)
    if port_taken(args.host, args.port):
        sys.exit(port_taken_message(args.host, args.port))
    app = create_app(development_server=True)
    note = prepare_for_development(app)
    print(render(app, f"http://{args.host}:{args.port}", note), file=sys.stderr)
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
