"""Browse a finished run in the browser: its identities, their paths across cameras, search by image.

  python -m pipeline.web --results outputs/demo
  python -m pipeline.web --results outputs/demo --host 0.0.0.0 --port 8080 --token SECRET
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Sequence

from reid.errors import UserError, run_command_line
from reid.log_levels import say


def load_search_extractor(model: str | None):
    """The run's part-feature extractor for search, or None (with a line saying why) when no model file is known."""
    if not model:
        say("search by image is off: the store names no part-feature model (give --reid MODEL)")
        return None
    if not Path(model).is_file():
        say(f"search by image is off: the run's model {model} is not here (give --reid MODEL)")
        return None
    from reid.runtime import load_extractor

    return load_extractor(model, max_batch=8, threads=1)


def main(argv: Sequence[str] | None = None) -> int:
    summary, _, examples = __doc__.strip().partition("\n\n")
    parser = argparse.ArgumentParser(prog="python -m pipeline.web", description=textwrap.fill(summary, 79),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="examples:\n" + examples)
    parser.add_argument("--results", required=True, metavar="DIR",
                        help="a run's output directory (the one holding tracks.sqlite)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    parser.add_argument("--token", help="required on every request; needed to bind anything but loopback")
    parser.add_argument("--reid", metavar="MODEL",
                        help="part-feature model for search (default: the one the run recorded in its store)")
    arguments = parser.parse_args(argv)

    from pipeline.web.app import WebSettings, create_app
    from pipeline.web.server import check_bind, serve
    from pipeline.web.store import recorded_model

    results = Path(arguments.results)
    if not results.is_dir():
        raise UserError(f"results directory not found: {results}")
    check_bind(arguments.host, arguments.port, arguments.token)
    model = arguments.reid or recorded_model(results)
    if arguments.reid and not Path(arguments.reid).is_file():
        raise UserError(f"part-feature model not found: {arguments.reid}")
    extractor = load_search_extractor(model)
    app = create_app(WebSettings(results, extractor=extractor, token=arguments.token, model=model))
    serve(app, arguments.host, arguments.port)
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
