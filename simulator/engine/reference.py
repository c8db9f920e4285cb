"""Plain NumPy reference engine: ``docs/engine.md`` cohort by cohort, vectorised over paths.

This engine is the independent check of the numba kernel (``kernel_nb.py``): it reads the same
:class:`~simulator.engine.inputs.EngineInputs`, returns the same
:class:`~simulator.engine.layout.EngineOutput`, and is written for clarity, not speed (loops
over months and cohorts, never over paths).

Cohorts
-------
A *cohort* is a column of the state arrays ``count``, ``seats`` and ``price``, each
``ndarray(float64, (n, C))``. Its static attributes are its start month ``t0``, its *class*
(an offer, or the installed-base pseudo-offer ``O`` with the base's maintenance and churn), its
segment (``G``, the base pseudo-segment, for base and migrated customers: price and churn
multipliers 1), its channel and its origin (new win, installed base, migration). Columns are
ordered by start month, so the cohorts alive at month ``t`` are a prefix:

- the installed base, 12 cohorts by anniversary month ``φ``, with a virtual start
  ``t0 = φ - 12 (tenure + 1)`` so that the renewal count at the anniversary ``φ + 12 j`` is
  ``k = tenure + 1 + j`` (the sBG count of ``docs/engine.md`` §6);
- for each month ``t``: one cohort per (segment, offer, channel) that can receive wins, then one
  cohort for the customers the base migrates in month ``t``.

Modes
-----
Expected-value mode (``expected=True``): every count is its expectation (fractional), the market
and volatility factors are 1, seats are the segment's mean seats per customer. Channels are kept
as separate cohorts weighted by their shares; since every flow is linear in a cohort's weight
this equals ``docs/engine.md`` §3's single cohort per (t, g, o) with the channel economics at
their expected shares.

Monte Carlo mode: leads are Poisson, funnel stages and renewals binomial, the split of potential
wins into (segment, offer, channel) cells, with rejection by the win-rate acceptance, is
multinomial, and a cohort's seats are the sum of its customers' seats, each drawn from the
segment's tabulated quantile function. One simplification: customers of a cohort are not
tracked one by one, so when some of them churn or migrate the cohort's seats leave *in
proportion* (``seats × leaving / count``), not as the sum of the leavers' own seats. Means are
unchanged (seats are independent of renewal draws); the spread of seats and seat-driven money
across paths is slightly understated. The random numbers come from one ``numpy`` generator
seeded with ``seeds[:, 0]``: results agree with the numba engine in distribution, not draw by
draw.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.inputs import (
    BILL_MONTHLY,
    BILL_YEARLY,
    OFFER_PERPETUAL,
    OFFER_SUBSCRIPTION,
    OFFER_TERM,
    QUANTILE_GRID,
    EngineInputs,
)
from simulator.engine.layout import (
    FLOW_INDEX,
    FLOWS,
    SOURCE_ROW_INDEX,
    SOURCE_STAGE_ROW,
    EngineOutput,
    source_row_count,
)

__all__ = ["run"]

NEW, BASE, MIGRATED = 0, 1, 2
"""Origins of a cohort."""

REFERRAL, MARKETPLACE, DIRECT = 1, 2, 3
"""Channels after ``CHANNEL_RESELLER = 0``: a cohort's channel indexes ``(n, 4)`` tables."""


def run(inp: EngineInputs, expected: bool, seeds: np.ndarray) -> EngineOutput:
    """Simulate one plan for ``n`` paths.

    Parameters
    ----------
    inp : EngineInputs
        Arrays of ``n`` paths (:func:`~simulator.engine.inputs.build_inputs`).
    expected : bool
        Expected-value mode: counts at their expectation, market and volatility factors at 1.
    seeds : ndarray(uint64, (n, 2))
        Per path ``[funnel seed, customer key]``; this engine seeds one generator with
        ``seeds[:, 0]`` (unused in expected-value mode).

    Returns
    -------
    EngineOutput
        ``flows`` ``(n, len(FLOWS), T)``, ``offer_customers`` and ``offer_revenue``
        ``(n, O, T)``, ``opening_deferred`` and ``start_customers`` ``(n,)``, ``source_flows``
        ``(n, S, 3 + K - 1, T)``.
    """
    draw = _Expected() if expected else _Random(np.random.default_rng(seeds[:, 0]))
    return _Engine(inp, draw).run()


