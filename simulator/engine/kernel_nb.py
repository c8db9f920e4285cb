"""The numba engine: customers one by one, each with its whole contract life at once.

Contract: ``docs/engine.md``. Kernels take only NumPy arrays, integers and floats (an
:class:`~simulator.engine.inputs.EngineInputs` named tuple of arrays); no Python objects, no I/O.
Paths run in parallel (``prange``); each path works on its own arrays and all its random numbers
come from its own seeds, so results do not depend on threads or chunks.

How a path is computed
----------------------
1. The funnel gives potential wins by source and month (Poisson leads, binomial stages).
2. Each customer (Monte Carlo) gets its segment, offer, channel and seats, then its *lifetime*:
   the month its contract ends, drawn once by inverting the cumulative renewal hazard with one
   uniform (exactly the law of independent renewal decisions, sBG and market factor included).
   In expected-value mode a cohort is split into sub-cohorts by the renewal at which they
   leave, each weighted by the survival probabilities: the same code with fractional weights.
3. A contract adds its count, seats and money to *difference arrays* by offer, by phase (its
   start month modulo the repricing period) and by month: +value at its start, -value at its
   end. Price increases and seat growth, which step every repricing period from the start, are
   applied when the arrays are summed up, phase by phase. A path therefore costs O(customers)
   plus O(offers x phases x months), never O(customers x months).

Record-level functions see only small per-path tables (copied from the inputs at the start of
a path): handing the shared input arrays to a function costs an atomic reference count that
both cores contend for.

Integer codes and flow rows are literals here, checked against ``inputs.py`` and ``layout.py``
by the tests: numba's cache does not see changes in other modules.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from simulator.engine.inputs import QUANTILE_GRID, EngineInputs
from simulator.engine.layout import FLOWS, EngineOutput

# offer types and billing codes (inputs.py)
SUB, PERP, TERM = 0, 1, 2
BILL_MONTHLY, BILL_YEARLY, BILL_TERM = 0, 1, 2
# flow rows (layout.FLOWS)
LEADS, NEW, CHURNED, MIGRATED, CUSTOMERS, SEATS, CMRR = 0, 1, 2, 3, 4, 5, 6
SUB_REV, MAINT_REV, TERM_REV, LICENSE_REV, SERVICES_REV = 7, 8, 9, 10, 11
BILLINGS, RECURRING_BILLINGS, OPENING_COLLECTIONS = 12, 13, 14
MARKETING, UPFRONT_COMMISSIONS, REFERRAL, COST_TO_SERVE, SERVICES_COST, MARKETPLACE = 15, 16, 17, 18, 19, 20
N_FLOWS = 21
# quantities accumulated by (class, phase, month); class O is the installed base
Q_COUNT, Q_SEATS, Q_AMOUNT, Q_REFERRAL, Q_MARKET = 0, 1, 2, 3, 4
N_Q = 5
KIND_NEW, KIND_BASE, KIND_MIGRATED = 0, 1, 2
# per-path offer table: floats (op) and integers (oi)
O_PRICE, O_MAINT, O_LICENSE, O_INC, O_GROWTH, O_COST, O_SERVICES, O_SERVICES_COST, O_WIN, O_RENEW = range(10)
O_SBG_A, O_SBG_B = 10, 11
N_OP = 12
OI_TYPE, OI_BILLING, OI_R, OI_P = 0, 1, 2, 3
N_OI = 4
# per-path scalars: floats (pp) and integers (pq)
P_F, P_MIG_RATE, P_MIG_FACTOR, P_MIG_COMMISSION, P_COMMISSION, P_BASE_RENEW, P_BASE_SBG_A, P_BASE_SBG_B = range(8)
P_CHURN_EXPOSURE = 8
N_PP = 9
S_MIG_OFFER, S_MIG_START, S_BASE_TENURE, S_BASE_OFFER = 0, 1, 2, 3
N_PQ = 4
BASE_ID = 1 << 62


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
    """Index drawn from weights summing to 1 by the uniform u (the last positive one on rounding)."""
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
def _funnel(inp, i, expected, market, flows, wins_star, p_last):
    """Leads, stages and potential wins by source and month (docs/engine.md §2)."""
    S, T = wins_star.shape
    e_leads, e_conv = inp.market[2], inp.market[3]
    F = inp.win_factor_max[i]
    for s in range(S):
        vol = _ar1_factor(inp.volatility[s, 0], inp.volatility[s, 1], T, expected)
        conversion = inp.conversion[i, s].copy()
        cost_per_lead, fixed_cost = inp.cost_per_lead[i, s], inp.source_fixed_cost[i, s]
        lag = inp.lag[s]
        K = inp.n_stages[s]
        for tau in range(-lag, T):
            if tau < 0:
                lam, m = inp.leads_warm[i, s], 1.0
            else:
                m = market[tau]
                lam = inp.leads_expected[i, s, tau] * vol[tau] * m ** e_leads
            leads = lam if expected else float(np.random.poisson(lam))
            if tau >= 0:
                flows[LEADS, tau] += leads
                flows[MARKETING, tau] += leads * cost_per_lead + fixed_cost
            m_conv = m ** e_conv
            n = leads
            for k in range(K - 1):
                p = min(1.0, conversion[k] * m_conv)
                n = n * p if expected else float(np.random.binomial(int(n), p))
            pk = min(1.0, conversion[K - 1] * m_conv)
            q = min(1.0, pk * F)
            t_win = tau + lag
            if t_win < T:
                wins_star[s, t_win] = n * q if expected else float(np.random.binomial(int(n), q))
                p_last[s, t_win] = pk


@njit(cache=True)
def _path_tables(inp, i):
    """Copy path i's offer and scalar parameters into small local tables."""
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


