"""The ``saas-sim fit churn | funnel | deals FILE`` commands.

Each prints a summary and a scenario snippet on stdout, writes a PNG of data against fit
(next to the CSV, or in ``--out DIR``) and, with ``--yaml PATH`` or ``--out DIR``, the snippet.
Malformed data exits with status 2 and one line ``FILE:LINE:COLUMN: column: message`` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.arguments import non_negative_int, positive_int
from simulator.calibration.churn import DEFAULT_BOOTSTRAP, DEFAULT_SEED, PERIODS, fit_churn
from simulator.calibration.deals import MODELS as DEAL_MODELS
from simulator.calibration.deals import fit_deals
from simulator.calibration.errors import CalibrationError
from simulator.calibration.funnel import PRIORS, SEASONALITY_MODES, fit_funnel
from simulator.calibration.snippet import NAME

__all__ = ["register"]

EXIT_INVALID = 2


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``fit`` command and its ``churn``, ``funnel`` and ``deals`` sub-commands."""
    fit = commands.add_parser(
        "fit", help="calibrate scenario inputs from your own data (churn, funnel, deals)",
        description="Fit churn, funnel or deal-size models to a CSV file; print a summary and a scenario "
                    "snippet, and plot the data against the fit.",
    )
    kinds = fit.add_subparsers(dest="fit_kind", required=True, metavar="DATA")

    churn = kinds.add_parser(
        "churn", help="cohort survival: geometric vs shifted-beta-geometric churn",
        description="FILE holds cohort,period,customers (customers still active by cohort and period, period 0 "
                    "being the cohort's size) or customer,start,end (one row per customer; empty end = still active).",
    )
    churn.add_argument("file", metavar="FILE")
    churn.add_argument("--offer", default="my_offer", type=_name, help="offer named in the snippet (default my_offer)")
    churn.add_argument("--period", choices=list(PERIODS), default="month",
                       help="length of one period: reads dates in customer files, names the geometric churn "
                            "(monthly, annual, else renewal_rate); default month")
    churn.add_argument("--as-of", default=None, metavar="DATE",
                       help="customer files: the date the data runs to (default: the latest date in the file)")
    churn.add_argument("--horizon", type=positive_int, default=None, metavar="N",
                       help="last projected period (default: twice the data's length)")
    churn.add_argument("--model", choices=["auto", "sbg", "geometric"], default="auto",
                       help="model written to the snippet; auto: sBG when the LR test rejects the geometric at 5%%")
    churn.add_argument("--bootstrap", type=non_negative_int, default=DEFAULT_BOOTSTRAP, metavar="N",
                       help=f"parametric-bootstrap replicates of the LR test (default {DEFAULT_BOOTSTRAP}; "
                            "0: chi2 mixture only)")
    churn.add_argument("--bootstrap-se", action="store_true",
                       help="also bootstrap the sBG standard errors with the same number of replicates "
                            "(and use them in the snippet)")
    churn.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the bootstrap and projection draws")
    _output_options(churn)
    churn.set_defaults(handler=_fit_churn)

    funnel = kinds.add_parser(
        "funnel", help="monthly funnel counts: lead volume, growth, seasonality, conversions",
        description="FILE holds month,source,stage,count; a source's stages in order of first appearance, "
                    "the first being its leads.",
    )
    funnel.add_argument("file", metavar="FILE")
    funnel.add_argument("--prior", choices=list(PRIORS), default="jeffreys",
                        help="beta prior of the conversions: jeffreys Beta(1/2, 1/2) (default) or uniform Beta(1, 1)")
    funnel.add_argument("--seasonality", choices=list(SEASONALITY_MODES), default="auto",
                        help="12-month seasonality (needs 24 months): auto keeps it when significant at 5%% "
                             "(default), always, never")
    _output_options(funnel)
    funnel.set_defaults(handler=_fit_funnel)

    deals = kinds.add_parser(
        "deals", help="deal sizes: lognormal vs log-logistic, chosen by AIC",
        description="FILE holds one column of seats (or values) per deal.",
    )
    deals.add_argument("file", metavar="FILE")
    deals.add_argument("--column", default=None,
                       help="the column to fit (default: the only one, or seats, value or amount)")
    deals.add_argument("--segment", default="my_segment", type=_name, help="segment named in the snippet")
    deals.add_argument("--model", choices=["auto", *DEAL_MODELS], default="auto",
                       help="model written to the snippet; auto: the lower AIC")
    _output_options(deals)
    deals.set_defaults(handler=_fit_deals)


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="DIR", help="write the plot and the YAML snippet into DIR")
    parser.add_argument("--plot", default=None, metavar="PATH",
                        help="PNG of data against fit (default: next to FILE, or in --out DIR)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    parser.add_argument("--yaml", default=None, metavar="PATH", help="also write the snippet to PATH")


def _name(text: str) -> str:
    if not NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: use letters, digits, '_' or '-' (it becomes part of a dotted path)")
    return text


# ------------------------------------------------------------------------------------------
# Handlers
# ------------------------------------------------------------------------------------------


def _fit_churn(args: argparse.Namespace) -> int:
    def fit():
        result = fit_churn(args.file, offer=args.offer, period=args.period, as_of=args.as_of, horizon=args.horizon,
                           bootstrap=args.bootstrap, bootstrap_se=args.bootstrap_se, seed=args.seed)
        model = None if args.model == "auto" else args.model
        return result, result.to_yaml(model), lambda: _single(result.plot)

    return _run(args, "churn", fit)


def _fit_funnel(args: argparse.Namespace) -> int:
    def fit():
        result = fit_funnel(args.file, prior=args.prior, seasonality=args.seasonality)

        def figure():
            from simulator.calibration.plotting import new_figure

            fig, (left, right) = new_figure(2, (12, 4.8))
            result.plot(left)
            result.plot_conversions(right)
            return fig

        return result, result.to_yaml(), figure

    return _run(args, "funnel", fit)


def _fit_deals(args: argparse.Namespace) -> int:
    def fit():
        result = fit_deals(args.file, column=args.column, segment=args.segment)
        model = None if args.model == "auto" else args.model
        return result, result.to_yaml(model), lambda: _single(result.plot)

    return _run(args, "deals", fit)


def _single(plot):
    return plot().figure


def _run(args: argparse.Namespace, kind: str, fit) -> int:
    try:
        result, snippet, figure = fit()
        written = _write_outputs(args, kind, snippet, figure)
    except CalibrationError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"{exc.filename or args.file}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    print(result.summary())
    print()
    print("# ---- scenario snippet: merge into your scenario file ----")
    print(snippet, end="")
    for what, path in written:
        print(f"# wrote {what}: {path}")
    return 0


def _write_outputs(args: argparse.Namespace, kind: str, snippet: str, figure) -> list[tuple[str, Path]]:
    source = Path(args.file)
    stem = source.stem
    out = Path(args.out) if args.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    written = []
    yaml_path = Path(args.yaml) if args.yaml else (out / f"{stem}-{kind}.yaml" if out else None)
    if yaml_path is not None:
        yaml_path.write_text(snippet, encoding="utf-8")
        written.append(("snippet", yaml_path))
    if not args.no_plot:
        plot_path = Path(args.plot) if args.plot else (out or source.parent) / f"{stem}-{kind}-fit.png"
        from simulator.calibration.plotting import save_axes

        save_axes(figure(), plot_path)
        written.append(("plot", plot_path))
    return written