# --------------------------------------------------------------------------------------------
# counts: expectations or draws


class _Expected:
    """Every count at its expectation; every monthly factor 1."""

    def poisson(self, lam: np.ndarray) -> np.ndarray:
        return np.array(lam, dtype=float)

    def binomial(self, k: np.ndarray, p: np.ndarray) -> np.ndarray:
        return k * p

    def multinomial(self, k: np.ndarray, p: np.ndarray) -> np.ndarray:
        """``k`` ``(n,)`` split into cells of probability ``p`` ``(n, m)`` (rest: nowhere)."""
        return k[:, None] * p

    def seat_sums(self, counts: np.ndarray, rows: np.ndarray, table: np.ndarray,
                  mean: np.ndarray) -> np.ndarray:
        """Seats of ``counts`` ``(n, m)`` customers of seat rows ``rows`` ``(m,)``: count × mean."""
        return counts * mean[rows]

    def factor(self, sd: float, a: float, shape: tuple[int, int]) -> np.ndarray:
        return np.ones(shape)


class _Random:
    """Counts drawn with one ``numpy`` generator."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def poisson(self, lam: np.ndarray) -> np.ndarray:
        return self.rng.poisson(lam).astype(float)

    def binomial(self, k: np.ndarray, p: np.ndarray) -> np.ndarray:
        return self.rng.binomial(np.rint(k).astype(np.int64), np.clip(p, 0.0, 1.0)).astype(float)

    def multinomial(self, k: np.ndarray, p: np.ndarray) -> np.ndarray:
        """``k`` ``(n,)`` split into cells of probability ``p`` ``(n, m)``; the rest is dropped."""
        rest = np.clip(1.0 - p.sum(axis=1, keepdims=True), 0.0, None)
        pvals = np.concatenate([p, rest], axis=1)
        pvals /= pvals.sum(axis=1, keepdims=True)
        return self.rng.multinomial(np.rint(k).astype(np.int64), pvals)[:, :-1].astype(float)

    def seat_sums(self, counts: np.ndarray, rows: np.ndarray, table: np.ndarray,
                  mean: np.ndarray) -> np.ndarray:
        """Seats of ``counts`` ``(n, m)`` customers: per column, the sum of per-customer draws.

        Each customer's seats are the quantile table ``table[rows[j]]`` (on the logistic grid
        :data:`~simulator.engine.inputs.QUANTILE_GRID`) at the logit of a uniform, interpolated
        linearly. A constant table (fixed seats) needs no draws.
        """
        n, m = counts.shape
        out = np.zeros((n, m))
        for j, row in enumerate(rows):
            quantiles = table[row]
            if quantiles[0] == quantiles[-1]:
                out[:, j] = counts[:, j] * quantiles[0]
                continue
            k = np.rint(counts[:, j]).astype(np.int64)
            u = self.rng.random(k.sum())
            with np.errstate(divide="ignore"):
                seats = np.interp(np.log(u) - np.log1p(-u), QUANTILE_GRID, quantiles)
            out[:, j] = np.bincount(np.repeat(np.arange(n), k), weights=seats, minlength=n)
        return out

    def factor(self, sd: float, a: float, shape: tuple[int, int]) -> np.ndarray:
        """Mean-1 lognormal AR(1) factor ``(n, T)`` (``docs/engine.md`` §1)."""
        n, T = shape
        if sd == 0:
            return np.ones(shape)
        var = np.log1p(sd * sd)
        eps = self.rng.standard_normal(shape) * np.sqrt(var)
        x = np.empty(shape)
        x[:, 0] = eps[:, 0]
        for t in range(1, T):
            x[:, t] = a * x[:, t - 1] + np.sqrt(1.0 - a * a) * eps[:, t]
        return np.exp(x - var / 2.0)


# --------------------------------------------------------------------------------------------
# funnel and allocation (docs/engine.md §2-3)


def _funnel(inp: EngineInputs, market: np.ndarray,
            draw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leads and stage counts by source, and potential wins with their acceptance probabilities.

    Parameters
    ----------
    inp : EngineInputs
    market : ndarray(float64, (n, T))
        The market factor ``M``.
    draw : _Expected or _Random

    Returns
    -------
    sources : ndarray(float64, (n, S, 3 + K - 1, T))
        Per source (``layout.SOURCE_ROWS``): leads, marketing cost and stage counts at the lead
        month; the wins row is left at 0 (filled by :func:`_allocate`).
    potential : ndarray(float64, (n, S, T))
        Potential wins ``W*`` arriving in each month (after the lag).
    accept : ndarray(float64, (n, S, O, T))
        Acceptance probability ``a`` of a potential win of source ``s`` given to offer ``o``.
    """
    n, S, T = inp.leads_expected.shape
    e_leads, e_conv = inp.market[2], inp.market[3]
    sources = np.zeros((n, S, source_row_count(inp.conversion.shape[2]), T))
    potential = np.empty((n, S, T))
    accept = np.empty((n, S, inp.price.shape[1], T))
    for s in range(S):
        volatility = draw.factor(inp.volatility[s, 0], inp.volatility[s, 1], (n, T))
        leads = draw.poisson(inp.leads_expected[:, s] * volatility * market ** e_leads)
        sources[:, s, SOURCE_ROW_INDEX["leads"]] = leads
        sources[:, s, SOURCE_ROW_INDEX["marketing"]] = (leads * inp.cost_per_lead[:, s, None]
                                                        + inp.source_fixed_cost[:, s, None])
        arriving, conv_factor, warm = _arriving_leads(inp, s, leads, market ** e_conv, draw)
        wins, accept_s, stages = _convert(inp, s, arriving, conv_factor, draw)
        potential[:, s], accept[:, s] = wins[:, :T], accept_s[:, :, :T]
        for k, count in enumerate(stages):
            sources[:, s, SOURCE_STAGE_ROW + k] = count[:, warm:]
    return sources, potential, accept