# ---------------------------------------------------------------------------------------------
# contracts: lifetimes and difference arrays
# ---------------------------------------------------------------------------------------------


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


@njit(cache=True, inline="always")
def _contract(acc, period, growth, c, t0, t_in, end, w, seats, amount, referral, market, paying_from,
              step_month, step_amount):
    """Add one contract (or sub-cohort of weight w) in force from t_in to end-1.

    ``amount`` counts from ``paying_from``; ``step_amount`` is added from ``step_month`` (the end
    of a migration's first-term discount). Values are stored divided by the growth of the
    periods already elapsed at the phase origin, so that summing a phase and multiplying by the
    growth at month t gives each contract's value at t.
    """
    T = acc.shape[3]
    if end <= t_in or t_in >= T:
        return
    P = period[c]
    phase = t0 % P
    j0 = (t0 - phase) // P
    seats_scale = growth[c, Q_SEATS] ** (-j0)
    amount_scale = w * amount * growth[c, Q_AMOUNT] ** (-j0)
    values = (w, w * seats * seats_scale, amount_scale, amount_scale * referral, amount_scale * market)
    for q in range(N_Q):
        x = values[q]
        start = t_in if q <= Q_SEATS else max(t_in, paying_from)
        if x != 0.0 and start < end and start < T:
            acc[c, q, phase, start] += x
            if end < T:
                acc[c, q, phase, end] -= x
    if step_amount != 0.0 and step_month < end and step_month < T:
        x = w * step_amount * growth[c, Q_AMOUNT] ** (-j0)
        acc[c, Q_AMOUNT, phase, step_month] += x
        if end < T:
            acc[c, Q_AMOUNT, phase, end] -= x


@njit(cache=True, inline="always")
def _hazard(op, pp, pq, o, base, k, multiplier, market, t):
    """Renewal hazard -log(p) of the k-th renewal at month t (docs/engine.md §4)."""
    if base:
        alpha, beta, p = pp[P_BASE_SBG_A], pp[P_BASE_SBG_B], pp[P_BASE_RENEW]
        k = k + pq[S_BASE_TENURE]
    else:
        alpha, beta, p = op[o, O_SBG_A], op[o, O_SBG_B], op[o, O_RENEW]
    if alpha > 0.0:
        p = (beta + k - 1.0) / (alpha + beta + k - 1.0)
    if p <= 0.0:
        return np.inf
    exposure = pp[P_CHURN_EXPOSURE]
    scale = multiplier * (market[t] ** exposure if exposure != 0.0 else 1.0)
    return -math.log(p) * scale


