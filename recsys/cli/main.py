"""Entry point of `python -m recsys`: builds the parser lazily and turns known errors into one clear line.

Each subcommand lives in its own module with `configure(parser)` and `run(args) -> int`. Modules keep heavy
imports (torch, PyG) inside `run`, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Order is the order `--help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("recsys.cli.generate", "write a synthetic dataset (the built-in default data)"),
    "import-lastfm": ("recsys.cli.import_lastfm", "convert the HetRec 2011 Last.fm data into the dataset format"),
    "import-history": ("recsys.cli.import_history", "listening exports -> a history for a model, or a dataset"),
    "stats": ("recsys.cli.stats", "validate a dataset and print counts per node and edge type"),
    "split": ("recsys.cli.split", "write a copy of a dataset with the default split frozen in a split column"),
    "train": ("recsys.cli.train", "train a Basic or Enhanced GAT and write a checkpoint"),
    "card": ("recsys.cli.card", "write X.card.json beside a checkpoint: the dashboard's overview without loading it"),
    "evaluate": ("recsys.cli.evaluate", "rank the full catalogue and compare a checkpoint with baselines"),
    "recommend": ("recsys.cli.recommend", "top-K recommendations for one user"),
    "explain": ("recsys.cli.explain", "explain one recommendation"),
    "demo": ("recsys.cli.demo", "model stats, top-K with explanations and metrics for one user"),
    "faithfulness": ("recsys.cli.faithfulness", "measure explanation fidelity and truth recovery"),
    "listeners": ("recsys.cli.listeners", "fold-in listeners vs trained ones, and whether recent taste helps"),
    "bench": ("recsys.cli.bench", "speed, memory and quality benchmarks, as ratios to baselines"),
}

ERROR_WIDTH = 2000  # characters per line of an error message (it may quote a whole cell)
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 70, 130, 141


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the subcommand named in argv is imported and configured."""
    parser = argparse.ArgumentParser(prog="python -m recsys", description="Graph-attention music recommender.")
    from recsys.version import __version__

    parser.add_argument("--version", action="version", version=f"recsys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).configure(command_parser)
            command_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; known errors print one line to stderr and return a non-zero code."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spin-waiting threads slow sparse ops 10x on busy machines
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    from recsys.cli.common import terminal_text
    from recsys.errors import RecsysError

    try:
        return importlib.import_module(args._module).run(args) or EXIT_OK
    except RecsysError as exc:
        print(f"error: {terminal_text(exc, ERROR_WIDTH, keep_newlines=True)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, as Unix tools do
        with contextlib.suppress(OSError, ValueError):  # no second error when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # a file vanished, a permission, a full disk, a name too long: the system's words
        where = f": {terminal_text(exc.filename, ERROR_WIDTH)}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError:
        print("error: out of memory: the data or the sizes asked for do not fit in this machine's memory",
              file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug, not bad input: one line, and the traceback only when asked for
        if os.environ.get("RECSYS_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {terminal_text(exc, 300)}); this is a bug, please "
              "report it (RECSYS_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
