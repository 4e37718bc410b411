"""``python -m example_app [--host H] [--port P]``: serve the hooks with Flask's server.

For trying the service out; production runs it under gunicorn (see the README).
"""

from __future__ import annotations

import argparse
import sys

from . import create_app
from .banner import render


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on")
    args = parser.parse_args(argv)
    app = create_app()
    print(render(app, f"http://{args.host}:{args.port}"), file=sys.stderr)
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