@njit(cache=True, inline="always")
def _end_month(op, oi, pp, pq, o, t0, multiplier, market, u):
    """Month a new contract of offer o started at t0 ends (T if in force at the horizon).

    One uniform inverts the cumulative hazard: the k-th renewal fails once the sum of hazards
    passes -log(u).
    """
    T = market.shape[0]
    R = oi[o, OI_R]
    budget = -math.log(u)
    if op[o, O_SBG_A] <= 0.0 and pp[P_CHURN_EXPOSURE] == 0.0:
        h = _hazard(op, pp, pq, o, False, 1, multiplier, market, 0)
        if h <= 0.0 or budget / h >= T:
            return T
        return min(T, t0 + (int(budget / h) + 1) * R)
    total = 0.0
    k = 1
    while t0 + k * R < T:
        total += _hazard(op, pp, pq, o, False, k, multiplier, market, t0 + k * R)
        if total > budget:
            return t0 + k * R
        k += 1
    return T


@njit(cache=True, inline="always")
def _one_off(flows, offer_rev, t, row, value, referral, market, o, billed):
    """A one-time revenue (licence or services), its billing and channel costs."""
    flows[row, t] += value
    if billed:
        flows[BILLINGS, t] += value
    flows[REFERRAL, t] += value * referral
    flows[MARKETPLACE, t] += value * market
    offer_rev[o, t] += value


@njit(cache=True, inline="always")
def _first_year_value(oi, o, amount):
    """Commission basis: a year of subscription, a year of term fee, or the licence fee."""
    return 12.0 * amount if oi[o, OI_TYPE] == SUB else amount


@njit(cache=True, inline="always")
def _start(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, o, t, w, seats, amount,
           referral, market, multiplier, factor, kind, u, expected):
    """A contract of offer o starting at month t: its life, its one-time flows, its count.

    ``amount`` is the full monthly (subscription), licence (perpetual) or yearly (term) value;
    ``factor`` discounts it until the first renewal (migrations). In Monte Carlo, ``u`` draws
    the end month; in expected-value mode the contract is split by the renewal it leaves at.
    """
    T = flows.shape[1]
    R = oi[o, OI_R]
    perpetual = oi[o, OI_TYPE] == PERP
    paying_from = t + 12 if perpetual else t
    first = amount * factor
    step = amount - first
    if perpetual:
        _one_off(flows, offer_rev, t, LICENSE_REV, w * first, referral, market, o, True)
    commission = pp[P_COMMISSION] if kind == KIND_NEW else pp[P_MIG_COMMISSION]
    flows[UPFRONT_COMMISSIONS, t] += w * commission * _first_year_value(oi, o, first)
    if expected:
        alive = w
        k = 1
        while t + k * R < T:
            end = t + k * R
            leaving = alive * -math.expm1(-_hazard(op, pp, pq, o, False, k, multiplier, market_factor, end))
            _contract(acc, period, growth, o, t, t, end, leaving, seats, first, referral, market, paying_from,
                      t + R, step)
            flows[CHURNED, end] += leaving
            alive -= leaving
            k += 1
        _contract(acc, period, growth, o, t, t, T, alive, seats, first, referral, market, paying_from, t + R, step)
    else:
        end = _end_month(op, oi, pp, pq, o, t, multiplier, market_factor, u)
        _contract(acc, period, growth, o, t, t, end, w, seats, first, referral, market, paying_from, t + R, step)
        if end < T:
            flows[CHURNED, end] += w


# ---------------------------------------------------------------------------------------------
# customers: new wins and the installed base
# ---------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _acceptance(op, pp, o, pk):
    """Probability that a potential win given offer o is won (docs/engine.md §2)."""
    q = min(1.0, pk * pp[P_F])
    return min(1.0, pk * op[o, O_WIN]) / q if q > 0.0 else 0.0


