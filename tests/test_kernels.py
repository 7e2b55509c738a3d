"""The compiled sub-model loops (valuecapture.model.kernels and the fused period step of
valuecapture.model.submodels.period, one part at a time) against plain numpy versions of
the same equations, with the random numbers the step computes (model/philox.py).

The kernels use their own exp/expm1 (pure arithmetic, see kernels.py), so they agree
with numpy to rounding, not bit for bit: each comparison allows a few ulp of the
result (relative 1e-13), far below any effect the model's parameters have.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from valuecapture.model import philox
from valuecapture.model.kernels import NO_SLOTS, exp, expm1, kernel
from valuecapture.model.philox import MECHANISMS
from valuecapture.model.state import ACTIVE, LOST, NOT_YET, Slots
from valuecapture.model.submodels.demand import DemandTerms
from valuecapture.model.submodels.economics import EconomicsArrays, EconomicsTerms
from valuecapture.model.submodels.period import Which, step_period
from valuecapture.model.submodels.relationship import RelationshipCoefficients
from valuecapture.model.submodels.retention import RetentionCoefficients
from valuecapture.model.submodels.stages import NO_STAGES


@kernel
def _exp_all(x, out):
    for i in range(x.size):
        out[i] = exp(x[i])


@kernel
def _expm1_all(x, out):
    for i in range(x.size):
        out[i] = expm1(x[i])


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_exp_is_within_one_ulp_of_numpy_over_its_range():
    x = np.concatenate([np.linspace(-708.0, 709.0, 400_001), np.random.default_rng(1).standard_normal(100_000) * 3])
    out = np.empty_like(x)
    _exp_all(x, out)
    assert _ulps(out, np.exp(x)).max() <= 1.0
    special = np.array([0.0, -0.0, 1.0, -1.0])
    _exp_all(special, out[:4])
    assert out[0] == 1.0 and out[1] == 1.0  # exact at 0
    assert out[2] == np.exp(1.0) or _ulps(out[2:3], np.exp(special[2:3]))[0] <= 1


def test_expm1_is_accurate_for_small_and_large_arguments():
    x = np.concatenate(
        [np.geomspace(1e-300, 1.0, 20_001), -np.geomspace(1e-300, 1.0, 20_001), np.linspace(-40.0, 40.0, 80_001)]
    )
    out = np.empty_like(x)
    _expm1_all(x, out)
    # relative to the result, also where exp(x) - 1 would have lost every digit
    assert _ulps(out, np.expm1(x)).max() <= 2.0
    _expm1_all(np.array([0.0]), out[:1])
    assert out[0] == 0.0


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-700.0, max_value=700.0, allow_nan=False))
def test_exp_matches_numpy_anywhere(x):
    out = np.empty(1)
    _exp_all(np.array([x]), out)
    assert _ulps(out, np.exp(np.array([x])))[0] <= 1.0


def _rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


B, N, W = 3, 1536, 1024  # batch, slots, filled slots of each replication
FILLED = np.full(B, W, dtype=np.int64)


def _status(rng: np.random.Generator) -> np.ndarray:
    s = np.where(rng.random((B, N)) < 0.75, ACTIVE, LOST).astype(np.int8)
    s[:, W - 100 :] = NOT_YET
    return s


PERIOD = 9
KEYS = np.arange(B * len(MECHANISMS) * 2, dtype=np.uint32).reshape(B, len(MECHANISMS), 2) * np.uint32(2654435761)


def _draws(mechanism: str, law: str) -> np.ndarray:
    """The numbers the period step draws for ``mechanism``: (B, W), from the scalar functions."""
    return philox.draws(np.ascontiguousarray(KEYS[:, MECHANISMS.index(mechanism)]), PERIOD, FILLED, W, law)


def _step(which: Which, slots: Slots, **given) -> dict[str, np.ndarray]:
    """Run :func:`step_period` for the parts ``which`` with neutral terms except ``given``;
    returns the per-replication outputs."""
    n_models = 2
    out = {
        "counts": np.zeros((B, n_models), dtype=np.int64),
        "ep_by_model": np.zeros((B, n_models)),
        "sums": np.zeros((B, 5)),
        "churned": np.zeros(B, dtype=np.int64),
        "active": np.zeros(B, dtype=np.int64),
    }
    no_rel = RelationshipCoefficients(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, False, 0.0, 0.0)
    no_ret = RetentionCoefficients(0.0, 0.0, 1.0, False, 0.0)
    step_period(
        which, given.get("filled", FILLED), slots, given.get("segment", np.zeros((B, N), dtype=np.int16)), PERIOD,
        KEYS, given.get("dk", DemandTerms(0.0, 0.0, 0.0, 0.0)), given.get("fresh_from", np.zeros(B, dtype=np.int64)),
        given.get("level", np.zeros((B, 1))), given.get("ek", EconomicsTerms(1.0, False, 0.0, 0.0, 1.0)),
        given.get("ea", EconomicsArrays(np.zeros((B, N)), NO_SLOTS, NO_SLOTS, NO_SLOTS)), given.get("rk", no_rel),
        given.get("tk", no_ret), given.get("misalignment", NO_SLOTS),
        given.get("indptr", np.zeros(B * N + 1, np.int64)),
        given.get("indices", np.zeros(0, np.int64)), out["counts"], out["ep_by_model"], out["sums"], out["churned"],
        out["active"], given.get("gk", NO_STAGES),
    )  # fmt: skip
    return out


def test_relationship_kernel_equals_the_documented_equations():
    rng = _rng()
    trust, adaptation, bq, ba = (rng.random((B, N)) for _ in range(4))
    sow, m = np.zeros((B, N)), rng.random((B, N))
    noise = _draws("relationship", "normal")
    par = dict(aq=0.2, qn=0.15, up=0.3, down=0.6, ar=0.25, a=-1.0, bt=2.5, ca=0.8, te=0.4, se=0.7)
    t0, a0 = trust.copy(), adaptation.copy()
    k = RelationshipCoefficients(
        adaptation_quality=par["aq"],
        quality_noise=par["qn"],
        trust_up=par["up"],
        trust_down=par["down"],
        adaptation_rate=par["ar"],
        sow_intercept=par["a"],
        sow_trust=par["bt"],
        sow_adaptation=par["ca"],
        aligned=True,
        trust_effect=par["te"],
        sow_effect=par["se"],
    )
    slots = Slots.zeros(
        (B, N), trust=trust, adaptation=adaptation, share_of_wallet=sow, bm_quality=bq, bm_adaptation=ba
    )
    _step(Which(False, False, True, False), slots, rk=k, misalignment=m)
    t0, a0, bq, ba, m = (x[:, :W] for x in (t0, a0, bq, ba, m))
    q = np.clip(bq + par["aq"] * a0 + par["qn"] * noise, 0.0, 1.0)
    gap = q - t0
    t1 = t0 + np.where(gap > 0, par["up"] * (1 - par["te"] * m), par["down"]) * gap
    a1 = a0 + par["ar"] * (ba - a0)
    s1 = 1.0 / (1.0 + np.exp(-(par["a"] + par["bt"] * t1 + par["ca"] * a1 - par["se"] * m)))
    np.testing.assert_allclose(trust[:, :W], t1, rtol=1e-13, atol=0)
    np.testing.assert_allclose(adaptation[:, :W], a1, rtol=1e-13, atol=0)
    np.testing.assert_allclose(sow[:, :W], s1, rtol=1e-13, atol=0)
    assert not sow[:, W:].any()  # beyond the prefix: untouched


def test_demand_kernel_steps_the_ar1_and_starts_new_customers_stationary():
    rng = _rng()
    idio, wallet, growth = rng.standard_normal((B, N)) * 0.1, rng.random((B, N)) * 100, rng.random((B, N)) * 0.05
    segment = rng.integers(0, 3, (B, N)).astype(np.int16)
    z, level = _draws("demand", "normal"), rng.standard_normal((B, 3)) * 0.1
    fresh_from = np.array([W, W - 50, 0], dtype=np.int64)
    phi, s_e, stat, years = 0.8, 0.12, 1.0 / np.sqrt(1 - 0.64), 2.5
    demand = np.zeros((B, N))
    i0 = idio.copy()
    slots = Slots.zeros((B, N), idio=idio, demand=demand, wallet_dt=wallet, log1p_growth=growth)
    _step(
        Which(True, False, False, False), slots, segment=segment, dk=DemandTerms(phi, s_e, stat, years),
        fresh_from=fresh_from, level=level,
    )  # fmt: skip
    fresh = np.arange(W)[None, :] >= fresh_from[:, None]
    x = np.where(fresh, s_e * stat * z, phi * i0[:, :W] + s_e * z)
    want = wallet[:, :W] * np.exp(
        np.take_along_axis(level, segment[:, :W].astype(np.intp), axis=1) + x + years * growth[:, :W]
    )
    np.testing.assert_array_equal(idio[:, :W], x)
    np.testing.assert_allclose(demand[:, :W], want, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(idio[:, W:], i0[:, W:])


def test_retention_kernel_churns_by_the_cloglog_hazard_and_spreads_contagion():
    rng = _rng()
    status = _status(rng)
    trust, contagion, m = rng.random((B, N)), rng.random((B, N)), rng.random((B, N))
    log_survival = -0.5 * rng.random((B, N))
    u = _draws("retention", "uniform")
    # a ring network inside each replication: node b*N + i is tied to b*N + (i +- 1) mod N
    nodes = np.arange(B * N)
    b_, i_ = np.divmod(nodes, N)
    src = np.concatenate([nodes, nodes])
    dst = np.concatenate([b_ * N + (i_ + 1) % N, b_ * N + (i_ - 1) % N])
    order = np.argsort(src, kind="stable")
    indices = dst[order].astype(np.int64)
    indptr = np.zeros(B * N + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=B * N), out=indptr[1:])
    hazard = np.zeros((B, N))
    s0, c0 = status.copy(), contagion.copy()
    te, lc, ce, decay = 0.9, np.log(1.5), 0.6, 0.7
    slots = Slots.zeros(
        (B, N), status=status, trust=trust, contagion=contagion, log_survival=log_survival, hazard=hazard
    )
    k = RetentionCoefficients(trust_effect=te, log_contagion=lc, contagion_decay=decay, aligned=True, churn_effect=ce)
    out = _step(Which(False, False, False, True), slots, tk=k, misalignment=m, indptr=indptr, indices=indices)
    eta = te * (trust[:, :W] - 0.5) + lc * c0[:, :W] + ce * m[:, :W]
    h = -np.expm1(log_survival[:, :W] * np.exp(eta))
    np.testing.assert_allclose(hazard[:, :W], h, rtol=1e-13, atol=0)
    churn = (s0[:, :W] == ACTIVE) & (u < hazard[:, :W])
    assert churn.any()
    np.testing.assert_array_equal(status[:, :W], np.where(churn, LOST, s0[:, :W]))
    np.testing.assert_array_equal(out["churned"], churn.sum(axis=1))
    np.testing.assert_array_equal(out["active"], (s0[:, :W] == ACTIVE).sum(axis=1) - churn.sum(axis=1))
    flat_churn = np.zeros(B * N)
    flat_churn[np.flatnonzero(np.pad(churn, ((0, 0), (0, N - W))))] = 1.0
    neighbours = np.roll(flat_churn.reshape(B, N), 1, axis=1) + np.roll(flat_churn.reshape(B, N), -1, axis=1)
    np.testing.assert_allclose(contagion, c0 * decay + neighbours, rtol=1e-15, atol=0)  # +1 +1 vs +2: rounding


def _economics_slots(rng: np.random.Generator, status: np.ndarray) -> tuple[Slots, list[np.ndarray], np.ndarray]:
    arrays = [rng.random((B, N)) for _ in range(10)]
    demand, sow, adaptation, trust, price, mb, ma, cb, ca, service = arrays
    ma *= -0.1
    bm = rng.integers(0, 2, (B, N)).astype(np.int16)
    slots = Slots.zeros(
        (B, N),
        status=status,
        demand=demand,
        share_of_wallet=sow,
        adaptation=adaptation,
        trust=trust,
        price=price,
        cost_to_serve=rng.random((B, N)) * 0.2,
        margin_base=mb,
        margin_adaptation=ma,
        capital_base=cb,
        capital_adaptation=ca,
        service=service,
        business_model=bm,
        value=rng.random((B, N)),
    )
    return slots, arrays, bm


def test_economics_kernel_sums_by_replication_and_business_model():
    rng = _rng()
    status = _status(rng)
    slots, arrays, bm = _economics_slots(rng, status)
    demand, sow, adaptation, trust, price, mb, ma, cb, ca, service = arrays
    treatment, level, internal = rng.random((B, N)), rng.random((B, N)), rng.random((B, N))
    v0, df, waste, cost, tax1 = slots.value.copy(), 0.9, 0.3, 0.05, 0.75
    ep_now = np.zeros((B, N))
    out = _step(
        Which(False, True, False, False), slots, ek=EconomicsTerms(df, True, waste, cost, tax1),
        ea=EconomicsArrays(ep_now, treatment, level, internal),
    )  # fmt: skip
    alive = status[:, :W] == ACTIVE
    c = lambda x: x[:, :W]  # noqa: E731
    vol = c(demand) * c(sow) * alive
    extra = c(service) * waste * np.maximum(c(treatment) - c(level), 0.0)
    extra = extra + tax1 * vol * c(price) * c(slots.cost_to_serve) * cost * c(internal)
    want_ep = ((c(mb) + c(ma) * c(adaptation)) * vol - c(service) - extra) * alive
    np.testing.assert_allclose(c(ep_now), want_ep, rtol=1e-13, atol=1e-15)
    assert not ep_now[:, W:].any()  # beyond the filled slots: untouched
    np.testing.assert_allclose(c(slots.revenue), vol * c(price), rtol=1e-13, atol=0)
    np.testing.assert_allclose(c(slots.value), c(v0) + want_ep * df, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(c(slots.periods_active), alive.astype(np.int32))
    for k in range(2):
        in_k = alive & (bm[:, :W] == k)
        np.testing.assert_array_equal(out["counts"][:, k], in_k.sum(axis=1))
        np.testing.assert_allclose(out["ep_by_model"][:, k], (want_ep * in_k).sum(axis=1), rtol=1e-12)
    capital = (c(cb) + c(ca) * c(adaptation)) * vol
    for j, want in enumerate([want_ep, capital, vol * c(price), c(trust) * alive, c(sow) * alive]):
        np.testing.assert_allclose(out["sums"][:, j], want.sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(slots.value[:, W:], v0[:, W:])


def test_the_period_step_reads_nothing_beyond_the_filled_slots():
    """Sums and outputs of a replication depend on its filled slots only: garbage beyond
    them (another replication's longer prefix in a batch) changes nothing, in any part."""
    rng = _rng()
    status = _status(rng)
    filled = np.array([512, 700, 1024], dtype=np.int64)
    results = []
    for junk in (0.0, 7.0):
        slots, _, _ = _economics_slots(np.random.default_rng(5), status.copy())
        for f in slots:
            for b, n in enumerate(filled):
                if f.dtype == np.int8:
                    f[b, n:] = ACTIVE if junk else NOT_YET
                else:
                    f[b, n:] = junk
        ep = np.zeros((B, N))
        out = _step(
            Which(True, True, True, True), slots, filled=filled, ea=EconomicsArrays(ep, NO_SLOTS, NO_SLOTS, NO_SLOTS)
        )
        results.append((out, ep, [np.where(np.arange(N) < filled[:, None], f, 0) for f in slots]))
    for k in results[0][0]:
        np.testing.assert_array_equal(results[0][0][k], results[1][0][k])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    for a, b in zip(results[0][2], results[1][2], strict=True):
        np.testing.assert_array_equal(a, b)


def test_network_adjacency_lists_hold_every_tie_once_per_direction_in_drawn_order():
    """Network.from_ties against a numpy construction: a stable sort of the directed
    ties (second end -> first, then first -> second) by target, per replication;
    self-ties dropped, a tie drawn twice listed twice."""
    from valuecapture.model.population import Network

    rng = _rng()
    n = 50
    first = [rng.integers(0, n, m) for m in (300, 0, 120)]
    second = [rng.integers(0, n, a.size) for a in first]
    net = Network.from_ties(first, second, n)
    src, dst = [], []
    for b, (i, j) in enumerate(zip(first, second, strict=True)):
        keep = i != j
        i, j = i[keep] + b * n, j[keep] + b * n
        src.append(np.concatenate([i, j]))
        dst.append(np.concatenate([j, i]))
    src, dst = np.concatenate(src), np.concatenate(dst)
    order = np.argsort(dst, kind="stable")
    np.testing.assert_array_equal(net.indices, src[order])
    np.testing.assert_array_equal(net.indptr, np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=3 * n))]))
    assert net.n_nodes == 3 * n and net.n_edges == src.size
    empty = Network.from_ties([], [], n)
    assert empty.n_nodes == 0 and empty.indices.size == 0


