"""The `wirekit` command: one subcommand per tool."""

from __future__ import annotations

import argparse
import sys

SUBCOMMANDS = {
    # name: module under wirekit.tools exposing add_arguments(parser) and run(args) -> int
    "dump": "dump",
    "demo": "demo",
    "streams": "streams",
    "flow": "flow",
    "banners": "banners",
    "scan": "scan",
    "trace": "trace",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; when `argv` names a subcommand, only that tool's module is imported."""
    import importlib

    ap = argparse.ArgumentParser(
        prog="wirekit",
        description="wirekit: capture, decode, reassemble, meter and fingerprint network traffic.",
    )
    from . import __version__

    ap.add_argument("--version", action="version", version=f"wirekit {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    only = next((a for a in (argv if argv is not None else sys.argv[1:])[:1] if a in SUBCOMMANDS), None)
    for name, modname in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"wirekit.tools.{modname}")
        doc = (mod.__doc__ or "").strip()
        # The summary is the docstring's first sentence, which may wrap over several lines.
        summary = " ".join(doc.split("\n\n")[0].split()) if doc else None
        p = sub.add_parser(name, help=summary, description=doc,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser(argv)
    args = ap.parse_args(argv)
    if not getattr(args, "_run", None):
        ap.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wirekit dump | head`: the reader went away; not an error worth a trace.
        try:
            sys.stdout = None  # type: ignore[assignment]
        finally:
            return 0


if __name__ == "__main__":
    sys.exit(main())