@njit(cache=True, inline="always")
def _win(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, t, o, w, seats, keep, referral,
         market, multiplier, u):
    """A new customer (w = 1, Monte Carlo) or expected cohort (u unused) taking offer o at t."""
    amount = keep * seats * _list_price(op, o, t)
    flows[NEW, t] += w
    _start(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, o, t, w, seats, amount, referral,
           market, multiplier, 1.0, KIND_NEW, u, u < 0.0)
    services = op[o, O_SERVICES] * keep
    if services > 0.0:
        _one_off(flows, offer_rev, t, SERVICES_REV, w * services, referral, market, o, True)
        flows[SERVICES_COST, t] += w * services * op[o, O_SERVICES_COST]


@njit(cache=True, inline="always")
def _list_price(op, o, t):
    return op[o, O_PRICE] * (1.0 + op[o, O_INC]) ** (t // 12)


@njit(cache=True)
def _wins_monte_carlo(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, segments, shares, mix,
                      channels, seat_table, grid, key, wins_star, p_last, t):
    """Potential wins of month t, one by one: segment, offer, acceptance, channel, seats, life."""
    S = wins_star.shape[0]
    for s in range(S):
        for j in range(int(wins_star[s, t])):
            cid = ((t * S + s) << 20) + j
            g = _pick(shares, customer_uniform(key, cid, 0))
            o = _pick(mix, customer_uniform(key, cid, 1))
            if customer_uniform(key, cid, 2) >= _acceptance(op, pp, o, p_last[s, t]):
                continue
            u = customer_uniform(key, cid, 3)
            keep, referral, market = segments[g, 0], 0.0, 0.0
            if u < channels[0]:
                keep *= 1.0 - channels[3]
            elif u < channels[0] + channels[1]:
                referral = channels[4]
            elif u < channels[0] + channels[1] + channels[2]:
                market = channels[5]
            seats = _quantile(seat_table, g, customer_uniform(key, cid, 4), grid[0], grid[1])
            _win(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, t, o, 1.0, seats, keep,
                 referral, market, segments[g, 1], customer_uniform(key, cid, 5))


@njit(cache=True)
def _wins_expected(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, segments, shares, mix,
                   channels, seat_mean, wins_star, p_last, t):
    """Expected wins of month t: one cohort per (offer, segment), channels at expected shares."""
    S, O, G = wins_star.shape[0], mix.shape[0], shares.shape[0]
    kept = 1.0 - channels[0] * channels[3]
    referral = channels[1] * channels[4] / kept if kept > 0.0 else 0.0
    market = channels[2] * channels[5] / kept if kept > 0.0 else 0.0
    for o in range(O):
        if mix[o] <= 0.0:
            continue
        won = 0.0
        for s in range(S):
            won += wins_star[s, t] * _acceptance(op, pp, o, p_last[s, t])
        for g in range(G):
            w = won * shares[g] * mix[o]
            if w > 0.0:
                _win(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, t, o, w, seat_mean[g],
                     segments[g, 0] * kept, referral, market, segments[g, 1], -1.0)


@njit(cache=True)
def _base_lapse_table(op, pp, pq, market_factor):
    """Probability that a base customer lapses at its j-th anniversary in the horizon.

    Returns
    -------
    ndarray(float64, (12, J))
        By anniversary month phi and anniversary j (month phi + 12 j).
    """
    T = market_factor.shape[0]
    J = T // 12 + 1
    table = np.zeros((12, J))
    for phi in range(12):
        for j in range(J):
            t = phi + 12 * j
            if t < T:
                table[phi, j] = -math.expm1(-_hazard(op, pp, pq, pq[S_BASE_OFFER], True, j + 1, 1.0, market_factor, t))
    return table


@njit(cache=True)
def _base_customer(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, lapse_table, phi, w,
                   seats, annual, key, cid, expected):
    """An installed-base customer (or expected cohort) with anniversary month phi (§6).

    At each anniversary: migrate (if the programme runs), else renew, else lapse.
    """
    T = flows.shape[1]
    base = oi.shape[0]
    target = pq[S_MIG_OFFER]
    alive = w
    t = phi
    j = 0
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
            _contract(acc, period, growth, base, phi - 12, 0, t, moved + lost, seats, seats * annual, 0.0, 0.0, 0,
                      T, 0.0)
            flows[CHURNED, t] += lost
        if moved > 0.0:
            flows[MIGRATED, t] += moved
            _start(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, target, t, moved, seats,
                   seats * _list_price(op, target, t), 0.0, 0.0, 1.0, pp[P_MIG_FACTOR], KIND_MIGRATED,
                   customer_uniform(key, cid, 1000), expected)
        alive -= moved + lost
        t += 12
        j += 1
    if alive > 0.0:
        _contract(acc, period, growth, base, phi - 12, 0, T, alive, seats, seats * annual, 0.0, 0.0, 0, T, 0.0)


@njit(cache=True)
def _installed_base(inp, i, op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, key, grid,
                    expected):
    """Installed-base customers at month 0 and their opening balances.

    Returns (opening deferred revenue, customers at the start).
    """
    G = inp.segment_share.shape[0]
    T = flows.shape[1]
    lag = inp.collection_lag
    annual = inp.base_maintenance[i]
    weights = inp.base_anniversary.copy()
    n = 12 if expected else int(math.floor(inp.base_customers[i] + 0.5))
    deferred, start = 0.0, 0.0
    lapse_table = _base_lapse_table(op, pp, pq, market_factor)
    for b in range(n):
        cid = BASE_ID + b
        if expected:
            phi, w, seats = b, inp.base_customers[i] * weights[b], inp.seat_mean[G]
            if w <= 0.0:
                continue
        else:
            phi, w = _pick(weights, customer_uniform(key, cid, 0)), 1.0
            seats = _quantile(inp.seat_table, G, customer_uniform(key, cid, 1), grid[0], grid[1])
        deferred += w * seats * annual * phi / 12.0
        start += w
        collected = phi - 12 + lag
        if 0 <= collected < T:
            flows[OPENING_COLLECTIONS, collected] += w * seats * annual
        _base_customer(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, lapse_table, phi, w,
                       seats, annual, key, cid, expected)
    return deferred, start


# ---------------------------------------------------------------------------------------------
# from difference arrays to monthly flows
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _close(op, oi, pq, acc, period, growth, flows, offer_cust, offer_rev):
    """Sum each class and phase over months; turn quantities into revenue, billings and CMRR."""
    C, _, _, T = acc.shape
    O = C - 1
    for c in range(C):
        o = c if c < O else pq[S_BASE_OFFER]
        if o < 0:
            continue
        kind = oi[o, OI_TYPE] if c < O else -1
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
        for phase in range(P):
            if not acc[c, Q_COUNT, phase].any():
                continue
            cum = np.zeros(N_Q)
            power = np.ones(N_Q)
            if phase > 0:
                for q in range(N_Q):
                    power[q] = 1.0 / growth[c, q]
            for t in range(T):
                anniversary = (t - phase) % 12 == 0
                renewal = (t - phase) % R == 0
                if t > 0 and (t - phase) % P == 0:
                    for q in range(N_Q):
                        power[q] *= growth[c, q]
                for q in range(N_Q):
                    cum[q] += acc[c, q, phase, t]
                count = cum[Q_COUNT] * power[Q_COUNT]
                seats = cum[Q_SEATS] * power[Q_SEATS]
                amount = cum[Q_AMOUNT] * power[Q_AMOUNT]
                referral = cum[Q_REFERRAL] * power[Q_REFERRAL]
                market = cum[Q_MARKET] * power[Q_MARKET]
                revenue = amount * monthly
                flows[CUSTOMERS, t] += count
                flows[SEATS, t] += seats
                flows[CMRR, t] += amount * cmrr_rate
                flows[COST_TO_SERVE, t] += seats * op[o, O_COST]
                flows[REFERRAL, t] += referral * monthly
                flows[MARKETPLACE, t] += market * monthly
                offer_cust[o, t] += count
                offer_rev[o, t] += revenue
                bill = 0.0
                if kind == SUB:
                    flows[SUB_REV, t] += revenue
                    if billing == BILL_MONTHLY:
                        bill = amount
                    elif billing == BILL_YEARLY and anniversary:
                        bill = 12.0 * amount
                    elif billing == BILL_TERM and renewal:
                        bill = R * amount
                elif kind == TERM:
                    flows[TERM_REV, t] += revenue
                    years = R // 12
                    if renewal:
                        licence = op[o, O_LICENSE] * years * amount
                        flows[LICENSE_REV, t] += licence
                        flows[REFERRAL, t] += op[o, O_LICENSE] * years * referral
                        flows[MARKETPLACE, t] += op[o, O_LICENSE] * years * market
                        offer_rev[o, t] += licence
                        if billing == BILL_TERM:
                            bill = years * amount
                    if billing == BILL_YEARLY and anniversary:
                        bill = amount
                else:
                    flows[MAINT_REV, t] += revenue
                    if anniversary:
                        bill = 12.0 * revenue
                flows[BILLINGS, t] += bill
                flows[RECURRING_BILLINGS, t] += bill


# ---------------------------------------------------------------------------------------------
# one path, all paths
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _simulate_path(inp, i, expected, seed, key, grid):
    """One path of one plan.

    Returns
    -------
    flows : ndarray(float64, (N_FLOWS, T))
    offer_cust, offer_rev : ndarray(float64, (O, T))
    opening_deferred, start_customers : float
    """
    T, O = inp.mix.shape
    S, G = inp.lag.shape[0], inp.segment_share.shape[0]
    flows = np.zeros((N_FLOWS, T))
    offer_cust = np.zeros((O, T))
    offer_rev = np.zeros((O, T))
    if not expected:
        np.random.seed(seed)
    market_factor = _ar1_factor(inp.market[0], inp.market[1], T, expected)
    wins_star = np.zeros((S, T))
    p_last = np.zeros((S, T))
    _funnel(inp, i, expected, market_factor, flows, wins_star, p_last)
    op, oi, pp, pq = _path_tables(inp, i)
    period, growth = _class_growth(op, oi, pq)
    acc = np.zeros((O + 1, N_Q, period.max(), T))
    segments = np.empty((G, 2))
    segments[:, 0] = inp.price_multiplier[i]
    segments[:, 1] = inp.churn_multiplier[i]
    shares = inp.segment_share.copy()
    channels = np.concatenate((inp.channel_share[i], inp.channel_rate[i]))
    deferred, start_customers = 0.0, 0.0
    if pq[S_BASE_OFFER] >= 0:
        deferred, start_customers = _installed_base(inp, i, op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor,
                                   key, grid, expected)
    seat_table = inp.seat_table.copy()
    seat_mean = inp.seat_mean.copy()
    mix = inp.mix.copy()
    for t in range(T):
        if expected:
            _wins_expected(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, segments, shares,
                           mix[t], channels, seat_mean, wins_star, p_last, t)
        else:
            _wins_monte_carlo(op, oi, pp, pq, acc, period, growth, flows, offer_rev, market_factor, segments, shares,
                              mix[t], channels, seat_table, grid, key, wins_star, p_last, t)
    _close(op, oi, pq, acc, period, growth, flows, offer_cust, offer_rev)
    return flows, offer_cust, offer_rev, deferred, start_customers


@njit(cache=True, parallel=True)
def _kernel(inp, expected, seeds, grid, flows, offer_cust, offer_rev, opening, start):
    for i in prange(seeds.shape[0]):
        f, oc, orv, deferred, customers = _simulate_path(inp, i, expected, seeds[i, 0], seeds[i, 1], grid)
        flows[i] = f
        offer_cust[i] = oc
        offer_rev[i] = orv
        opening[i] = deferred
        start[i] = customers


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
    flows = np.zeros((n, len(FLOWS), T))
    offer_cust = np.zeros((n, O, T))
    offer_rev = np.zeros((n, O, T))
    opening = np.zeros(n)
    start = np.zeros(n)
    grid = np.array([QUANTILE_GRID[0], QUANTILE_GRID[1] - QUANTILE_GRID[0]])
    _kernel(inp, bool(expected), np.ascontiguousarray(seeds, dtype=np.uint64), grid, flows, offer_cust, offer_rev,
            opening, start)
    return EngineOutput(flows, offer_cust, offer_rev, opening, start)