def _arriving_leads(inp: EngineInputs, s: int, leads: np.ndarray, conv_factor: np.ndarray,
                    draw) -> tuple[np.ndarray, np.ndarray, int]:
    """The warm pipeline followed by every month's leads, with their conversion factor.

    Leads of month ``τ`` arrive in ``τ + lag``. The first ``warm = min(lag, T)`` entries are the
    warm pipeline (Poisson leads at the month-0 volume, ``V = M = 1``; zero volume when cold),
    arriving in months ``0..warm-1``; entry ``warm + τ`` holds the leads of month ``τ`` (those of
    the last ``lag`` months arrive after the horizon but are converted for the stage counts).

    Returns
    -------
    arriving, factor : ndarray(float64, (n, warm + T))
    warm : int
    """
    n, T = leads.shape
    warm = min(int(inp.lag[s]), T)
    pipeline = draw.poisson(np.broadcast_to(inp.leads_warm[:, s, None], (n, warm)))
    arriving = np.concatenate([pipeline, leads], axis=1)
    factor = np.concatenate([np.ones((n, warm)), conv_factor], axis=1)
    return arriving, factor, warm


def _convert(inp: EngineInputs, s: int, arriving: np.ndarray, conv_factor: np.ndarray,
             draw) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Stages of source ``s``: potential wins, acceptance ``(n, O, m)`` and the count after each
    intermediate stage, for ``arriving`` leads ``(n, m)``."""
    stages = int(inp.n_stages[s])
    opportunities = arriving
    counts = []
    for k in range(stages - 1):
        p = np.minimum(1.0, inp.conversion[:, s, k, None] * conv_factor)
        opportunities = draw.binomial(opportunities, p)
        counts.append(opportunities)
    last = inp.conversion[:, s, stages - 1, None] * conv_factor  # p_K M^e_conv, (n, m)
    q = np.minimum(1.0, last * inp.win_factor_max[:, None])
    offered = np.minimum(1.0, last[:, None, :] * inp.win_rate_factor[:, :, None])  # (n, O, m)
    accept = np.divide(offered, q[:, None, :], out=np.zeros_like(offered), where=q[:, None, :] > 0)
    return draw.binomial(opportunities, q), np.minimum(accept, 1.0), counts


def _channel_shares(inp: EngineInputs) -> np.ndarray:
    """``(n, 4)``: reseller, referral, marketplace, direct."""
    direct = np.clip(1.0 - inp.channel_share.sum(axis=1, keepdims=True), 0.0, None)
    return np.concatenate([inp.channel_share, direct], axis=1)


def _kinds(inp: EngineInputs) -> np.ndarray:
    """The (segment, offer, channel) cells that can receive wins, ``ndarray(int64, (m, 3))``."""
    channels = _channel_shares(inp)
    return np.array([(g, o, c)
                     for g in range(len(inp.segment_share)) if inp.segment_share[g] > 0
                     for o in range(inp.mix.shape[1]) if inp.mix[:, o].any()
                     for c in range(4) if channels[:, c].any()], dtype=np.int64).reshape(-1, 3)


def _allocate(inp: EngineInputs, kinds: np.ndarray, potential: np.ndarray, accept: np.ndarray,
              draw) -> tuple[np.ndarray, np.ndarray]:
    """Potential wins split and accepted: new customers by month and kind ``(n, T, m)``, and by
    source and month ``(n, S, T)``."""
    n, S, T = potential.shape
    g, o, c = kinds.T
    cell = inp.segment_share[g] * _channel_shares(inp)[:, c]  # (n, m)
    wins = np.zeros((n, T, len(kinds)))
    by_source = np.zeros((n, S, T))
    for t in range(T):
        for s in range(S):
            won = draw.multinomial(potential[:, s, t], cell * inp.mix[t, o] * accept[:, s, o, t])
            wins[:, t] += won
            by_source[:, s, t] = won.sum(axis=1)
    return wins, by_source


# --------------------------------------------------------------------------------------------
# cohorts (docs/engine.md §4-7)


class _Engine:
    """The month loop over cohorts of one plan, ``n`` paths.

    Class tables ``(n, O+1)`` (or ``(O+1,)``) hold, per offer and for the base pseudo-offer
    ``O``, what a cohort of that class needs: renewal law, repricing, costs. Segment tables
    ``(n, G+1)`` and channel tables ``(n, 4)`` hold the price multiplier ``x``, churn
    multiplier and revenue share ``ρ``.
    """

    def __init__(self, inp: EngineInputs, draw):
        self.inp, self.draw = inp, draw
        self.n, self.T = inp.fixed_opex.shape
        self.O, self.G = inp.price.shape[1], len(inp.segment_share)
        self.flows = np.zeros((self.n, len(FLOWS), self.T))
        self.offer_customers = np.zeros((self.n, self.O, self.T))
        self.offer_revenue = np.zeros((self.n, self.O, self.T))
        self.market = draw.factor(inp.market[0], inp.market[1], (self.n, self.T))
        self._class_tables()
        self._segment_tables()
        self.kinds = _kinds(inp)
        self._layout()

    # --- tables and layout

    def _class_tables(self) -> None:
        """Per-class tables: the offers' columns, then the base pseudo-offer's (its offer ``b``)."""
        inp, b = self.inp, max(self.inp.base_offer, 0)
        ones = np.ones((self.n, 1))

        def extend(x: np.ndarray, base: np.ndarray) -> np.ndarray:
            return np.concatenate([x, np.asarray(base, dtype=float).reshape(self.n, -1)], axis=1)

        self.kind_of = np.append(inp.offer_type, OFFER_PERPETUAL)
        self.offer_of = np.append(np.arange(self.O), b)
        self.billing_of = np.append(inp.billing, BILL_YEARLY)
        self.R = np.append(inp.renewal_months, 12)
        self.P = np.maximum(self.R, 12)
        self.renew_p = extend(inp.renewal_prob, inp.base_renewal_prob)
        self.alpha = extend(inp.sbg[:, :, 0], inp.base_sbg[:, 0])
        self.beta = extend(inp.sbg[:, :, 1], inp.base_sbg[:, 1])
        self.maintenance = extend(inp.maintenance_rate, ones)  # base price is already maintenance
        self.license_share = extend(inp.license_share, 0 * ones)
        self.price_increase = extend(inp.price_increase, inp.price_increase[:, b])
        self.seat_growth = extend(inp.seat_growth, 0 * ones)
        self.cost = extend(inp.cost_per_seat, inp.cost_per_seat[:, b])
        self.services = extend(inp.services, 0 * ones)
        self.services_cost = extend(inp.services_cost_share, 0 * ones)

    def _segment_tables(self) -> None:
        """Price and churn multipliers by segment (column ``G``: 1), revenue kept by channel."""
        inp, ones = self.inp, np.ones((self.n, 1))
        self.x = np.concatenate([inp.price_multiplier, ones], axis=1)
        self.churn_mult = np.concatenate([inp.churn_multiplier, ones], axis=1)
        self.rho = np.ones((self.n, 4))
        self.rho[:, 0] = 1.0 - inp.channel_rate[:, 0]

    def _layout(self) -> None:
        """Static attributes of every column, ordered by start month; ``end[t]`` bounds the prefix.

        Each block is an ``(m, 5)`` table of rows ``(t0, class, segment, channel, origin)``.
        """
        inp, T, m = self.inp, self.T, len(self.kinds)
        blocks = []
        if inp.base_offer >= 0:
            phi = np.arange(12)
            blocks.append(np.stack([phi - 12 * (inp.base_tenure + 1), np.full(12, self.O),
                                    np.full(12, self.G), np.full(12, DIRECT), np.full(12, BASE)], axis=1))
        new = np.stack([np.zeros(m, np.int64), self.kinds[:, 1], self.kinds[:, 0], self.kinds[:, 2],
                        np.full(m, NEW)], axis=1)
        migrated = np.array([[0, inp.migration_offer, self.G, DIRECT, MIGRATED]])
        month = np.concatenate([new, migrated]) if inp.migration_offer >= 0 else new
        for t in range(T):
            blocks.append(month + np.array([t, 0, 0, 0, 0]))
        table = np.concatenate(blocks).astype(np.int64)
        self.t0, self.klass, self.seg, self.chan, self.origin = table.T
        nb = 12 if inp.base_offer >= 0 else 0
        self.new_start = nb + len(month) * np.arange(T)  # first column of month t's new cohorts
        self.end = self.new_start + len(month)
        self.offer_onehot = (self.offer_of[self.klass][:, None] == np.arange(self.O)).astype(float)
        shape = (self.n, len(table))
        self.count, self.seats, self.price = np.zeros(shape), np.zeros(shape), np.zeros(shape)

    def list_price(self, klass: np.ndarray, t: int) -> np.ndarray:
        """List price ``(n, len(klass))`` at month ``t``: ``price (1 + increase)^floor(t/12)``."""
        return self.inp.price[:, klass] * (1.0 + self.inp.price_increase[:, klass]) ** (t // 12)

    # --- the run

    def run(self) -> EngineOutput:
        """Funnel and allocation for all months, then the month loop in MODEL.md §3's order."""
        inp = self.inp
        sources, potential, accept = _funnel(inp, self.market, self.draw)
        wins, won_by_source = _allocate(inp, self.kinds, potential, accept, self.draw)
        sources[:, :, SOURCE_ROW_INDEX["new_customers"]] = won_by_source
        self._flow("leads")[:] = sources[:, :, SOURCE_ROW_INDEX["leads"]].sum(axis=1)
        self._flow("marketing")[:] = sources[:, :, SOURCE_ROW_INDEX["marketing"]].sum(axis=1)
        opening_deferred = self._open_base()
        start_customers = self.count.sum(axis=1)
        for t in range(self.T):
            self._migrate(t)
            self._renew(t)
            self._open_new(t, wins[:, t])
            self._reprice(t)
            self._account(t)
        return EngineOutput(self.flows, self.offer_customers, self.offer_revenue, opening_deferred,
                            start_customers, sources)

    def _flow(self, name: str) -> np.ndarray:
        """View ``(n, T)`` of one flow."""
        return self.flows[:, FLOW_INDEX[name], :]

    def _open_base(self) -> np.ndarray:
        """Installed base at month 0 (``docs/engine.md`` §6); returns the opening deferred ``(n,)``."""
        inp = self.inp
        if inp.base_offer < 0:
            return np.zeros(self.n)
        customers = inp.base_customers
        if isinstance(self.draw, _Random):
            customers = np.floor(customers + 0.5)  # B rounded to the nearest whole number
        count = self.draw.multinomial(customers, np.broadcast_to(inp.base_anniversary, (self.n, 12)))
        seats = self.draw.seat_sums(count, np.full(12, self.G), inp.seat_table, inp.seat_mean)
        self.count[:, :12], self.seats[:, :12] = count, seats
        self.price[:, :12] = inp.base_maintenance[:, None]
        billed = seats * inp.base_maintenance[:, None]  # at φ - 12, covering φ - 12 .. φ - 1
        phi = np.arange(12)
        collected = phi - 12 + inp.collection_lag
        for p in np.flatnonzero((collected >= 0) & (collected < self.T)):
            self._flow("opening_collections")[:, collected[p]] += billed[:, p]
        return (billed * phi / 12).sum(axis=1)

    def _open_new(self, t: int, count: np.ndarray) -> None:
        """New customers ``(n, m)`` of month ``t``, each kind a cohort, at the month's list price."""
        inp = self.inp
        cols = slice(self.new_start[t], self.new_start[t] + len(self.kinds))
        self.count[:, cols] = count
        self.seats[:, cols] = self.draw.seat_sums(count, self.kinds[:, 0], inp.seat_table, inp.seat_mean)
        self.price[:, cols] = self.list_price(self.kinds[:, 1], t)
        self._flow("new_customers")[:, t] = count.sum(axis=1)

    def _renewal_probability(self, cols: np.ndarray, k: np.ndarray, t: int) -> np.ndarray:
        """``π^(m_g M_t^e_churn)`` at the ``k``-th renewal of columns ``cols``, ``(n, len(cols))``."""
        klass = self.klass[cols]
        p = self.renew_p[:, klass]
        alpha = self.alpha[:, klass]
        if (alpha > 0).any():
            beta = self.beta[:, klass]
            sbg = np.divide(beta + k - 1, alpha + beta + k - 1, out=np.ones_like(alpha), where=alpha > 0)
            p = np.where(alpha > 0, sbg, p)
        hazard = self.churn_mult[:, self.seg[cols]] * self.market[:, t, None] ** self.inp.market[4]
        return p if (hazard == 1.0).all() else p ** hazard

    def _migrate(self, t: int) -> None:
        """Base customers at their anniversary first migrate, with probability ``rate_per_year``."""
        inp, e = self.inp, self.end[t]
        if inp.migration_offer < 0 or t < inp.migration_start:
            return
        age = t - self.t0[:e]
        cols = np.flatnonzero((self.origin[:e] == BASE) & (age % 12 == 0))
        count, seats = self.count[:, cols], self.seats[:, cols]
        moved = self.draw.binomial(count, inp.migration_rate[:, None])
        moved_seats = np.divide(seats * moved, count, out=np.zeros_like(seats), where=count > 0)
        self.count[:, cols], self.seats[:, cols] = count - moved, seats - moved_seats
        self._open_migrated(t, moved.sum(axis=1), moved_seats.sum(axis=1))

    def _renew(self, t: int) -> None:
        """Renewal decisions of the cohorts due in month ``t``: renew, else churn."""
        e = self.end[t]
        age = t - self.t0[:e]
        due = np.flatnonzero((age > 0) & (age % self.R[self.klass[:e]] == 0))
        if due.size == 0:
            return
        count, seats = self.count[:, due], self.seats[:, due]
        renewals = age[due] // self.R[self.klass[due]]  # k: this is the k-th renewal
        kept = self.draw.binomial(count, self._renewal_probability(due, renewals, t))
        self.count[:, due] = kept
        self.seats[:, due] = np.divide(seats * kept, count, out=np.zeros_like(seats), where=count > 0)
        self._flow("churned_customers")[:, t] = (count - kept).sum(axis=1)

    def _open_migrated(self, t: int, count: np.ndarray, seats: np.ndarray) -> None:
        """Base customers moving to the migration offer in month ``t`` (neither won nor churned)."""
        col = self.end[t] - 1
        self.count[:, col], self.seats[:, col] = count, seats
        self.price[:, col] = self.list_price(np.array([self.inp.migration_offer]), t)[:, 0]
        self._flow("migrated_customers")[:, t] = count

    def _reprice(self, t: int) -> None:
        """Every ``P`` months from the start: price and subscription seats of the survivors."""
        e = self.end[t]
        age = t - self.t0[:e]
        klass = self.klass[:e]
        cols = np.flatnonzero((age > 0) & (age % self.P[klass] == 0))
        if cols.size == 0:
            return
        years = self.P[klass[cols]] / 12
        self.price[:, cols] *= (1.0 + self.price_increase[:, klass[cols]]) ** years
        self.seats[:, cols] *= (1.0 + self.seat_growth[:, klass[cols]]) ** years

    def _account(self, t: int) -> None:
        """Revenue, billings, CMRR, costs and balances of month ``t`` (``docs/engine.md`` §5, §7).

        Only cohorts with customers on some path are visited; each offer type's amounts are
        computed on its own cohorts.
        """
        e = self.end[t]
        live = np.flatnonzero(self.count[:, :e].any(axis=0))
        kind = self.kind_of[self.klass[live]]
        totals = {name: np.zeros(self.n) for name in _MONTH_FLOWS}
        for code, amounts in ((OFFER_SUBSCRIPTION, _subscription), (OFFER_PERPETUAL, _perpetual),
                              (OFFER_TERM, _term)):
            cols = live[kind == code]
            if cols.size:
                c = _Cohorts(self, t, cols)
                self._add(t, c, _amounts(c, amounts), totals)
        for name, total in totals.items():
            self._flow(name)[:, t] = total

    def _add(self, t: int, c: _Cohorts, amounts: dict[str, np.ndarray],
             totals: dict[str, np.ndarray]) -> None:
        """Add one offer type's per-cohort amounts ``(n, m)`` to the month's totals and offer series."""
        revenue = sum(amounts[name] for name in _REVENUE if name in amounts)
        for name, value in amounts.items():
            totals[name] += value.sum(axis=1)
        for name, channel in (("referral_commissions", REFERRAL), ("marketplace_fees", MARKETPLACE)):
            routed = c.chan == channel
            if routed.any():
                totals[name] += self.inp.channel_rate[:, channel] * revenue[:, routed].sum(axis=1)
        onehot = self.offer_onehot[c.cols]
        self.offer_customers[:, :, t] += c.count @ onehot
        self.offer_revenue[:, :, t] += revenue @ onehot


