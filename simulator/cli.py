"""Command line: ``saas-sim validate | schema | run | fit``.

Exit codes: 0 success, 2 invalid input (one line per problem on stderr, no traceback),
1 an unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import sys

from simulator import __version__
from simulator.calibration.command import register as register_fit
from simulator.outputs.command import register as register_run
from simulator.scenario import ScenarioError, load_scenario

EXIT_INVALID = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # A bug, not a bad input: one line and exit 1; SAAS_SIM_DEBUG=1 shows the traceback.
        import os

        if os.environ.get("SAAS_SIM_DEBUG"):
            raise
        message = " ".join(str(exc).split())
        print(f"saas-sim: internal error: {type(exc).__name__}: {message} (please report it)",
              file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="saas-sim", description="Monte Carlo cash-flow simulator for software businesses."
    )
    parser.add_argument("--version", action="version", version=f"saas-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check scenario files; exit 0 when all are valid")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=_validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.set_defaults(handler=_schema)

    register_run(commands)
    register_fit(commands)
    return parser


def _validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            status = EXIT_INVALID
        else:
            plans = ", ".join(scenario.plans)
            print(f"{path}: valid ({len(scenario.plans)} plans: {plans}; baseline {scenario.baseline_plan})")
    return status


def _schema(args: argparse.Namespace) -> int:
    from simulator.scenario.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
