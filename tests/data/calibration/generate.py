"""Regenerate the simulated example files of this folder (fixed seed): ``python generate.py``.

- ``funnel_example.csv``: 36 months, two sources; web grows 15% a year with a seasonal dip in
  summer, partners grow 5% a year without seasonality.
- ``customers_example.csv``: one row per customer, monthly renewals, sBG(alpha=0.8, beta=6)
  churn, customers joining from 2022-01 to 2024-06, data as of 2024-06.
- ``deals_example.csv``: 300 deals, seats lognormal with median 12 and sigma 0.9.

The Fader & Hardie files are published data, not generated.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEASON = np.array([1.1, 1.05, 1.05, 1.0, 1.0, 0.9, 0.75, 0.7, 1.05, 1.1, 1.15, 1.15])


def funnel(rng: np.random.Generator) -> str:
    lines = ["month,source,stage,count"]
    sources = {
        "web": (800.0, 0.15, SEASON / SEASON.mean(), {"trial": 0.08, "contract": 0.22}),
        "partners": (120.0, 0.05, np.ones(12), {"qualified": 0.4, "contract": 0.3}),
    }
    for t in range(36):
        year, month = 2022 + t // 12, t % 12 + 1
        for name, (level, growth, season, stages) in sources.items():
            count = rng.poisson(level * (1 + growth) ** (t / 12) * season[month - 1])
            lines.append(f"{year}-{month:02d},{name},leads,{count}")
            for stage, rate in stages.items():
                count = rng.binomial(count, rate)
                lines.append(f"{year}-{month:02d},{name},{stage},{count}")
    return "\n".join(lines) + "\n"


def customers(rng: np.random.Generator) -> str:
    lines = ["customer,start,end"]
    as_of = 2024 * 12 + 5
    for i in range(400):
        start = 2022 * 12 + int(rng.integers(0, 30))
        theta = rng.beta(0.8, 6.0)
        lifetime = rng.geometric(theta)
        end = start + lifetime
        end_text = f"{end // 12}-{end % 12 + 1:02d}" if end <= as_of else ""
        lines.append(f"c{i + 1:04d},{start // 12}-{start % 12 + 1:02d},{end_text}")
    return "\n".join(lines) + "\n"


def deals(rng: np.random.Generator) -> str:
    seats = np.maximum(1, np.round(rng.lognormal(np.log(12), 0.9, size=300)))
    return "deal,seats\n" + "".join(f"d{i + 1:03d},{int(s)}\n" for i, s in enumerate(seats))


if __name__ == "__main__":
    rng = np.random.default_rng(20240607)
    (HERE / "funnel_example.csv").write_text(funnel(rng))
    (HERE / "customers_example.csv").write_text(customers(rng))
    (HERE / "deals_example.csv").write_text(deals(rng))