_REVENUE = (
    "subscription_revenue", "maintenance_revenue", "term_revenue", "license_revenue", "services_revenue")
_MONTH_FLOWS = (
    "customers", "seats", "cmrr", *_REVENUE, "billings", "recurring_billings", "upfront_commissions",
    "referral_commissions", "cost_to_serve", "services_cost", "marketplace_fees")
"""Flows :meth:`_Engine._account` fills month by month."""


class _Cohorts:
    """What one month's accounting needs of some cohorts ``cols`` ``(m,)`` of one offer type.

    ``value`` ``(n, m)`` is ``ρ · x · seats · P_c``, with ``P_c`` the cohort's current price
    (per seat-month for subscriptions, licence fee per seat for perpetual offers, annual
    maintenance per seat for the base, fee per seat-year for term licences), times the
    first-term price factor of migrated cohorts before their first renewal. ``period`` is the
    months one invoice covers (subscriptions: 1, 12 or R; term licences: 12 or R).
    """

    def __init__(self, engine: _Engine, t: int, cols: np.ndarray):
        self.engine, self.cols = engine, cols
        cols = _as_slice(cols)
        self.klass, self.chan, self.origin = engine.klass[cols], engine.chan[cols], engine.origin[cols]
        self.age = t - engine.t0[cols]
        self.R = engine.R[self.klass]
        billing = engine.billing_of[self.klass]
        self.period = np.select([billing == BILL_MONTHLY, billing == BILL_YEARLY], [1, 12], self.R)
        self.count, self.seats = engine.count[:, cols], engine.seats[:, cols]
        first_term = (self.origin == MIGRATED) & (self.age < self.R)
        factor = 1.0
        if first_term.any():
            factor = np.where(first_term, engine.inp.migration_price_factor[:, None], 1.0)
        self.scale = engine.rho[:, self.chan] * engine.x[:, engine.seg[cols]]  # ρ x
        self.value = self.scale * self.seats * engine.price[:, cols] * factor
        self.start = self.age == 0

    def table(self, name: str) -> np.ndarray:
        """A class table of the engine at these cohorts, ``(n, m)``."""
        return getattr(self.engine, name)[:, self.klass]


