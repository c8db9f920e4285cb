"""Malformed scenarios: each is reported on one line, at the right place, in plain words.

Every case is a small edit of ``BASE`` (a compact valid scenario whose lines are numbered in
comments) or a whole file. The CLI runs in-process and each stderr line is parsed as
``FILE:LINE:COLUMN: field.path: message``; the case gives the exact line, column and field
and a fragment of the message.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
simulation:                                                                    # 1
  horizon_months: 24                                                           # 2
  seed: 1                                                                      # 3
  sampling: random                                                             # 4
  start_month: 2027-01                                                         # 5
funnel:                                                                        # 6
  sources:                                                                     # 7
    web:                                                                       # 8
      leads_per_month: 100 to 200                                              # 9
      stages:                                                                  # 10
        contract: 10%                                                          # 11
      cost_per_lead: 50                                                        # 12
segments:                                                                      # 13
  smb:                                                                         # 14
    share: 60%                                                                 # 15
    seats: {dist: lognormal, mean: 5, sd: 3}                                   # 16
  mid:                                                                         # 17
    share: 40%                                                                 # 18
offers:                                                                        # 19
  perp:                                                                        # 20
    type: perpetual                                                            # 21
    license_fee_per_seat: 900                                                  # 22
    churn: {renewal_rate: 90%}                                                 # 23
  saas:                                                                        # 24
    type: subscription                                                         # 25
    price_per_seat_month: 30                                                   # 26
    billing: monthly                                                           # 27
    churn:                                                                     # 28
      monthly: 1% to 3%                                                        # 29
installed_base:                                                                # 30
  offer: perp                                                                  # 31
  customers: 100                                                               # 32
plans:                                                                         # 33
  stay:                                                                        # 34
    mix: {perp: 100%}                                                          # 35
  switch:                                                                      # 36
    mix:                                                                       # 37
      schedule:                                                                # 38
        0: {perp: 50%, saas: 50%}                                              # 39
        12: {saas: 100%}                                                       # 40
    migration:                                                                 # 41
      to: saas                                                                 # 42
      rate_per_year: 30%                                                       # 43
    overrides:                                                                 # 44
      costs.fixed_opex_per_month: 1000                                         # 45
baseline: stay                                                                 # 46
costs:                                                                         # 47
  fixed_opex_per_month: 50000                                                  # 48
  investments: {3: 10000}                                                      # 49
finance:                                                                       # 50
  starting_cash: 1000000                                                       # 51
correlations:                                                                  # 52
  - between: [funnel.sources.web.leads_per_month, offers.saas.churn.monthly]   # 53
    rank: 0.3                                                                  # 54
"""

LINE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): (?:(?P<field>[^\s:]+): )?(?P<message>.+)$"
)
PYDANTIC_LEAKS = ("Input should", "function-", "[key]", "Value error", "Field required")


def edited(edits: dict[int, str | None]) -> str:
    """BASE with line N replaced by ``edits[N]`` (lines split at newlines; ``None`` deletes)."""
    lines = BASE.splitlines()
    for number in sorted(edits, reverse=True):
        new = edits[number]
        lines[number - 1 : number] = [] if new is None else new.split("\n")
    return "\n".join(lines) + "\n"


def write(folder: Path, content: str | bytes, name: str = "scenario.yaml") -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    (folder / "seats.csv").write_text("seats\n3\n5\n8\n", encoding="utf-8")
    return path


def validate(capsys, *paths: Path) -> tuple[int, list[dict], str]:
    """Run ``saas-sim validate`` in-process: exit code, parsed stderr lines, stdout."""
    rc = main(["validate", *map(str, paths)])
    out, err = capsys.readouterr()
    lines = err.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), f"lines without the FILE:LINE:COLUMN: prefix:\n{err}"
    assert not any(leak in err for leak in (*PYDANTIC_LEAKS, "Traceback")), err
    return rc, [m.groupdict() for m in parsed], out