def test_segment_partners_pick_the_uniforms_slot_within_the_segment():
    """The compiled segment_clusters partner against the numpy expression it replaced."""
    from valuecapture.model.kernels import segment_partners

    rng = _rng()
    n, m, k = 400, 2000, 5
    segment = rng.integers(0, k, n)
    segment[segment == 3] = 2  # an empty segment
    i, u, anyone = rng.integers(0, n, m), rng.random(m), rng.integers(0, n, m)
    inside = rng.random(m) < 0.7
    u[:3] = [0.0, np.nextafter(1.0, 0.0), 0.5]
    order = np.argsort(segment, kind="stable")
    counts = np.bincount(segment, minlength=k)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    s = segment[i]
    same = order[starts[s] + np.minimum((u * counts[s]).astype(np.int64), counts[s] - 1)]
    np.testing.assert_array_equal(segment_partners(i, inside, u, anyone, segment, k), np.where(inside, same, anyone))


@given(
    st.sampled_from(["beta", "gamma", "norm", "uniform", "expon"]),
    st.floats(0.2, 5.0),
    st.floats(0.2, 5.0),
    st.floats(-2.0, 2.0),
    st.floats(0.1, 10.0),
)
@settings(max_examples=40, deadline=None)
def test_direct_draws_are_the_numbers_scipy_draws(name, a, b, loc, scale):
    """population._draw calls numpy's Generator directly for these families: the same
    numbers as scipy.stats' rvs from the same generator state, bit for bit."""
    from scipy import stats

    from valuecapture.model.population import _draw
    from valuecapture.scenario.distributions import Distribution

    shape = {"beta": {"a": a, "b": b}, "gamma": {"a": a}}.get(name, {})
    kw = dict(shape, loc=loc, scale=scale)
    want = getattr(stats, name).rvs(size=257, random_state=np.random.Generator(np.random.SFC64(5)), **kw)
    got = _draw(Distribution(name, tuple(sorted(kw.items()))), 257, np.random.Generator(np.random.SFC64(5)))
    np.testing.assert_array_equal(got, want)


@given(st.integers(0, 2**63 - 1), st.sampled_from([0, 1, 3, 1000, 8191, 8192, 20_000]))
@settings(max_examples=30, deadline=None)
def test_compiled_standard_normals_are_numpys_numbers(seed, n):
    """kernels.fill_standard_normal draws with numba's compiled Generator method from
    COMPILED_NORMALS_FROM numbers on, with numpy below: either way the numbers
    gen.standard_normal(out=...) draws, bit for bit, and the generator ends in the same
    state (a further draw agrees too).  Sizes on both sides of the threshold; 20,000
    normals exercise the ziggurat's wedge and tail branches."""
    from valuecapture.model.kernels import COMPILED_NORMALS_FROM, _standard_normals, fill_standard_normal

    assert 0 < COMPILED_NORMALS_FROM <= 20_000
    a, b, c = (np.random.Generator(np.random.SFC64(seed)) for _ in range(3))
    want, got, forced = np.empty(n), np.empty(n), np.empty(n)
    a.standard_normal(out=want)
    fill_standard_normal(b, got)
    _standard_normals(c, forced)  # the compiled loop whatever the size
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(forced, want)
    assert a.standard_normal() == b.standard_normal() == c.standard_normal()