def _as_slice(cols: np.ndarray) -> np.ndarray | slice:
    """``cols`` as a slice when they are consecutive (views instead of copies), else unchanged."""
    if cols.size and cols[-1] - cols[0] == cols.size - 1:
        return slice(int(cols[0]), int(cols[-1]) + 1)
    return cols


def _subscription(c: _Cohorts) -> dict[str, np.ndarray]:
    """The monthly amount every month in force; billed per period at its start."""
    billed = c.value * c.period * (c.age % c.period == 0)
    return {"subscription_revenue": c.value, "cmrr": c.value, "billings": billed,
            "recurring_billings": billed, "upfront_commissions": _commission(c, 12.0 * c.value)}


def _perpetual(c: _Cohorts) -> dict[str, np.ndarray]:
    """Licence fee at the sale; maintenance after the included first year (the base: always)."""
    paid = (c.origin == BASE) | (c.age >= 12)
    annual = c.value * c.table("maintenance")
    maintenance = annual / 12 * paid
    maintenance_billed = annual * (paid & (c.age % 12 == 0) & (c.age > 0))
    license = c.value * c.start
    return {"maintenance_revenue": maintenance, "license_revenue": license, "cmrr": maintenance,
            "billings": maintenance_billed + license, "recurring_billings": maintenance_billed,
            "upfront_commissions": _commission(c, license)}