def case(name, source, line, column, field, fragment):
    """One table row: edits of BASE (or a whole file), then where and what is expected."""
    return pytest.param(source, line, column, field, fragment, id=name)


NOT_PSD = (
    "    rank: 0.9\n"
    "  - between: [offers.saas.churn.monthly, funnel.sources.web.stages.contract]\n"
    "    rank: 0.9\n"
    "  - between: [funnel.sources.web.leads_per_month, funnel.sources.web.stages.contract]\n"
    "    rank: -0.9"
)
SECOND_PAIR = (
    "    rank: 0.3\n"
    "  - between: [offers.saas.churn.monthly, funnel.sources.web.leads_per_month]\n"
    "    rank: 0.2"
)

CASES = [
    # unknown keys, with "did you mean"
    case("unknown top-level key",
         {46: "baselin: stay"},
         46, 1, "baselin", "unknown key 'baselin' (did you mean 'baseline'?)"),
    case("misspelt required section",
         {6: "fundel:"},
         6, 1, "fundel", "(did you mean 'funnel'?)"),
    case("offer field typo",
         {26: "    price_per_seat_mnth: 30"},
         26, 5, "offers.saas.price_per_seat_mnth",
         "unknown key 'price_per_seat_mnth' (did you mean 'price_per_seat_month'?)"),
    # distributions
    case("unknown distribution",
         {16: "    seats: {dist: lognormla, mean: 5, sd: 3}"},
         16, 19, "segments.smb.seats.dist",
         "unknown distribution 'lognormla' (did you mean 'lognormal'?)"),
    case("unknown distribution parameter",
         {16: "    seats: {dist: lognormal, mean: 5, sdev: 3}"},
         16, 45, "segments.smb.seats.sdev",
         "lognormal has no parameter 'sdev' (did you mean 'sd'?)"),
    case("lognormal with mean and sigma",
         {16: "    seats: {dist: lognormal, mean: 5, sigma: 3}"},
         16, 5, "segments.smb.seats", "lognormal takes (mean, sd) or (mu, sigma); got mean, sigma"),
    case("negative seats mean",
         {16: "    seats: {dist: lognormal, mean: -5, sd: 3}"},
         16, 36, "segments.smb.seats.mean", "must be > 0"),
    case("normal distribution for a rate",
         {29: "      monthly: {dist: normal, mean: 0.02, sd: 0.01}"},
         29, 7, "offers.saas.churn.monthly", "must be between 0% and 100%; truncate it"),
    case("distribution name is a list",
         {16: "    seats: {dist: [], mean: 5, sd: 3}"},
         16, 13, "segments.smb.seats.dist", "expected the name of a distribution (uniform, "),
    case("distribution name is a mapping",
         {16: "    seats: {dist: {}}"},
         16, 13, "segments.smb.seats.dist", "expected the name of a distribution"),
    case("distribution parameters overflow",
         {16: "    seats: {dist: lognormal, mean: 5, sd: 1e308}"},
         16, 5, "segments.smb.seats",
         "this lognormal distribution cannot be computed (a result is too large)"),
    case("empirical CSV column missing",
         {16: "    seats: {dist: empirical, csv: seats.csv, column: seat}"},
         16, 54, "segments.smb.seats.column",
         "seats.csv has no column 'seat' (did you mean 'seats'?)"),
    # numbers, percents and intervals
    case("probability above 100%",
         {23: "    churn: {renewal_rate: 120%}"},
         23, 27, "offers.perp.churn.renewal_rate", "must be between 0% and 100%, got 1.2"),
    case("negative price",
         {26: "    price_per_seat_month: -30"},
         26, 27, "offers.saas.price_per_seat_month", "must be >= 0, got -30"),
    case("interval low above high",
         {9: "      leads_per_month: 200 to 100"},
         9, 24, "funnel.sources.web.leads_per_month",
         "lower end must be below its upper end, got 200 to 100"),
    case("rate interval from 0%",
         {29: "      monthly: 0% to 3%"},
         29, 16, "offers.saas.churn.monthly", "strictly inside 0% to 100%"),
    case("rate interval to 100%",
         {29: "      monthly: 50% to 100%"},
         29, 16, "offers.saas.churn.monthly", "strictly inside 0% to 100%"),
    case("percent garbage",
         {11: "        contract: abc%"},
         11, 19, "funnel.sources.web.stages.contract",
         "expected a number or a percent string such as '2%', got 'abc%'"),
    case("empty value",
         {26: "    price_per_seat_month:"},
         26, 26, "offers.saas.price_per_seat_month", "got nothing (an empty value)"),
    case("horizon as a boolean",
         {2: "  horizon_months: yes"},
         2, 19, "simulation.horizon_months",
         "expected a whole number, got true "
         "(YAML reads true/false, yes/no and on/off as booleans)"),
    case("segment share as a boolean",
         {15: "    share: on"},
         15, 12, "segments.smb.share", "expected a number, got true"),
    case("seasonality factor as a boolean",
         {12: "      cost_per_lead: 50\n      seasonality: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, no]"},
         13, 54, "funnel.sources.web.seasonality.11", "expected a number, got false"),
    case("rank as a boolean",
         {54: "    rank: yes"},
         54, 11, "correlations.0.rank", "expected a number, got true"),
    case("investment month as a boolean",
         {49: "  investments: {yes: 10000}"},
         49, 17, "costs.investments.true", "invalid key: expected a whole number, got true"),
    case("horizon as text",
         {2: "  horizon_months: ten"},
         2, 19, "simulation.horizon_months", "expected a whole number, got 'ten'"),
    # shares
    case("segment shares do not sum to 1",
         {18: "    share: 30%"},
         13, 1, "segments", "segment shares must sum to 100%, they sum to 90%"),
    case("mix shares do not sum to 1",
         {35: "    mix: {perp: 60%}"},
         35, 5, "plans.stay.mix", "the shares must sum to 100%, they sum to 60%"),
    case("mix with a misspelt schedule key",
         {37: "    mix:", 38: "      schedul:"},
         38, 7, "plans.switch.mix.schedul", "unknown key 'schedul' (did you mean 'schedule'?)"),
    case("mix with a misspelt interpolation key",
         {35: "    mix: {perp: 100%, interpolaton: step}"},
         35, 23, "plans.stay.mix.interpolaton",
         "unknown key 'interpolaton' (did you mean 'interpolation'?)"),
    case("mix schedule with a misspelt interpolation key",
         {40: "        12: {saas: 100%}\n      interpolaton: step"},
         41, 7, "plans.switch.mix.interpolaton",
         "unknown key 'interpolaton' in a schedule (did you mean 'interpolation'?)"),
    case("fixed channel shares above 100%",
         {49: "  investments: {3: 10000}\n  channels:\n"
              "    reseller: {share: 60%, rate: 20%}\n    referral: {share: 50%, rate: 10%}"},
         50, 3, "costs.channels",
         "channel shares must sum to at most 100%, they sum to 110% (reseller 60%, referral 50%)"),
    case("uncertain channel shares above 100% at their 99.9% quantiles",
         {49: "  investments: {3: 10000}\n  channels:\n"
              "    reseller: {share: 50% to 70%, rate: 20%}\n"
              "    referral: {share: 30%, rate: 10%}"},
         50, 3, "costs.channels", "but their 99.9% quantiles sum to"),
    case("mix names an unknown offer",
         {35: "    mix: {perpetual: 100%}"},
         35, 11, "plans.stay.mix.perpetual",
         "no offer named 'perpetual' (did you mean 'perp'?); offers are: perp, saas"),
    # months
    case("schedule month beyond horizon",
         {40: "        30: {saas: 100%}"},
         40, 9, "plans.switch.mix.schedule.30",
         "month 30 is beyond the horizon; the simulation runs months 0 to 23"),
    case("schedule month negative",
         {40: "        -3: {saas: 100%}"},
         40, 9, "plans.switch.mix.schedule.-3", "schedule months are whole numbers >= 0, got -3"),
    case("investment beyond horizon",
         {49: "  investments: {30: 10000}"},
         49, 17, "costs.investments.30", "month 30 is beyond the horizon"),
    case("investment before month 0",
         {49: "  investments: {-1: 10000}"},
         49, 17, "costs.investments.-1", "month -1 is before month 0"),
    case("investment month not a number",
         {49: "  investments: {three: 10000}"},
         49, 17, "costs.investments.three", "invalid key: expected a whole number, got 'three'"),
    case("migration start beyond horizon",
         {43: "      rate_per_year: 30%\n      start_month: 40"},
         44, 20, "plans.switch.migration.start_month", "month 40 is beyond the horizon"),
    # names across parts
    case("baseline names no plan",
         {46: "baseline: stya"},
         46, 11, "baseline",
         "no plan named 'stya' (did you mean 'stay'?); plans are: stay, switch"),
    case("migration to an unknown offer",
         {42: "      to: sass"},
         42, 11, "plans.switch.migration.to", "no offer named 'sass' (did you mean 'saas'?)"),
    case("migration without installed base",
         {30: None, 31: None, 32: None},
         38, 5, "plans.switch.migration", "the scenario has no installed_base"),
    case("migration to a perpetual offer",
         {42: "      to: perp"},
         42, 11, "plans.switch.migration.to",
         "'perp' is a perpetual offer; a migration moves the installed base off perpetual "
         "licences, to a subscription or a term licence"),
    case("installed base on a subscription",
         {31: "  offer: saas"},
         31, 10, "installed_base.offer",
         "'saas' is a subscription offer; the installed base is on a perpetual offer"),
    # offers and churn
    case("churn with two forms",  # at the second form given (was the churn key, line 28)
         {29: "      monthly: 2%\n      annual: 20%"},
         30, 7, "offers.saas.churn.annual",
         "give exactly one of monthly, annual, renewal_rate, sbg (got monthly, annual)"),
    case("churn with two forms in a flow mapping",
         {23: "    churn: {renewal_rate: 90%, annual: 10%}"},
         23, 32, "offers.perp.churn.annual", "(got renewal_rate, annual)"),
    case("churn with no form",
         {28: "    churn: {}", 29: None},
         28, 5, "offers.saas.churn",
         "give exactly one of monthly, annual, renewal_rate, sbg (got none)"),
    case("unknown offer type",
         {25: "    type: subscriptoin"},
         25, 11, "offers.saas.type",
         "unknown type 'subscriptoin' (did you mean 'subscription'?); "
         "choose one of subscription, perpetual, term"),
    case("missing offer type",
         {25: None},
         24, 3, "offers.saas", "needs a 'type': subscription, perpetual or term"),
    case("missing price",
         {26: None},
         24, 3, "offers.saas.price_per_seat_month", "is required"),
    case("billing not in the choices",
         {27: "    billing: yearly"},
         27, 14, "offers.saas.billing",
         "unknown value 'yearly'; choose one of monthly, annual, multi_year"),
    case("annual billing with term 18",  # at term_months (was the offer key, line 24)
         {27: "    billing: annual\n    term_months: 18"},
         28, 18, "offers.saas.term_months", "annual billing needs term_months in whole years"),
    case("annual billing with the default term",
         {27: "    billing: annual"},
         27, 14, "offers.saas.billing",
         "annual billing needs term_months in whole years (12, 24, ...); "
         "term_months is 1 by default"),
    case("multi-year billing with a one-year term",
         {27: "    billing: multi_year\n    term_months: 12"},
         28, 18, "offers.saas.term_months",
         "multi_year billing needs term_months of 24, 36, ..., got 12"),
    case("sBG alpha of 0",
         {23: "    churn: {sbg: {alpha: 0, beta: 2}}"},
         23, 26, "offers.perp.churn.sbg.alpha", "must be > 0, got 0"),
    case("sBG beta that can be 0",
         {23: "    churn: {sbg: {alpha: 1, beta: {dist: discrete, values: [0, 2], "
              "probabilities: [0.5, 0.5]}}}"},
         23, 29, "offers.perp.churn.sbg.beta",
         "must be > 0, but this discrete distribution takes the value 0"),
    case("seasonality with a negative factor",
         {12: "      cost_per_lead: 50\n      seasonality: [1, 1, 1, 1, -1, 1, 1, 1, 1, 1, 1, 1]"},
         13, 33, "funnel.sources.web.seasonality.4", "seasonality factors must be >= 0, got -1"),
    case("anniversary weights all 0",
         {32: "  customers: 100\n  anniversary_weights: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"},
         33, 3, "installed_base.anniversary_weights",
         "anniversary weights must have a positive sum; they are all 0"),
    case("anniversary weight negative, block list",
         {32: "  customers: 100\n  anniversary_weights:\n    - 1\n    - -2\n"
              + "\n".join(["    - 1"] * 10)},
         35, 7, "installed_base.anniversary_weights.1", "anniversary weights must be >= 0, got -2"),
    case("support head per 0 customers",
         {48: "  fixed_opex_per_month: 50000\n  headcount:\n    customers_per_support_head: 0"},
         50, 33, "costs.headcount.customers_per_support_head", "must be > 0, got 0"),
    case("seasonality of 2 months",
         {12: "      cost_per_lead: 50\n      seasonality: [1, 2]"},
         13, 7, "funnel.sources.web.seasonality", "needs exactly 12 values, got 2"),
    case("no stages",
         {10: "      stages: {}", 11: None},
         10, 7, "funnel.sources.web.stages", "needs at least 1 entry, got 0"),
    # plan overrides
    case("override of an unknown path",
         {45: "      costs.fixed_opx_per_month: 1000"},
         45, 7, "plans.switch.overrides.costs.fixed_opx_per_month",
         "costs has no 'fixed_opx_per_month' (did you mean 'fixed_opex_per_month'?)"),
    case("override of simulation",
         {45: "      simulation.paths: 1000"},
         45, 7, "plans.switch.overrides.simulation.paths", "simulation cannot be changed per plan"),
    case("override with an invalid value",
         {45: "      costs.fixed_opex_per_month: -5"},
         45, 7, "plans.switch.overrides.costs.fixed_opex_per_month", "must be >= 0, got -5"),
    case("override path with an empty part",
         {45: "      costs..fixed_opex_per_month: 1"},
         45, 7, "plans.switch.overrides.costs..fixed_opex_per_month", "is not a dotted path"),
    # correlations
    case("correlation of an unknown input",
         {53: "  - between: [funnel.sources.web.leads_per_mont, offers.saas.churn.monthly]"},
         53, 15, "correlations.0.between.0",
         "is not an uncertain input of the scenario "
         "(did you mean 'funnel.sources.web.leads_per_month'?)"),
    case("correlation of a fixed value",
         {53: "  - between: [funnel.sources.web.cost_per_lead, offers.saas.churn.monthly]"},
         53, 15, "correlations.0.between.0",
         "is a fixed value; only uncertain inputs can be correlated"),
    case("correlation of an input with itself",
         {53: "  - between: [offers.saas.churn.monthly, offers.saas.churn.monthly]"},
         53, 5, "correlations.0.between", "an input cannot be correlated with itself"),
    case("correlation pair given twice",
         {54: SECOND_PAIR},
         55, 5, "correlations.1.between", "already correlated in correlations.0"),
    case("correlations not positive semi-definite",
         {11: "        contract: 5% to 15%", 54: NOT_PSD},
         52, 1, "correlations", "not positive semi-definite"),
    case("correlation between one input",
         {53: "  - between: [offers.saas.churn.monthly]"},
         53, 5, "correlations.0.between", "needs exactly 2 values, got 1"),
    case("rank above 1",
         {54: "    rank: 1.5"},
         54, 11, "correlations.0.rank", "must be between -1 and 1, got 1.5"),
    # simulation
    case("horizon 0",
         {2: "  horizon_months: 0"},
         2, 19, "simulation.horizon_months", "must be between 1 and 600, got 0"),
    case("bad start month",
         {5: "  start_month: 2027-13"},
         5, 16, "simulation.start_month", "expected a month as YYYY-MM"),
    case("sampling method misspelt",
         {4: "  sampling: latin_hypercub"},
         4, 13, "simulation.sampling",
         "unknown value 'latin_hypercub' (did you mean 'latin_hypercube'?); "
         "choose one of random, latin_hypercube, sobol"),
    # YAML
    case("duplicate key",
         {3: "  seed: 1\n  seed: 2"},
         4, 3, "simulation.seed", "duplicate key 'seed' (first given at line 3)"),
    case("YAML syntax error",
         {35: "    mix: {perp: 100%"},
         36, 9, None,
         "YAML syntax: expected ',' or '}', but got ':' "
         "(while parsing a flow mapping at line 35, column 10)"),
    case("tab indentation",
         {3: "\tseed: 1"},
         3, 1, None, "tab character"),
    case("YAML tag",
         {3: "  seed: !!python/object:os.system 1"},
         3, 9, None, "is not allowed"),
    # whole files
    case("empty file", "", 1, 1, None, "the document is empty"),
    case("comments only", "# nothing yet\n\n# nor here\n", 1, 1, None, "the document is empty"),
    case("binary file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, 1, None, "not a text file"),
    case("not UTF-8", "name: caf\xe9\n".encode("latin-1"), 1, 10, None, "not UTF-8 text"),
    case("top-level list", "- funnel\n- offers\n", 1, 1, None, "the top level must be a mapping"),
    case("two documents", BASE + "---\nname: other\n", 55, 1, None, "a second document starts"),
    case("nested too deeply", "a: " + "[" * 100 + "]" * 100, 1, 68, None, "nested more than 64"),
    case("recursive alias", "a: &x [1, *x]\n", 1, 4, None, "recursive alias"),
]


def test_base_scenario_is_valid(tmp_path, capsys):
    rc, problems, out = validate(capsys, write(tmp_path, BASE))
    assert (rc, problems) == (0, [])
    assert "valid" in out


@pytest.mark.parametrize(("source", "line", "column", "field", "fragment"), CASES)
def test_malformed_scenario_is_reported_once_at_its_place(
    tmp_path, capsys, source, line, column, field, fragment
):
    path = write(tmp_path, edited(source) if isinstance(source, dict) else source)
    rc, problems, _ = validate(capsys, path)
    assert rc == 2
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem["file"] == str(path)
    assert (int(problem["line"]), int(problem["column"])) == (line, column)
    assert problem["field"] == field
    assert fragment in problem["message"]


def test_alias_bomb_fails_fast_in_little_memory(tmp_path, capsys):
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    tracemalloc.start()
    try:
        rc, problems, _ = validate(capsys, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rc == 2
    assert [p["field"] for p in problems] == ["f"]  # the first entry whose expansion is too large
    assert "expands to more than" in problems[0]["message"]
    assert peak < 20 * 2**20


def test_merge_keys_may_override_merged_values(tmp_path, capsys):
    text = edited({14: "  smb: &segment", 17: "  mid:\n    <<: *segment"})
    rc, problems, _ = validate(capsys, write(tmp_path, text))
    assert (rc, problems) == (0, [])


def test_every_problem_of_a_file_is_reported_in_file_order(tmp_path, capsys):
    text = edited({26: "    price_per_seat_month: -1", 2: "  horizon_months: 0", 4: "  sampling: "})
    rc, problems, _ = validate(capsys, write(tmp_path, text))
    assert rc == 2
    assert [(int(p["line"]), p["field"]) for p in problems] == [
        (2, "simulation.horizon_months"),
        (4, "simulation.sampling"),
        (26, "offers.saas.price_per_seat_month"),
    ]


def test_every_cross_part_problem_is_reported(tmp_path, capsys):
    text = edited({18: "    share: 30%", 46: "baseline: stya", 49: "  investments: {30: 10000}"})
    rc, problems, _ = validate(capsys, write(tmp_path, text))
    assert rc == 2
    assert sorted(p["field"] for p in problems) == ["baseline", "costs.investments.30", "segments"]


def test_a_plan_with_overrides_does_not_repeat_the_base_problems(tmp_path, capsys):
    rc, problems, _ = validate(capsys, write(tmp_path, edited({49: "  investments: {30: 10000}"})))
    assert rc == 2
    assert [p["field"] for p in problems] == ["costs.investments.30"]


def test_set_problems_point_at_the_assignment(tmp_path):
    path = write(tmp_path, BASE)
    sets = ["offers.saas.price_per_seat_month=45", "simulation.horizon_months=0"]
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, sets=sets)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == ("--set", 2, "simulation.horizon_months")
    with pytest.raises(ScenarioError, match=r"offers\.saas has no 'price_per_seat' \(did you mean"):
        load_scenario(path, sets=["offers.saas.price_per_seat=45"])


def test_only_the_invalid_file_is_reported(tmp_path, capsys):
    good = write(tmp_path, BASE, "good.yaml")
    bad = write(tmp_path, edited({26: "    price_per_seat_month: -30"}), "bad.yaml")
    rc, problems, out = validate(capsys, good, bad)
    assert rc == 2
    assert {p["file"] for p in problems} == {str(bad)}
    assert f"{good}: valid" in out


def test_range_with_a_percent_sign_on_the_upper_end_only(tmp_path):
    one = load_scenario(write(tmp_path, edited({29: "      monthly: 1 to 3%"}), "one.yaml"))
    both = load_scenario(write(tmp_path, BASE, "both.yaml"))
    assert one.offers["saas"].churn.monthly.spec == both.offers["saas"].churn.monthly.spec


def test_annual_billing_with_a_three_year_term_is_valid(tmp_path, capsys):
    text = edited({27: "    billing: annual\n    term_months: 36"})
    rc, problems, _ = validate(capsys, write(tmp_path, text))
    assert (rc, problems) == (0, [])


def test_an_unexpected_failure_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    def broken(scenario):
        raise RuntimeError("no such\nthing")

    monkeypatch.setattr("simulator.scenario.loader.check_scenario", broken)
    monkeypatch.delenv("SAAS_SIM_DEBUG", raising=False)
    assert main(["validate", str(write(tmp_path, BASE))]) == 1
    assert capsys.readouterr().err == (
        "saas-sim: internal error: RuntimeError: no such thing (please report it)\n"
    )
    monkeypatch.setenv("SAAS_SIM_DEBUG", "1")
    with pytest.raises(RuntimeError, match="no such"):
        main(["validate", str(write(tmp_path, BASE))])


def test_module_entry_point_reports_without_traceback(tmp_path):
    bad = write(tmp_path, edited({45: "      costs..fixed_opex_per_month: 1"}))
    result = subprocess.run([sys.executable, "-m", "simulator", "validate", str(bad)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{bad}:45:7: ")


def test_every_bundled_scenario_is_valid(capsys):
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    assert files
    rc, problems, _ = validate(capsys, *files)
    assert (rc, problems) == (0, [])
