"""The numba engine: customers one by one, each with its whole contract life at once.

Contract: ``docs/engine.md``. Kernels take only NumPy arrays, integers and floats (an
:class:`~simulator.engine.inputs.EngineInputs` named tuple of arrays); no Python objects, no I/O.
Paths run in parallel (``prange``); each path works on its own arrays and all its random numbers
come from its own seeds, so results do not depend on threads or chunks.

How a path is computed
----------------------
1. The funnel gives potential wins by source and month (Poisson leads, binomial stages), and
   the per-source rows (leads, marketing, stage counts).
2. Per-path tables are computed once (:class:`PathTables`): list prices by offer and year,
   ``-log`` of the renewal probability by offer and renewal, the market factor's churn scale
   by month, and the growth powers that normalise the difference arrays. The per-customer work
   then only reads tables (no ``pow``, one ``log`` per lifetime).
3. Each customer (Monte Carlo) gets its segment, offer, channel and seats, then its *lifetime*:
   the month its contract ends, drawn once by inverting the cumulative renewal hazard with one
   uniform (exactly the law of independent renewal decisions, sBG and market factor included).
   In expected-value mode a cohort is split into sub-cohorts by the renewal at which they
   leave, each weighted by the survival probabilities: the same code with fractional weights.
4. A contract adds its count, seats and money to *difference arrays* by class (offer), phase
   (its start month modulo the repricing period) and month: +value at its start, -value at its
   end; the quantities of one (class, phase, month) are contiguous, so a contract touches two
   cache lines. Price increases and seat growth, which step every repricing period from the
   start, are applied when the arrays are summed up, phase by phase. A path therefore costs
   O(customers) plus O(offers x phases x months), never O(customers x months).

Reference counts
----------------
numba increments and decrements (atomically) the reference count of an array each time a
function receives it, unless its optimiser can prove the pair useless. In the per-customer
loops that would cost more than the arithmetic, so the code keeps to these rules:

- per-customer helpers are *leaves*: ``inline="always"``, plain arrays as arguments (never the
  :class:`PathTables` tuple: reading a member counts a reference), and no call that hands
  arrays on. Leaves that write arrays, or loop over them, have one exit (no early ``return``
  or ``break``; with several exits the counts stayed in ``_end_month``), and ``_contract`` is
  branch-free. Check with ``_wins_monte_carlo.inspect_llvm()`` (with a fresh ``NUMBA_CACHE_DIR``):
  no ``NRT_incref`` inside the customer loop;
- per-path loops (``_wins_monte_carlo``, ``_installed_base``) unpack :class:`PathTables` once and
  compose the leaves; helpers that hand arrays on (``_life_expected``) serve expected-value
  mode only, where a path has a few hundred cohorts;
- a path's own tables are small and local; the shared inputs are read in place (the seat
  quantile table) or copied once per path, so threads never contend for a count inside
  a loop.

Integer codes and flow rows are literals here, checked against ``inputs.py`` and ``layout.py``
by the tests: numba's cache does not see changes in other modules.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from simulator.engine.inputs import QUANTILE_GRID, EngineInputs
from simulator.engine.layout import FLOWS, EngineOutput, source_row_count

# offer types and billing codes (inputs.py)
SUB, PERP, TERM = 0, 1, 2
BILL_MONTHLY, BILL_YEARLY, BILL_TERM = 0, 1, 2
# flow rows (layout.FLOWS)
LEADS, NEW, CHURNED, MIGRATED, CUSTOMERS, SEATS, CMRR = 0, 1, 2, 3, 4, 5, 6
SUB_REV, MAINT_REV, TERM_REV, LICENSE_REV, SERVICES_REV = 7, 8, 9, 10, 11
BILLINGS, RECURRING_BILLINGS, OPENING_COLLECTIONS = 12, 13, 14
MARKETING, UPFRONT_COMMISSIONS, REFERRAL = 15, 16, 17
COST_TO_SERVE, SERVICES_COST, MARKETPLACE = 18, 19, 20
N_FLOWS = 21
# per-source rows (layout.SOURCE_ROWS, layout.SOURCE_STAGE_ROW)
SRC_LEADS, SRC_MARKETING, SRC_WINS, SRC_STAGE = 0, 1, 2, 3
# quantities accumulated by (class, phase, month); class O is the installed base
Q_COUNT, Q_SEATS, Q_AMOUNT, Q_REFERRAL, Q_MARKET = 0, 1, 2, 3, 4
N_Q = 5
KIND_NEW, KIND_BASE, KIND_MIGRATED = 0, 1, 2
# per-path offer table: floats (op) and integers (oi)
O_PRICE, O_MAINT, O_LICENSE, O_INC, O_GROWTH, O_COST = 0, 1, 2, 3, 4, 5
O_SERVICES, O_SERVICES_COST, O_WIN, O_RENEW, O_SBG_A, O_SBG_B = 6, 7, 8, 9, 10, 11
N_OP = 12
OI_TYPE, OI_BILLING, OI_R, OI_P, OI_CONSTANT = 0, 1, 2, 3, 4
N_OI = 5
# per-path scalars: floats (pp) and integers (pq)
P_F, P_MIG_RATE, P_MIG_FACTOR, P_MIG_COMMISSION, P_COMMISSION = 0, 1, 2, 3, 4
P_BASE_RENEW, P_BASE_SBG_A, P_BASE_SBG_B, P_CHURN_EXPOSURE = 5, 6, 7, 8
N_PP = 9
S_MIG_OFFER, S_MIG_START, S_BASE_TENURE, S_BASE_OFFER = 0, 1, 2, 3
N_PQ = 4
BASE_ID = 1 << 62


class PathTables(NamedTuple):
    """One path's parameters, copied from the inputs or derived from them once per path.

    ``O`` offers, classes ``C = O + 1`` (class ``O`` is the installed base), ``T`` months. Every
    table holds exactly the numbers the per-customer code would otherwise compute (same
    expressions), so the results do not change.

    Attributes
    ----------
    op : ndarray(float64, (O, N_OP))
        Offer floats, columns ``O_*``.
    oi : ndarray(int64, (O, N_OI))
        Offer integers, columns ``OI_*``; ``OI_CONSTANT`` is 1 when the renewal hazard is the
        same at every renewal and month (no sBG, no market exposure): a lifetime needs no loop.
    pp : ndarray(float64, (N_PP,))
        Path floats, entries ``P_*``.
    pq : ndarray(int64, (N_PQ,))
        Path integers, entries ``S_*``.
    list_price : ndarray(float64, (O, T // 12 + 1))
        ``price (1 + increase)^year`` by offer and year.
    neglog : ndarray(float64, (O, T + 1))
        ``-log p_k`` of the k-th renewal (inf when ``p_k = 0``); columns ``1..max(1, (T-1)//R)``.
    churn_scale : ndarray(float64, (T,))
        ``M_t^e_churn`` (1 without a churn exposure).
    period : ndarray(int64, (C,))
        Repricing period ``P`` of each class.
    growth : ndarray(float64, (C, N_Q))
        Factor applied to each quantity every period.
    phase : ndarray(int64, (C, T + 12))
        ``t0 mod P`` of a contract started at ``t0``, column ``t0 + 12``.
    unscale : ndarray(float64, (C, 2, T + 12))
        Seats and amount growth to the power ``-(periods from month 0 to the phase origin)``,
        column ``t0 + 12``.
    """

    op: np.ndarray
    oi: np.ndarray
    pp: np.ndarray
    pq: np.ndarray
    list_price: np.ndarray
    neglog: np.ndarray
    churn_scale: np.ndarray
    period: np.ndarray
    growth: np.ndarray
    phase: np.ndarray
    unscale: np.ndarray


# ---------------------------------------------------------------------------------------------
# random numbers
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64 finaliser: a bijective scramble of 64 bits."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def customer_uniform(key, customer, draw):
    """Counter-based uniform in (0, 1) for draw ``draw`` of ``customer`` on the path with ``key``.

    The same (key, customer, draw) always gives the same number: a customer gets the same draws
    in every plan, whatever the thread or chunk.
    """
    z = _mix64(key ^ (np.uint64(customer) * np.uint64(0x9E3779B97F4A7C15)))
    z = _mix64(z + np.uint64(draw) * np.uint64(0xD1B54A32D192ED03) + np.uint64(0x632BE59BD9B4E019))
    return (float(z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _ar1_factor(sd, autocorrelation, T, expected):
    """Mean-1 lognormal AR(1) factor over T months; always draws T normals in Monte Carlo."""
    out = np.ones(T)
    if expected:
        return out
    sigma = math.sqrt(math.log1p(sd * sd))
    root = math.sqrt(1.0 - autocorrelation * autocorrelation)
    x = 0.0
    for t in range(T):
        e = np.random.standard_normal()
        x = sigma * e if t == 0 else autocorrelation * x + root * sigma * e
        out[t] = math.exp(x - 0.5 * sigma * sigma)
    return out


@njit(cache=True, inline="always")
def _quantile(table, row, u, grid_lo, grid_step):
    """Tabulated quantile function (linear in the logit of u)."""
    pos = (math.log(u) - math.log1p(-u) - grid_lo) / grid_step
    last = table.shape[1] - 1
    if pos <= 0.0:
        return table[row, 0]
    if pos >= last:
        return table[row, last]
    k = int(pos)
    f = pos - k
    return table[row, k] * (1.0 - f) + table[row, k + 1] * f


@njit(cache=True, inline="always")
def _pick(weights, u):
    """Index drawn from weights summing to 1 by the uniform u (on rounding: the last positive)."""
    acc = 0.0
    chosen = -1
    for k in range(weights.shape[0]):
        if weights[k] > 0.0:
            chosen = k
            acc += weights[k]
            if u < acc:
                return k
    return chosen


# ---------------------------------------------------------------------------------------------
# funnel
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _powers(x, exponent):
    """``x ** exponent`` element by element (all ones when the exponent is 0)."""
    out = np.ones(x.shape[0])
    if exponent != 0.0:
        for t in range(x.shape[0]):
            out[t] = x[t] ** exponent
    return out


@njit(cache=True)
def _funnel(inp, i, expected, market, flows, sources, wins_star, p_last):
    """Leads, stages and potential wins by source and month (docs/engine.md §2).

    ``sources`` (S, 3 + K - 1, T) receives each source's leads, marketing and stage counts at
    the lead month (``layout.SOURCE_ROWS``; the warm pipeline is converted but not counted);
    its wins row is filled later, with the customers.
    """
    S, T = wins_star.shape
    lead_factor = _powers(market, inp.market[2])
    conv_factor = _powers(market, inp.market[3])
    F = inp.win_factor_max[i]
    for s in range(S):
        vol = _ar1_factor(inp.volatility[s, 0], inp.volatility[s, 1], T, expected)
        conversion = inp.conversion[i, s].copy()
        cost_per_lead, fixed_cost = inp.cost_per_lead[i, s], inp.source_fixed_cost[i, s]
        lag = inp.lag[s]
        K = inp.n_stages[s]
        for tau in range(-lag, T):
            if tau < 0:
                lam, m_conv = inp.leads_warm[i, s], 1.0
            else:
                m_conv = conv_factor[tau]
                lam = inp.leads_expected[i, s, tau] * vol[tau] * lead_factor[tau]
            leads = lam if expected else float(np.random.poisson(lam))
            if tau >= 0:
                cost = leads * cost_per_lead + fixed_cost
                flows[LEADS, tau] += leads
                flows[MARKETING, tau] += cost
                sources[s, SRC_LEADS, tau] = leads
                sources[s, SRC_MARKETING, tau] = cost
            n = leads
            for k in range(K - 1):
                p = min(1.0, conversion[k] * m_conv)
                n = n * p if expected else float(np.random.binomial(int(n), p))
                if tau >= 0:
                    sources[s, SRC_STAGE + k, tau] = n
            pk = min(1.0, conversion[K - 1] * m_conv)
            q = min(1.0, pk * F)
            t_win = tau + lag
            if t_win < T:
                wins_star[s, t_win] = n * q if expected else float(np.random.binomial(int(n), q))
                p_last[s, t_win] = pk


# ---------------------------------------------------------------------------------------------
# per-path tables
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _offer_tables(inp, i):
    """Copy path i's offer and scalar parameters into small local tables (op, oi, pp, pq)."""
    O = inp.offer_type.shape[0]
    op = np.empty((O, N_OP))
    oi = np.empty((O, N_OI), dtype=np.int64)
    for o in range(O):
        op[o, O_PRICE] = inp.price[i, o]
        op[o, O_MAINT] = inp.maintenance_rate[i, o]
        op[o, O_LICENSE] = inp.license_share[i, o]
        op[o, O_INC] = inp.price_increase[i, o]
        op[o, O_GROWTH] = inp.seat_growth[i, o]
        op[o, O_COST] = inp.cost_per_seat[i, o]
        op[o, O_SERVICES] = inp.services[i, o]
        op[o, O_SERVICES_COST] = inp.services_cost_share[i, o]
        op[o, O_WIN] = inp.win_rate_factor[i, o]
        op[o, O_RENEW] = inp.renewal_prob[i, o]
        op[o, O_SBG_A] = inp.sbg[i, o, 0]
        op[o, O_SBG_B] = inp.sbg[i, o, 1]
        oi[o, OI_TYPE] = inp.offer_type[o]
        oi[o, OI_BILLING] = inp.billing[o]
        oi[o, OI_R] = inp.renewal_months[o]
        oi[o, OI_P] = max(inp.renewal_months[o], 12)
    pp = np.empty(N_PP)
    pp[P_F] = inp.win_factor_max[i]
    pp[P_MIG_RATE] = inp.migration_rate[i]
    pp[P_MIG_FACTOR] = inp.migration_price_factor[i]
    pp[P_MIG_COMMISSION] = inp.migration_commission[i]
    pp[P_COMMISSION] = inp.commission_upfront[i]
    pp[P_BASE_RENEW] = inp.base_renewal_prob[i]
    pp[P_BASE_SBG_A] = inp.base_sbg[i, 0]
    pp[P_BASE_SBG_B] = inp.base_sbg[i, 1]
    pp[P_CHURN_EXPOSURE] = inp.market[4]
    pq = np.empty(N_PQ, dtype=np.int64)
    pq[S_MIG_OFFER] = inp.migration_offer
    pq[S_MIG_START] = inp.migration_start
    pq[S_BASE_TENURE] = inp.base_tenure
    pq[S_BASE_OFFER] = inp.base_offer
    return op, oi, pp, pq


@njit(cache=True, inline="always")
def _neglog_renewal(alpha, beta, p, k):
    """-log of the k-th renewal probability (sBG when alpha > 0, else p); inf when it is 0."""
    if alpha > 0.0:
        p = (beta + k - 1.0) / (alpha + beta + k - 1.0)
    if p <= 0.0:
        return np.inf
    return -math.log(p)


@njit(cache=True, inline="always")
def _hazard(neglog, scale):
    """Renewal hazard ``-log(p) x scale`` (docs/engine.md §4); infinite when p = 0, at any scale."""
    if neglog == np.inf:
        return neglog
    return neglog * scale


@njit(cache=True)
def _class_growth(op, oi, pq):
    """Periods and per-period growth of each class's quantities; class O is the installed base.

    Returns
    -------
    period : ndarray(int64, (O+1,))
        Repricing period P in months.
    growth : ndarray(float64, (O+1, N_Q))
        Factor applied to each quantity every period.
    """
    O = oi.shape[0]
    period = np.empty(O + 1, dtype=np.int64)
    growth = np.ones((O + 1, N_Q))
    for c in range(O + 1):
        o = c if c < O else pq[S_BASE_OFFER]
        P = oi[o, OI_P] if c < O else 12
        period[c] = P
        seats = (1.0 + op[o, O_GROWTH]) ** (P / 12.0) if c < O and oi[o, OI_TYPE] == SUB else 1.0
        price = (1.0 + op[o, O_INC]) ** (P / 12.0) if o >= 0 else 1.0
        growth[c, Q_SEATS] = seats
        growth[c, Q_AMOUNT] = growth[c, Q_REFERRAL] = growth[c, Q_MARKET] = seats * price
    return period, growth


@njit(cache=True)
def _path_tables(inp, i, market):
    """:class:`PathTables` of path i (``market``: its market factor by month)."""
    op, oi, pp, pq = _offer_tables(inp, i)
    O, T = oi.shape[0], market.shape[0]
    list_price = np.empty((O, T // 12 + 1))
    neglog = np.zeros((O, T + 1))
    for o in range(O):
        for year in range(T // 12 + 1):
            list_price[o, year] = op[o, O_PRICE] * (1.0 + op[o, O_INC]) ** year
        alpha, beta, p = op[o, O_SBG_A], op[o, O_SBG_B], op[o, O_RENEW]
        oi[o, OI_CONSTANT] = alpha <= 0.0 and pp[P_CHURN_EXPOSURE] == 0.0
        for k in range(1, max(1, (T - 1) // oi[o, OI_R]) + 1):
            constant_p = alpha <= 0.0 and k > 1
            neglog[o, k] = neglog[o, 1] if constant_p else _neglog_renewal(alpha, beta, p, k)
    period, growth = _class_growth(op, oi, pq)
    phase = np.empty((O + 1, T + 12), dtype=np.int64)
    unscale = np.empty((O + 1, 2, T + 12))
    for c in range(O + 1):
        for t0 in range(-12, T):
            phase[c, t0 + 12] = t0 % period[c]
            j = (t0 - phase[c, t0 + 12]) // period[c]  # periods from month 0 to the phase origin
            unscale[c, 0, t0 + 12] = growth[c, Q_SEATS] ** (-j)
            unscale[c, 1, t0 + 12] = growth[c, Q_AMOUNT] ** (-j)
    churn_scale = _powers(market, pp[P_CHURN_EXPOSURE])
    return PathTables(op, oi, pp, pq, list_price, neglog, churn_scale, period, growth, phase,
                      unscale)


# ---------------------------------------------------------------------------------------------
# contracts: lifetimes and difference arrays (leaves: see "Reference counts" above)
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _contract(acc, phase_of, unscale, c, t0, t_in, end, w, seats, amount, referral, market,
              paying_from, step_month, step_amount):
    """Add a contract (or sub-cohort of weight w) of class c started at t0, in force t_in..end-1.

    ``amount`` counts from ``paying_from``; ``step_amount`` is added from ``step_month`` (the end
    of a migration's first-term discount). Values are stored divided by the growth of the
    periods elapsed before the phase origin (``unscale``), so that summing a phase and
    multiplying by the growth at month t gives each contract's value at t. Each value is added
    at its first month and taken off at its end. Branch-free: a value that does not apply is
    written as 0, and months past the horizon go to the spill column T, which is never read.
    """
    T = acc.shape[2] - 1
    phase = phase_of[c, t0 + 12]
    seats_scale, amount_scale = unscale[c, 0, t0 + 12], unscale[c, 1, t0 + 12]
    start = max(t_in, paying_from)
    live = 1.0 * (end > t_in) * (t_in < T)  # 1.0 or 0.0
    paid = live * (start < end) * (start < T)
    stepped = live * (step_month < end) * (step_month < T)
    count = w * live
    seats_value = w * seats * seats_scale * live
    value = w * amount * amount_scale * paid
    step = w * step_amount * amount_scale * stepped
    t_in, end, start, step_month = min(t_in, T), min(end, T), min(start, T), min(step_month, T)
    acc[c, phase, t_in, Q_COUNT] += count
    acc[c, phase, end, Q_COUNT] -= count
    acc[c, phase, t_in, Q_SEATS] += seats_value
    acc[c, phase, end, Q_SEATS] -= seats_value
    acc[c, phase, start, Q_AMOUNT] += value
    acc[c, phase, end, Q_AMOUNT] -= value
    acc[c, phase, start, Q_REFERRAL] += value * referral
    acc[c, phase, end, Q_REFERRAL] -= value * referral
    acc[c, phase, start, Q_MARKET] += value * market
    acc[c, phase, end, Q_MARKET] -= value * market
    acc[c, phase, step_month, Q_AMOUNT] += step
    acc[c, phase, end, Q_AMOUNT] -= step


@njit(cache=True, inline="always")
def _end_month(oi, neglog, churn_scale, o, t0, multiplier, u):
    """Month a new contract of offer o started at t0 ends (T if in force at the horizon).

    One uniform inverts the cumulative hazard: the k-th renewal fails once the sum of hazards
    passes -log(u). A constant hazard needs no loop. (One exit, no ``break``: numba then drops
    the reference counts of the arrays.)
    """
    T = churn_scale.shape[0]
    R = oi[o, OI_R]
    budget = -math.log(u)
    end = T
    if oi[o, OI_CONSTANT]:
        h = _hazard(neglog[o, 1], multiplier * 1.0)
        if h > 0.0 and budget / h < T:
            end = min(T, t0 + (int(budget / h) + 1) * R)
    else:
        total = 0.0
        k = 0
        t = t0
        while total <= budget and t + R < T:
            k += 1
            t += R
            total += _hazard(neglog[o, k], multiplier * churn_scale[t])
        if total > budget:
            end = t
    return end


@njit(cache=True, inline="always")
def _sale(op, oi, pp, flows, offer_rev, o, t, w, first, keep, referral, market, kind):
    """One-time flows of a contract of offer o starting at t (weight w).

    A new win counts as a new customer; a perpetual licence fee (``first``), and for new wins
    the services, are billed and recognised at once, with their channel costs; the upfront (or
    migration) commission is on the first-year value at the first-term price. (Amounts that do
    not apply are added as 0.)
    """
    new = 1.0 if kind == KIND_NEW else 0.0
    fee = w * first if oi[o, OI_TYPE] == PERP else 0.0
    commission = pp[P_COMMISSION] if kind == KIND_NEW else pp[P_MIG_COMMISSION]
    first_year = 12.0 * first if oi[o, OI_TYPE] == SUB else first
    services = op[o, O_SERVICES] * keep
    services = w * services if kind == KIND_NEW and services > 0.0 else 0.0
    flows[NEW, t] += w * new
    flows[LICENSE_REV, t] += fee
    flows[BILLINGS, t] += fee
    flows[REFERRAL, t] += fee * referral
    flows[MARKETPLACE, t] += fee * market
    offer_rev[o, t] += fee
    flows[UPFRONT_COMMISSIONS, t] += w * commission * first_year
    flows[SERVICES_REV, t] += services
    flows[BILLINGS, t] += services
    flows[REFERRAL, t] += services * referral
    flows[MARKETPLACE, t] += services * market
    offer_rev[o, t] += services
    flows[SERVICES_COST, t] += services * op[o, O_SERVICES_COST]


@njit(cache=True, inline="always")
def _paying_from(oi, o, t):
    """First month a contract of offer o started at t pays recurring money (perpetual: t + 12)."""
    return t + 12 if oi[o, OI_TYPE] == PERP else t


@njit(cache=True)
def _life_expected(oi, neglog, churn_scale, phase, unscale, acc, flows, o, t, w, seats, first, step,
                   referral, market, multiplier):
    """Expected-value contract life: the cohort split into sub-cohorts by the renewal they leave."""
    T = flows.shape[1]
    R = oi[o, OI_R]
    paying_from = _paying_from(oi, o, t)
    alive = w
    k = 1
    while t + k * R < T:
        end = t + k * R
        leaving = alive * -math.expm1(-_hazard(neglog[o, k], multiplier * churn_scale[end]))
        _contract(acc, phase, unscale, o, t, t, end, leaving, seats, first, referral, market,
                  paying_from, t + R, step)
        flows[CHURNED, end] += leaving
        alive -= leaving
        k += 1
    _contract(acc, phase, unscale, o, t, t, T, alive, seats, first, referral, market, paying_from,
              t + R, step)


# ---------------------------------------------------------------------------------------------
# customers: new wins and the installed base
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _acceptance(op, pp, o, pk):
    """Probability that a potential win given offer o is won (docs/engine.md §2)."""
    q = min(1.0, pk * pp[P_F])
    return min(1.0, pk * op[o, O_WIN]) / q if q > 0.0 else 0.0


@njit(cache=True, inline="always")
def _channel(channels, keep, u):
    """Revenue share kept, referral rate and marketplace rate of a customer's channel drawn by u."""
    if u < channels[0]:
        return keep * (1.0 - channels[3]), 0.0, 0.0
    if u < channels[0] + channels[1]:
        return keep, channels[4], 0.0
    if u < channels[0] + channels[1] + channels[2]:
        return keep, 0.0, channels[5]
    return keep, 0.0, 0.0


@njit(cache=True)
def _wins_monte_carlo(tb, acc, flows, sources, offer_rev, segments, shares, mix, channels,
                      seat_table, grid, key, wins_star, p_last):
    """Potential wins of each month one by one: segment, offer, acceptance, channel, seats, life."""
    op, oi, pp, list_price, neglog = tb.op, tb.oi, tb.pp, tb.list_price, tb.neglog
    churn_scale, phase, unscale = tb.churn_scale, tb.phase, tb.unscale
    S, T = wins_star.shape
    accept = np.empty(mix.shape[1])
    for t in range(T):
        weights = mix[t]
        for s in range(S):
            n = int(wins_star[s, t])
            if n == 0:
                continue
            for o in range(accept.shape[0]):
                accept[o] = _acceptance(op, pp, o, p_last[s, t])
            for j in range(n):
                cid = ((t * S + s) << 20) + j
                g = _pick(shares, customer_uniform(key, cid, 0))
                o = _pick(weights, customer_uniform(key, cid, 1))
                if customer_uniform(key, cid, 2) >= accept[o]:
                    continue
                sources[s, SRC_WINS, t] += 1.0
                u = customer_uniform(key, cid, 3)
                keep, referral, market = _channel(channels, segments[g, 0], u)
                seats = _quantile(seat_table, g, customer_uniform(key, cid, 4), grid[0], grid[1])
                amount = keep * seats * list_price[o, t // 12]
                _sale(op, oi, pp, flows, offer_rev, o, t, 1.0, amount, keep, referral, market,
                      KIND_NEW)
                u = customer_uniform(key, cid, 5)
                end = _end_month(oi, neglog, churn_scale, o, t, segments[g, 1], u)
                _contract(acc, phase, unscale, o, t, t, end, 1.0, seats, amount, referral, market,
                          _paying_from(oi, o, t), t + oi[o, OI_R], 0.0)
                if end < T:
                    flows[CHURNED, end] += 1.0


@njit(cache=True)
def _wins_expected(tb, acc, flows, sources, offer_rev, segments, shares, mix, channels, seat_mean,
                   wins_star, p_last):
    """Expected wins of every month: one cohort per (offer, segment), channels at expected shares.

    The wins row of ``sources`` gets each source's part of every cohort.
    """
    op, oi, pp, list_price, neglog = tb.op, tb.oi, tb.pp, tb.list_price, tb.neglog
    churn_scale, phase, unscale = tb.churn_scale, tb.phase, tb.unscale
    S, T = wins_star.shape
    O, G = mix.shape[1], shares.shape[0]
    kept = 1.0 - channels[0] * channels[3]
    referral = channels[1] * channels[4] / kept if kept > 0.0 else 0.0
    market = channels[2] * channels[5] / kept if kept > 0.0 else 0.0
    won = np.empty(S)
    for t in range(T):
        for o in range(O):
            if mix[t, o] <= 0.0:
                continue
            total = 0.0
            for s in range(S):
                won[s] = wins_star[s, t] * _acceptance(op, pp, o, p_last[s, t])
                total += won[s]
            for g in range(G):
                w = total * shares[g] * mix[t, o]
                if w <= 0.0:
                    continue
                for s in range(S):
                    sources[s, SRC_WINS, t] += won[s] * shares[g] * mix[t, o]
                keep = segments[g, 0] * kept
                amount = keep * seat_mean[g] * list_price[o, t // 12]
                _sale(op, oi, pp, flows, offer_rev, o, t, w, amount, keep, referral, market,
                      KIND_NEW)
                _life_expected(oi, neglog, churn_scale, phase, unscale, acc, flows, o, t, w,
                               seat_mean[g], amount, 0.0, referral, market, segments[g, 1])


@njit(cache=True)
def _base_lapse_table(pp, pq, churn_scale):
    """Probability that a base customer lapses at its j-th anniversary in the horizon.

    Returns
    -------
    ndarray(float64, (12, J))
        By anniversary month phi and anniversary j (month phi + 12 j).
    """
    T = churn_scale.shape[0]
    J = T // 12 + 1
    table = np.zeros((12, J))
    for phi in range(12):
        for j in range(J):
            t = phi + 12 * j
            if t < T:
                k = j + 1 + pq[S_BASE_TENURE]
                neglog = _neglog_renewal(pp[P_BASE_SBG_A], pp[P_BASE_SBG_B], pp[P_BASE_RENEW], k)
                table[phi, j] = -math.expm1(-_hazard(neglog, 1.0 * churn_scale[t]))
    return table


@njit(cache=True)
def _installed_base(inp, i, tb, acc, flows, offer_rev, seat_table, key, grid, expected):
    """Installed-base customers at month 0 and their opening balances (docs/engine.md §6).

    At each anniversary a customer (or expected cohort) migrates (if the programme runs), else
    renews, else lapses. Returns (opening deferred revenue, customers at the start).
    """
    op, oi, pp, pq, list_price, neglog = tb.op, tb.oi, tb.pp, tb.pq, tb.list_price, tb.neglog
    churn_scale, phase, unscale = tb.churn_scale, tb.phase, tb.unscale
    G = inp.segment_share.shape[0]
    T = flows.shape[1]
    lag = inp.collection_lag
    annual = inp.base_maintenance[i]
    weights = inp.base_anniversary.copy()
    base, target = oi.shape[0], pq[S_MIG_OFFER]
    n = 12 if expected else int(math.floor(inp.base_customers[i] + 0.5))
    deferred, start = 0.0, 0.0
    lapse_table = _base_lapse_table(pp, pq, churn_scale)
    for b in range(n):
        cid = BASE_ID + b
        if expected:
            phi, w, seats = b, inp.base_customers[i] * weights[b], inp.seat_mean[G]
            if w <= 0.0:
                continue
        else:
            phi, w = _pick(weights, customer_uniform(key, cid, 0)), 1.0
            seats = _quantile(seat_table, G, customer_uniform(key, cid, 1), grid[0], grid[1])
        deferred += w * seats * annual * phi / 12.0
        start += w
        collected = phi - 12 + lag
        if 0 <= collected < T:
            flows[OPENING_COLLECTIONS, collected] += w * seats * annual
        alive, t, j = w, phi, 0
        while t < T and alive > 0.0:
            rate = pp[P_MIG_RATE] if target >= 0 and t >= pq[S_MIG_START] else 0.0
            lapse = lapse_table[phi, j]
            if expected:
                moved, lost = alive * rate, alive * (1.0 - rate) * lapse
            else:
                u = customer_uniform(key, cid, 2 + j)
                moved = alive if u < rate else 0.0
                lost = alive if rate <= u < rate + (1.0 - rate) * lapse else 0.0
            if moved + lost > 0.0:
                _contract(acc, phase, unscale, base, phi - 12, 0, t, moved + lost, seats,
                          seats * annual, 0.0, 0.0, 0, T, 0.0)
                flows[CHURNED, t] += lost
            if moved > 0.0:  # a contract of the target offer, first term at the price factor
                flows[MIGRATED, t] += moved
                amount = seats * list_price[target, t // 12]
                first = amount * pp[P_MIG_FACTOR]
                _sale(op, oi, pp, flows, offer_rev, target, t, moved, first, 1.0, 0.0, 0.0,
                      KIND_MIGRATED)
                if expected:
                    _life_expected(oi, neglog, churn_scale, phase, unscale, acc, flows, target, t,
                                   moved, seats, first, amount - first, 0.0, 0.0, 1.0)
                else:
                    u = customer_uniform(key, cid, 1000)
                    end = _end_month(oi, neglog, churn_scale, target, t, 1.0, u)
                    _contract(acc, phase, unscale, target, t, t, end, moved, seats, first, 0.0, 0.0,
                              _paying_from(oi, target, t), t + oi[target, OI_R], amount - first)
                    if end < T:
                        flows[CHURNED, end] += moved
            alive -= moved + lost
            t += 12
            j += 1
        if alive > 0.0:
            _contract(acc, phase, unscale, base, phi - 12, 0, T, alive, seats, seats * annual, 0.0,
                      0.0, 0, T, 0.0)
    return deferred, start


# ---------------------------------------------------------------------------------------------
# from difference arrays to monthly flows
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _idle(acc, c, phase):
    """True when no contract of class c has this phase."""
    for t in range(acc.shape[2] - 1):
        if acc[c, phase, t, Q_COUNT] != 0.0:
            return False
    return True


@njit(cache=True)
def _close_phase(op, oi, period, growth, acc, c, o, phase, flows, offer_cust, offer_rev):
    """Sum one (class, phase) over months; turn its quantities into revenue, billings and CMRR."""
    T = acc.shape[2] - 1
    kind = oi[o, OI_TYPE] if c < oi.shape[0] else -1
    billing, R, P = oi[o, OI_BILLING], oi[o, OI_R], period[c]
    if kind == SUB:
        monthly = 1.0
    elif kind == PERP:
        monthly = op[o, O_MAINT] / 12.0
    elif kind == TERM:
        monthly = (1.0 - op[o, O_LICENSE]) / 12.0
    else:
        monthly = 1.0 / 12.0
    cmrr_rate = 1.0 / 12.0 if kind == TERM else monthly
    years = R // 12
    licence_share, cost = op[o, O_LICENSE], op[o, O_COST]
    seat_growth, amount_growth = growth[c, Q_SEATS], growth[c, Q_AMOUNT]
    seat_power = 1.0 / seat_growth if phase > 0 else 1.0
    amount_power = 1.0 / amount_growth if phase > 0 else 1.0
    count = seats_sum = amount_sum = referral_sum = market_sum = 0.0
    # months since the phase origin modulo 12, R and P: a contract year, a renewal, a repricing
    m12, mR, mP = (-phase) % 12, (-phase) % R, (-phase) % P
    for t in range(T):
        if t > 0 and mP == 0:
            seat_power *= seat_growth
            amount_power *= amount_growth
        count += acc[c, phase, t, Q_COUNT]
        seats_sum += acc[c, phase, t, Q_SEATS]
        amount_sum += acc[c, phase, t, Q_AMOUNT]
        referral_sum += acc[c, phase, t, Q_REFERRAL]
        market_sum += acc[c, phase, t, Q_MARKET]
        seats = seats_sum * seat_power
        amount = amount_sum * amount_power
        referral = referral_sum * amount_power
        market = market_sum * amount_power
        revenue = amount * monthly
        flows[CUSTOMERS, t] += count
        flows[SEATS, t] += seats
        flows[CMRR, t] += amount * cmrr_rate
        flows[COST_TO_SERVE, t] += seats * cost
        flows[REFERRAL, t] += referral * monthly
        flows[MARKETPLACE, t] += market * monthly
        offer_cust[o, t] += count
        offer_rev[o, t] += revenue
        bill = 0.0
        if kind == SUB:
            flows[SUB_REV, t] += revenue
            if billing == BILL_MONTHLY:
                bill = amount
            elif billing == BILL_YEARLY and m12 == 0:
                bill = 12.0 * amount
            elif billing == BILL_TERM and mR == 0:
                bill = R * amount
        elif kind == TERM:
            flows[TERM_REV, t] += revenue
            if mR == 0:
                licence = licence_share * years * amount
                flows[LICENSE_REV, t] += licence
                flows[REFERRAL, t] += licence_share * years * referral
                flows[MARKETPLACE, t] += licence_share * years * market
                offer_rev[o, t] += licence
                if billing == BILL_TERM:
                    bill = years * amount
            if billing == BILL_YEARLY and m12 == 0:
                bill = amount
        else:
            flows[MAINT_REV, t] += revenue
            if m12 == 0:
                bill = 12.0 * revenue
        flows[BILLINGS, t] += bill
        flows[RECURRING_BILLINGS, t] += bill
        m12 = m12 + 1 if m12 < 11 else 0
        mR = mR + 1 if mR < R - 1 else 0
        mP = mP + 1 if mP < P - 1 else 0


@njit(cache=True)
def _close(tb, acc, flows, offer_cust, offer_rev):
    """Every busy (class, phase) of the difference arrays into the monthly flows."""
    op, oi, period, growth = tb.op, tb.oi, tb.period, tb.growth
    C = acc.shape[0]
    for c in range(C):
        o = c if c < C - 1 else tb.pq[S_BASE_OFFER]
        if o < 0:
            continue
        for phase in range(period[c]):
            if not _idle(acc, c, phase):
                _close_phase(op, oi, period, growth, acc, c, o, phase, flows, offer_cust, offer_rev)


# ---------------------------------------------------------------------------------------------
# one path, all paths
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _simulate_path(inp, i, expected, seed, key, grid, flows, sources, offer_cust, offer_rev):
    """One path of one plan, into its rows of the outputs.

    Parameters
    ----------
    flows : ndarray(float64, (N_FLOWS, T))
    sources : ndarray(float64, (S, 3 + K - 1, T))
    offer_cust, offer_rev : ndarray(float64, (O, T))

    Returns
    -------
    opening_deferred, start_customers : float
    """
    T, O = inp.mix.shape
    S, G = inp.lag.shape[0], inp.segment_share.shape[0]
    if not expected:
        np.random.seed(seed)
    market_factor = _ar1_factor(inp.market[0], inp.market[1], T, expected)
    wins_star = np.zeros((S, T))
    p_last = np.zeros((S, T))
    _funnel(inp, i, expected, market_factor, flows, sources, wins_star, p_last)
    tb = _path_tables(inp, i, market_factor)
    acc = np.zeros((O + 1, tb.period.max(), T + 1, N_Q))  # month T: spill column of _contract
    segments = np.empty((G, 2))
    segments[:, 0] = inp.price_multiplier[i]
    segments[:, 1] = inp.churn_multiplier[i]
    shares = inp.segment_share.copy()
    channels = np.concatenate((inp.channel_share[i], inp.channel_rate[i]))
    mix = inp.mix.copy()
    deferred, start_customers = 0.0, 0.0
    if tb.pq[S_BASE_OFFER] >= 0:
        deferred, start_customers = _installed_base(inp, i, tb, acc, flows, offer_rev,
                                                    inp.seat_table, key, grid, expected)
    if expected:
        _wins_expected(tb, acc, flows, sources, offer_rev, segments, shares, mix, channels,
                       inp.seat_mean.copy(), wins_star, p_last)
    elif wins_star.any():
        _wins_monte_carlo(tb, acc, flows, sources, offer_rev, segments, shares, mix, channels,
                          inp.seat_table, grid, key, wins_star, p_last)
    _close(tb, acc, flows, offer_cust, offer_rev)
    return deferred, start_customers


@njit(cache=True, parallel=True)
def _kernel(inp, expected, seeds, grid, flows, sources, offer_cust, offer_rev, opening, start):
    for i in prange(seeds.shape[0]):
        opening[i], start[i] = _simulate_path(inp, i, expected, seeds[i, 0], seeds[i, 1], grid,
                                              flows[i], sources[i], offer_cust[i], offer_rev[i])


def run(inp: EngineInputs, expected: bool, seeds: np.ndarray) -> EngineOutput:
    """Simulate one plan for ``n`` paths.

    Parameters
    ----------
    inp : EngineInputs
        Arrays for ``n`` paths (``build_inputs``).
    expected : bool
        Expected-value mode (fractional cohorts, no random numbers).
    seeds : ndarray(uint64, (n, 2))
        Per path: the seed of the funnel and market draws (< 2**32), and the key of customer draws.

    Returns
    -------
    EngineOutput
    """
    n = seeds.shape[0]
    T, O = inp.mix.shape
    S, K = inp.conversion.shape[1], inp.conversion.shape[2]
    flows = np.zeros((n, len(FLOWS), T))
    sources = np.zeros((n, S, source_row_count(K), T))
    offer_cust = np.zeros((n, O, T))
    offer_rev = np.zeros((n, O, T))
    opening = np.zeros(n)
    start = np.zeros(n)
    grid = np.array([QUANTILE_GRID[0], QUANTILE_GRID[1] - QUANTILE_GRID[0]])
    seeds = np.ascontiguousarray(seeds, dtype=np.uint64)
    _kernel(inp, bool(expected), seeds, grid, flows, sources, offer_cust, offer_rev, opening, start)
    return EngineOutput(flows, offer_cust, offer_rev, opening, start, sources)