def _term(c: _Cohorts) -> dict[str, np.ndarray]:
    """Licence part at each term start, support part ratably; billed per term or per year."""
    share = c.table("license_share")
    billed = c.value * (c.period / 12) * (c.age % c.period == 0)
    return {"term_revenue": c.value * (1.0 - share) / 12, "cmrr": c.value / 12,
            "license_revenue": c.value * share * (c.R / 12) * (c.age % c.R == 0),
            "billings": billed, "recurring_billings": billed,
            "upfront_commissions": _commission(c, c.value)}


def _commission(c: _Cohorts, first_year_value: np.ndarray) -> np.ndarray:
    """Upfront commission at a win, migration commission at a migration (``docs/engine.md`` §6-7)."""
    inp, out = c.engine.inp, np.zeros_like(first_year_value)
    cols = np.flatnonzero(c.start & (c.origin != BASE))
    rate = np.where(c.origin[cols] == MIGRATED, inp.migration_commission[:, None],
                    inp.commission_upfront[:, None])
    out[:, cols] = rate * first_year_value[:, cols]
    return out


def _amounts(c: _Cohorts, by_type) -> dict[str, np.ndarray]:
    """The per-cohort flows ``(n, m)`` of one offer type's cohorts; services are billed at the win."""
    amounts = {**by_type(c), **_common(c)}
    amounts["billings"] = amounts["billings"] + amounts["services_revenue"]
    return amounts


def _common(c: _Cohorts) -> dict[str, np.ndarray]:
    """Counts, seats, cost to serve and services (at a win only) of every offer type."""
    services = np.zeros_like(c.count)
    won = np.flatnonzero(c.start & (c.origin == NEW))
    services[:, won] = c.count[:, won] * c.scale[:, won] * c.table("services")[:, won]
    return {"customers": c.count, "seats": c.seats, "cost_to_serve": c.seats * c.table("cost"),
            "services_revenue": services, "services_cost": services * c.table("services_cost")}
