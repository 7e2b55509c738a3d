"""Write the teaching notebooks (``notebooks/*.ipynb``) from the cell sources below.

The notebooks are generated so that their text can be reviewed as plain Python and
so that they are committed without outputs.  Edit the cells here, then run::

    .venv/bin/python notebooks/make_notebooks.py

``tests/test_notebooks.py`` executes every notebook top to bottom and checks that
the committed files carry no outputs.  docs/teaching.md is the teacher's guide.
"""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parent

SETUP = '''\
%matplotlib inline
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

import valuecapture as vc
from valuecapture.report import plots

# the scenarios/ folder, whether Jupyter was started in notebooks/ or in the repository root
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "scenarios" / "classroom").is_dir())
CLASSROOM = ROOT / "scenarios" / "classroom"


def show(fig):
    """Draw a figure below the cell (and free its memory)."""
    display(fig)
    plt.close(fig)


def m(x):
    """Money in millions, e.g. 5.27m."""
    return f"{x / 1e6:,.2f}m"


def check(condition, statement):
    """Stop with an error if a statement made in the text does not hold for this run."""
    if not condition:
        raise AssertionError(f"the text says {statement!r}, but this run disagrees: time to update the text")
    print("holds:", statement)'''


def md(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_markdown_cell(text.strip("\n"))


def code(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_code_cell(text.strip("\n"))


# --------------------------------------------------------------------------------------
# Lesson 1
# --------------------------------------------------------------------------------------
LESSON1 = [
    md("""
# Lesson 1 — A first simulation: firm value is a distribution

A B2B firm earns its money in its customer relationships. What the firm is worth is
the sum of what it **captures** from them: the discounted *economic profit* of every
relationship, present and future — profit after taxes and after a charge for the
capital the relationship ties up (receivables, inventory, dedicated assets) —
minus the firm's fixed costs.

Nobody knows the future: which customers stay, how much they buy, whether their
industry booms. A **Monte Carlo simulation** plays the same firm forward many times,
each time with different random draws (customers, demand shocks, churn). Each run is
one possible future, a *replication*. The result is not one firm value but a
**distribution** of firm values.

**Learning goals.** After this lesson you can

1. explain what a replication is and why a simulation reports a distribution;
2. read a firm-value distribution: mean, median, percentiles, P(value < 0);
3. tell the *spread of outcomes* (standard deviation) from the *precision of the
   estimate* (Monte Carlo standard error), and say how each changes with more replications;
4. explain why the value of the "average customer" is not the average value
   (the flaw of averages).

Run the cells from top to bottom (Shift-Enter). Every simulation passes a `seed`:
with the same seed you get exactly the same numbers as your neighbour.
"""),
    code(SETUP),
    md("""
## 1. The firm

`scenarios/classroom/first_simulation.toml` describes a small supplier: 150
customers in two industries, one way of serving them (one *business model*), five
years in half-year periods. Customer sizes are very unequal (a log-normal
distribution: a few large accounts buy most), large customers negotiate lower prices,
and demand moves with the industry. A scenario is a text file; open it in an editor
to see every assumption with a comment.
"""),
    code("""
sc = vc.load_scenario(CLASSROOM / "first_simulation.toml")
print(sc.get("scenario.description"))
print("customers at the start:", sc.get("customers.count"))
print("years:", sc.get("horizon.periods") / sc.get("horizon.periods_per_year"))
print("fixed overhead per year:", m(sc.get("choices.fixed_cost")))
print("customer size (annual purchases):", sc.get("uncertainties.wallet"))
"""),
    md("""
## 2. Four hundred possible futures

`vc.simulate` runs the replications and returns an `xarray.Dataset`: one firm value
per replication, plus its parts and time series. Here are the first ten futures.
"""),
    code("""
ds = vc.simulate(sc, replications=400, seed=11)
print("firm value of the first ten futures:")
print(np.round(ds["firm_value"].values[:10] / 1e6, 2), "(millions)")
"""),
    md("""
The same firm, the same strategy, the same assumptions — and yet the value differs
a lot from one future to the next. Some futures are several times as valuable as
others. That is not an error of the simulation: it *is* the uncertainty the firm faces.

Note what a future contains. The scenario does not list the firm's customers; it
describes *what kind* of customers it has (distributions of size, price, cost to serve,
churn propensity). Each future draws its own 150 customers from those distributions,
then lets demand, trust, churn and new customers unfold. So the spread covers both
"which customers do we have" and "what happens to them".
"""),
    md("""
## 3. The distribution of firm value

The left panel is a histogram of the 400 firm values: the black line is the mean, the
shaded band holds the middle 90% (from the 5th to the 95th percentile), the red dashed
line is zero. The right panel is the *empirical cumulative distribution function*
(ECDF): for every value x, the share of futures in which the firm is worth at most x.
"""),
    code("""
show(plots.firm_value_figure(ds))
print(vc.summary_text(ds))
"""),
    md("""
**How to read it.**

* The **mean** is the value you would expect on average over many futures; the **median**
  (p50) is the value that half the futures exceed. Here the mean is above the median:
  the distribution is *skewed to the right*, pulled up by a few futures in which large
  customers grow and stay.
* **p5** and **p95** bound the middle 90% of futures. p5 is what a cautious banker asks
  about: "how bad is a bad future?" (it is the 5% *value at risk* level).
* **P(firm value < 0)** is the share of futures in which the customer base does not even
  earn back the fixed costs and the cost of capital: the firm *destroys* value.
* The last rows are about relationships: *value created* by the relationships that
  earn more than their cost of capital, *value destroyed* by those that do not. The
  Stobachoff peak is lesson 2.
"""),
    code("""
fv = ds["firm_value"].values
print(f"mean {m(fv.mean())}, median {m(np.median(fv))}")
print(f"middle 90% of futures: {m(np.percentile(fv, 5))} to {m(np.percentile(fv, 95))}")
print(f"the firm destroys value in {np.mean(fv < 0):.1%} of the futures")
worst = fv[fv <= np.percentile(fv, 5)]
print(f"in the worst 5% of futures the firm is worth {m(worst.mean())} on average (expected shortfall)")
"""),
    md("""
## 4. Why one number misleads

### 4a. The spread

"The firm is worth about 5 million" is true on average and hides everything a
decision-maker needs: the value can be two or three times that, and in a noticeable
share of futures it is negative. Two firms with the same mean can carry very
different risks (lesson 3 has an example).

### 4b. The average customer does not exist

A common shortcut is a spreadsheet with one "average customer": average size, average
price, average cost to serve, average churn, multiplied by the number of customers.
The scenario switch `heterogeneity.customer = false` does exactly that: every customer
gets the mean of each attribute. Same seed, so the same demand shocks and churn draws.
"""),
    code("""
avg = vc.simulate(sc.with_values({"heterogeneity.customer": False}), replications=400, seed=11)
fv_avg = avg["firm_value"].values

fig, ax = plt.subplots(figsize=(9, 4), constrained_layout=True)
bins = np.linspace(min(fv.min(), fv_avg.min()) / 1e6, max(fv.max(), fv_avg.max()) / 1e6, 50)
ax.hist(fv / 1e6, bins=bins, alpha=0.6, color="#4C72B0", label=f"real customers (mean {m(fv.mean())})")
ax.hist(fv_avg / 1e6, bins=bins, alpha=0.6, color="#DD8452", label=f"all customers average (mean {m(fv_avg.mean())})")
ax.axvline(0, color="black", lw=0.8, ls=":")
ax.set_xlabel("firm value (millions)")
ax.set_ylabel("futures")
ax.set_title("The same firm, valued with real customers and with average customers (seed 11)")
ax.legend(frameon=False)
show(fig)
print(f"average-customer firm: mean {m(fv_avg.mean())}, P(value < 0) = {np.mean(fv_avg < 0):.1%}")
print(f"real firm:             mean {m(fv.mean())}, P(value < 0) = {np.mean(fv < 0):.1%}")
"""),
    md("""
The average-customer firm looks far more valuable and almost never destroys value.
Why? Value is not a straight-line function of customer attributes:

* the **largest customers pay the lowest prices** (this scenario correlates size and
  price at −0.4), so most of the volume is sold below the average price — the
  average customer buys a medium volume at an average price, a combination that
  rarely occurs;
* a customer whose **cost to serve** exceeds its margin destroys value; with average
  customers nobody is unprofitable, so the value-destroying tail disappears;
* a few very large customers dominate: whether they stay decides much of the outcome.

This is the *flaw of averages*: the value of the average customer is not the average
value of the customers. Exercise 3 lets you take the size–price correlation out and see
how much of the gap it explains.
"""),
    md("""
### 4c. Spread of outcomes vs precision of the estimate

Two different numbers are both called "error":

* the **standard deviation (sd)** of firm value describes how different the futures
  are. It is a property of the firm and does not shrink with more replications;
* the **Monte Carlo standard error (MC s.e.)** = sd / √n describes how precisely n
  replications estimate the *mean*. It shrinks as you add replications.

Replication *r* always sees the same random numbers for a given seed, so the first 100
replications of a 400-replication run are exactly a 100-replication run. That lets us
watch both numbers grow with n from one run:
"""),
    code("""
rows = []
for n in (25, 50, 100, 200, 400):
    x = fv[:n]
    sd = x.std(ddof=1)
    rows.append({"replications": n, "mean (m)": x.mean() / 1e6, "sd (m)": sd / 1e6,
                 "MC s.e. (m)": sd / np.sqrt(n) / 1e6, "P(value < 0)": np.mean(x < 0)})
display(pd.DataFrame(rows).set_index("replications").round(3))

# the first 200 replications of this run are exactly a 200-replication run with the same seed
ds200 = vc.simulate(sc, replications=200, seed=11)
print("same numbers:", np.array_equal(ds200["firm_value"].values, fv[:200]))
"""),
    md("""
The MC s.e. falls roughly like 1/√n — quadrupling the replications about halves it —
though not smoothly, because the sd it is computed from moves too. The sd wanders but
does not shrink: with a skewed distribution, a single future with an exceptional
customer can move it. More replications buy a more precise mean and steadier
percentiles, not a less uncertain firm.

**Rule of thumb.** Report the mean with its MC s.e.; if two numbers differ by less than
about two MC standard errors, the difference may be noise of the simulation.
"""),
    md("""
## 5. Over time: a fan chart

Firm value sums up economic profit over time. The fan chart shows the firm's economic
profit per year in each period: the median (solid), the mean (dashed), the middle 50%
(dark band) and the middle 90% (light band) across futures.
"""),
    code("""
show(plots.fan_chart_figure(ds))
"""),
    md("""
**Reading the fan.** The band is wide from the first half-year: each future starts
with its own customers, and a few large ones make a big difference. It widens a little
further with time as customers grow, leave or are won and as industry demand drifts.
The middle line rises: customers grow, trust builds, new customers arrive. In the
worst futures economic profit stays close to zero or below: the customers barely earn
their cost of capital. These yearly economic profits, discounted, minus the fixed
overhead (which the chart does not include), plus a terminal value for the
relationships still alive after five years, make up the firm value.
"""),
    md("""
## 6. What this run shows, checked

The statements in the text above, checked against this run. If a change to the model
makes one of them false, this cell stops with an error, so the text gets updated.
"""),
    code("""
se = lambda x: x.std(ddof=1) / np.sqrt(x.size)
check(fv.mean() > np.median(fv), "the mean is above the median (skewed to the right)")
check(0.01 < np.mean(fv < 0) < 0.3, "in a noticeable share of futures the firm destroys value")
check(fv_avg.mean() > 1.3 * fv.mean(), "the average-customer firm looks far more valuable")
check(np.mean(fv_avg < 0) < np.mean(fv < 0) / 3, "the average-customer firm almost never destroys value")
check(se(fv[:400]) < se(fv[:25]) / 2, "400 replications estimate the mean much more precisely than 25")
"""),
    md("""
## 7. Try it: move the levers

The firm of this lesson with four levers: the yearly overhead (exercise 2), the
size–price correlation (exercise 3: 0 takes it out), the number of replications (section
4c: watch the MC s.e. shrink and the sd stay) and the seed (exercise 1: another set of
futures).

In Jupyter with ipywidgets installed (`pip install 'valuecapture[notebooks]'`) the levers
below are sliders and menus, and each change reruns the simulation on the same seed. Without
them (or in the executed copy in `docs/notebooks/`) the cell runs once at the values shown.
"""),
    code("""
from valuecapture.report.teaching import Choice, Slider, explore


def firm_value(fixed_cost, size_price, replications, seed):
    # Lesson 1's firm with another overhead, size-price correlation, number of futures or seed.
    variant = sc.with_values({
        "choices.fixed_cost": fixed_cost,
        "correlations": [{"between": ["wallet", "price"], "rho": size_price}] if size_price else [],
    })
    x = vc.simulate(variant, replications=replications, seed=seed)["firm_value"].values
    print(f"mean {m(x.mean())} ± {m(x.std(ddof=1) / np.sqrt(x.size))} (MC s.e.), sd {m(x.std(ddof=1))},"
          f" p5 {m(np.percentile(x, 5))}, P(value < 0) {np.mean(x < 0):.1%}")
    fig, ax = plt.subplots(figsize=(8, 3.4), constrained_layout=True)
    ax.hist(x / 1e6, bins=40, color="#4C72B0", alpha=0.8)
    ax.axvline(x.mean() / 1e6, color="black", lw=1.2, label=f"mean {m(x.mean())}")
    ax.axvline(0, color="#C44E52", lw=0.8, ls="--")
    ax.set_xlabel("firm value (millions)")
    ax.set_ylabel("futures")
    ax.set_title(f"fixed cost {m(fixed_cost)} a year, size-price correlation {size_price:+.1f},"
                 f" {replications} futures, seed {seed}", fontsize=10)
    ax.legend(frameon=False)
    show(fig)


explore(
    firm_value,
    fixed_cost=Slider(1_200_000, 600_000, 2_400_000, 100_000, "fixed cost a year"),
    size_price=Slider(-0.4, -0.8, 0.4, 0.1, "size-price correlation"),
    replications=Choice(200, [25, 100, 200, 400, 1600], "replications"),
    seed=Slider(11, 1, 40, 1, "seed"),
)
"""),
    md("""
## 8. Exercises

1. **Another seed.** Rerun section 2 with `seed=12`. Which numbers change? Are the
   changes in the mean larger than two MC standard errors?
2. **More overhead.** Raise the fixed cost to 1.5 million a year
   (`sc.with_values({"choices.fixed_cost": 1_500_000})`). How does P(value < 0) change?
   Compare the fall of the mean with five years of the extra 0.3 million: what do taxes
   (overhead is tax-deductible), discounting and the terminal value (overhead continues
   after year five in proportion to the surviving revenue) do to it?
3. **The flaw of averages.** Remove the size–price correlation
   (`sc.with_values({"correlations": []})`) and compare the real firm with the
   average-customer firm again. How much of the gap is left?
4. **Precision.** How many replications would you need for an MC s.e. of the mean of
   about 100k? (Use sd / √n with the sd from the table.)
5. **Discussion.** A bank offers a loan if the firm's value is above 2 million "with
   95% confidence". Which number from this lesson answers that?
"""),
    code("""
# Your experiments here. For example (exercise 2):
# sc_more = sc.with_values({"choices.fixed_cost": 1_500_000})
# ds_more = vc.simulate(sc_more, replications=400, seed=11)
# print(vc.summary_text(ds_more))
"""),
]


# --------------------------------------------------------------------------------------
# Lesson 2
# --------------------------------------------------------------------------------------
LESSON2 = [
    md("""
# Lesson 2 — Where does the spread come from? Three sources of heterogeneity

Customer portfolios differ from one another for three reasons (MODEL.md §2):

1. **The customer**: size of its wallet, the price it pays, its cost to serve, its growth,
   its propensity to leave.
2. **The relationship**: how much the customer trusts us, how much of its wallet we get,
   how much we have adapted to it, how long we have known it. Trust moves toward the
   quality the customer experiences — faster down than up.
3. **Interdependence between customers**: customers in one industry share demand
   shocks; when a customer leaves, its neighbours become likelier to leave (churn
   contagion); satisfied customers refer new ones.

**Learning goals.** After this lesson you can

1. name the three sources and give an example of each;
2. switch each source off in a scenario and compare the results on the same seed;
3. explain why some heterogeneity averages out in a portfolio and some does not
   (diversification);
4. read a Stobachoff curve: how much value the best customers create and how much the
   tail destroys.
"""),
    code(SETUP),
    md("""
## 1. The scenario and its switches

`scenarios/classroom/three_sources.toml` is a 200-customer firm in three industries
where all three sources are strong. Three switches turn them off:

| switch | when `false` |
|---|---|
| `heterogeneity.customer` | every customer gets the mean size, price, cost to serve, growth and churn propensity |
| `heterogeneity.relationship` | \
every relationship starts at the mean trust, adaptation and age; experienced quality has no noise |
| `heterogeneity.interdependence` | \
no network (no contagion), no referrals, demand shocks independent across customers (same variance) |

A switch changes nothing else, and the random numbers drawn stay the same: with the
same seed, the runs differ *only* by the source that was switched off.
"""),
    code("""
sc = vc.load_scenario(CLASSROOM / "three_sources.toml")
print(sc.get("scenario.description"))

SEED = 2024
configs = {
    "all three sources": (True, True, True),
    "customer only": (True, False, False),
    "relationship only": (False, True, False),
    "interdependence only": (False, False, True),
    "none": (False, False, False),
}
runs = {}
for label, (customer, relationship, interdependence) in configs.items():
    variant = sc.with_values({
        "heterogeneity.customer": customer,
        "heterogeneity.relationship": relationship,
        "heterogeneity.interdependence": interdependence,
    })
    runs[label] = vc.simulate(variant, replications=200, seed=SEED)
print(f"{len(runs)} runs of 200 replications, seed {SEED}")
"""),
    md("""
## 2. What each source does to firm value
"""),
    code("""
rows = []
for label, d in runs.items():
    x = d["firm_value"].values
    rows.append({
        "configuration": label,
        "mean (m)": x.mean() / 1e6,
        "sd (m)": x.std(ddof=1) / 1e6,
        "p5 (m)": np.percentile(x, 5) / 1e6,
        "p95 (m)": np.percentile(x, 95) / 1e6,
        "P(value<0)": np.mean(x < 0),
        "value destroyed (m)": float(d["value_destroyed"].mean()) / 1e6,
        "Stobachoff peak": float(d["stobachoff_peak"].median()),
    })
table = pd.DataFrame(rows).set_index("configuration")
display(table.round(2))
"""),
    code("""
def range_plot(runs, title):
    \"\"\"Per configuration: 5-95% range (thin), 25-75% (thick), median (white tick), mean (dot).\"\"\"
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(runs) + 1.2), constrained_layout=True)
    for y, (label, d) in enumerate(reversed(list(runs.items()))):
        x = d["firm_value"].values / 1e6
        p5, p25, p50, p75, p95 = np.percentile(x, [5, 25, 50, 75, 95])
        ax.plot([p5, p95], [y, y], color="#4C72B0", lw=2, solid_capstyle="butt")
        ax.plot([p25, p75], [y, y], color="#4C72B0", lw=10, solid_capstyle="butt")
        ax.plot([p50, p50], [y - 0.17, y + 0.17], color="white", lw=2)
        ax.plot(x.mean(), y, "o", color="#C44E52", ms=6)
    ax.set_yticks(range(len(runs)), list(reversed(list(runs))))
    ax.axvline(0, color="black", lw=0.8, ls=":")
    ax.set_xlabel("firm value (millions)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return fig


show(range_plot(runs, f"Firm value: 5-95% (thin), 25-75% (thick), median (white), mean (red); seed {SEED}"))
"""),
    md("""
**Interpretation.**

* **Customer heterogeneity** dominates the spread. With it, a few very large customers
  carry much of the value, and whether they grow, shrink or leave moves the whole firm:
  their risk does not average out. It also lowers the mean: large customers buy at
  lower prices, and some customers cost more to serve than they earn.
* **Interdependence** widens the spread even among identical customers: when demand
  shocks are shared within an industry, a bad year hits many customers at once, and a
  defection can pull neighbours along. Risk that is shared does not diversify away.
  Referrals add customers, which raises the mean.
* **Relationship heterogeneity** hardly changes the spread of *firm* value: each
  relationship's trust wanders independently, and over 200 relationships the ups and
  downs cancel out (diversification). It does lower the mean a little: because trust
  falls faster than it rises and low trust makes customers buy less and leave, a
  portfolio of relationships at different trust levels is worth less than one where
  every relationship sits at the average.
* The sources do not simply add up: interdependence widens the spread of a firm of
  identical customers several-fold, but adds little on top of customer heterogeneity.
"""),
    md("""
## 3. The Stobachoff curve

Sort the customers by the value they create, most valuable first, and plot the
cumulative value as a percentage of the firm's total relationship value (Storbacka
1997). If every relationship were profitable, the curve would rise to 100% and stop.
When some relationships destroy value, the curve rises **above** 100% — the best
customers create more than the total — and then falls back to 100% as the
value-destroying tail is added. The height of the peak measures how much value the
tail destroys.

`plots.stobachoff_figure` draws the median curve and its 5–95% band over the
replications that kept per-relationship detail (`relationship_value` in the Dataset).
"""),
    code("""
show(plots.stobachoff_figure(runs["all three sources"]))
"""),
    code("""
fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
for (label, d), colour in zip(runs.items(), plots.PALETTE):
    share, curves = plots.stobachoff_curves(d["relationship_value"].values)
    ax.plot(share * 100, np.nanmedian(curves, axis=0) * 100, color=colour, lw=2, label=label)
ax.axhline(100, color="grey", lw=0.8, ls="--")
ax.set_xlabel("customers, most valuable first (% of all relationships)")
ax.set_ylabel("cumulative value capture (% of total)")
ax.set_title(f"Median Stobachoff curves by source of heterogeneity (seed {SEED})")
ax.legend(frameon=False)
ax.grid(alpha=0.3)
show(fig)
"""),
    md("""
With customer heterogeneity the curve peaks well above 100%: the most valuable customers
create considerably more value than the firm keeps, and a long tail destroys the
difference. Without it (relationship only, interdependence only, none) the curve rises
smoothly to 100% and never goes above it: identical customers differ only in how long
they stay and when they were won, and almost none of them destroys value. \
Heterogeneity between customers is what makes *customer portfolio
management* matter — there is a tail worth doing something about.
"""),
    md("""
## 4. Who destroys value?

The Dataset keeps each relationship's value capture, wallet (size) and cost to serve for
the first replications (`outputs.relationship_detail`). Group the relationships of all
those replications by size and by cost to serve:
"""),
    code("""
d = runs["all three sources"]
value = d["relationship_value"].values.ravel()
ok = np.isfinite(value)
rel = pd.DataFrame({
    "value": value[ok],
    "wallet": d["wallet"].values.ravel()[ok],
    "cost_to_serve": d["cost_to_serve"].values.ravel()[ok],
})
rel["size fifth"] = pd.qcut(rel["wallet"], 5, labels=["smallest", "2", "3", "4", "largest"])
rel["cost-to-serve fifth"] = pd.qcut(rel["cost_to_serve"], 5, labels=["lowest", "2", "3", "4", "highest"])
for by in ("size fifth", "cost-to-serve fifth"):
    g = rel.groupby(by, observed=True)["value"]
    display(pd.DataFrame({
        "relationships": g.size(),
        "mean value (k)": (g.mean() / 1e3).round(1),
        "share destroying value": g.apply(lambda v: np.mean(v < 0)).round(2),
    }))
"""),
    md("""
Most of the smallest customers destroy value: their fixed service cost per customer
is larger than the margin they bring. Most customers with the highest cost to serve
destroy value whatever their size. But some large customers destroy value too — size
alone does not make a customer valuable. Lesson 3 asks what a firm can do about it:
serve different customers with different business models.
"""),
    md("""
## 5. What this run shows, checked

The statements above, checked against this run (the cell stops with an error if a change
to the model makes one of them false).
"""),
    code("""
sd, mean, peak = table["sd (m)"], table["mean (m)"], table["Stobachoff peak"]
check(sd["customer only"] > 2 * sd["interdependence only"], "customer heterogeneity dominates the spread")
check(mean["customer only"] < mean["none"], "customer heterogeneity lowers the mean")
check(sd["interdependence only"] > 2 * sd["none"], "interdependence widens the spread of a firm of identical customers")
check(mean["interdependence only"] > mean["none"], "referrals raise the mean")
check(abs(sd["relationship only"] / sd["none"] - 1) < 0.25,
      "relationship heterogeneity hardly changes the spread of firm value")
check(mean["relationship only"] < mean["none"], "relationship heterogeneity lowers the mean a little")
check(sd["all three sources"] < sd["customer only"] + 0.5 * sd["interdependence only"],
      "interdependence adds little on top of customer heterogeneity")
check(peak["all three sources"] > 1.2 and peak["none"] < 1.05,
      "only customer heterogeneity lifts the Stobachoff curve above 100%")
"""),
    md("""
## 6. Try it: move the levers

Switch each source of heterogeneity on or off and change how unequal the customers'
sizes are (the wallet's log-scale spread; the mean size stays the same, as in exercise 1),
and watch the spread of firm value and the Stobachoff curve.

In Jupyter with ipywidgets installed (`pip install 'valuecapture[notebooks]'`) the levers
below are sliders and menus, and each change reruns the simulation on the same seed. Without
them (or in the executed copy in `docs/notebooks/`) the cell runs once at the values shown.
"""),
    code("""
from valuecapture.report.teaching import Choice, Slider, explore

ON_OFF = {"on": True, "off": False}
wallet = dict(sc.get("uncertainties.wallet").params)
MEAN_SIZE = wallet["scale"] * np.exp(wallet["s"] ** 2 / 2)  # the mean of a lognormal


def sources(customer, relationship, interdependence, wallet_spread):
    # Lesson 2's firm with each source on or off and customers more or less unequal (same mean size).
    variant = sc.with_values({
        "heterogeneity.customer": customer,
        "heterogeneity.relationship": relationship,
        "heterogeneity.interdependence": interdependence,
        "uncertainties.wallet": {"dist": "lognorm", "s": wallet_spread,
                                 "scale": MEAN_SIZE / np.exp(wallet_spread ** 2 / 2)},
    })
    d = vc.simulate(variant, replications=200, seed=SEED)
    x = d["firm_value"].values
    print(f"mean {m(x.mean())}, sd {m(x.std(ddof=1))}, p5 {m(np.percentile(x, 5))}, P(value < 0) {np.mean(x < 0):.1%},"
          f" value destroyed {m(float(d['value_destroyed'].mean()))},"
          f" Stobachoff peak {float(d['stobachoff_peak'].median()):.2f}")
    show(plots.stobachoff_figure(d))


explore(
    sources,
    customer=Choice(True, ON_OFF, "customer heterogeneity"),
    relationship=Choice(True, ON_OFF, "relationship heterogeneity"),
    interdependence=Choice(True, ON_OFF, "interdependence"),
    wallet_spread=Slider(1.4, 0.4, 2.0, 0.1, "wallet spread (lognormal s)"),
)
"""),
    md("""
## 7. Exercises

1. **Less unequal customers.** Set the wallet's log-scale spread from 1.4 to 0.8, with a
   scale that keeps the mean customer size unchanged
   (`sc.with_values({"uncertainties.wallet": {"dist": "lognorm", "s": 0.8, "scale": 155000}})`).
   What happens to the Stobachoff peak, to the sd and to the mean of firm value?
2. **Diversification.** Multiply the customers by four (`"customers.count": 800`,
   `"acquisition.prospects_per_year": 60`) and compare the ratio sd/mean of the
   "relationship only" and "interdependence only" configurations with the 200-customer
   firm. Which kind of heterogeneity diversifies away in a larger portfolio?
3. **Which part of interdependence?** With all sources on, set
   `"contagion.multiplier": 1.0` (no contagion), or `"demand.rho_within": 0.0,
   "demand.rho_across": 0.0` (no shared demand shocks), or
   `"acquisition.referral_rate": 0.0`. Which part moves the mean, which the spread?
4. **Discussion.** A manager says: "our average customer is profitable, so every
   customer is". Use the Stobachoff curve to answer.
"""),
    code("""
# Your experiments here. For example (exercise 1):
# flatter = sc.with_values({"uncertainties.wallet": {"dist": "lognorm", "s": 0.8, "scale": 155000}})
# d1 = vc.simulate(flatter, replications=200, seed=SEED)
# show(plots.stobachoff_figure(d1))
"""),
]


# --------------------------------------------------------------------------------------
# Lesson 3
# --------------------------------------------------------------------------------------
LESSON3 = [
    md("""
# Lesson 3 — Business models and policies, compared under common random numbers

Lesson 2 showed that customers differ: some create much value, some destroy it. A firm
can answer by running **several business models in parallel** — for example a
key-account model for the largest customers, a standard model, and a lean
transactional channel for the smallest — and by **assigning** each relationship to one
of them. A *policy* is a rule for that assignment, applied at every relationship review.

Choosing between policies is a decision under uncertainty: each policy gives a
*distribution* of firm value. The fair way to compare two distributions from a
simulation is to run both policies on **the same futures** — the same customers, the
same demand shocks, the same churn draws. That is what *common random numbers* (CRN)
means.

**Learning goals.** After this lesson you can

1. describe a business model by its elements and say what a policy does;
2. compare policies with `compare` and read paired differences, their confidence
   intervals and P(A beats B);
3. explain why common random numbers make comparisons precise;
4. tell a difference in *mean* from a difference in *risk*.
"""),
    code(
        SETUP
        + """

from valuecapture.analysis.compare import compare, comparison_text, paired_differences
from valuecapture.model.policies import describe, registered_policies"""
    ),
    md("""
## 1. Three business models
"""),
    code("""
sc = vc.load_scenario(CLASSROOM / "business_models.toml")
print(sc.get("scenario.description"))
columns = ["name", "quality", "service_cost", "price_factor", "cost_to_serve_factor", "channel", "account_management",
           "fixed_cost"]
display(pd.DataFrame(sc.business_models)[columns].set_index("name"))
print("account managers:", sc.get("capabilities.account_managers"),
      "each for", sc.get("capabilities.accounts_per_manager"), "key accounts")
"""),
    md("""
* **standard**: field sales, medium service level.
* **key_account**: a dedicated account manager, an adapted offering and a higher
  service level, a 4% higher price, more capital tied up — and much more expensive to run
  per customer. Each key account needs an account manager, and the firm has two.
* **transactional**: an e-channel, no adaptation, a low service level and 5% lower
  prices, but cheap to serve.

A higher service level (quality) builds trust; trust raises the share of wallet the
customer gives us and lowers churn. A business model's elements must fit together
(internal fit), and running several models adds complexity cost.
"""),
    code("""
for name, cls in registered_policies().items():
    print(f"{name:10s} {describe(cls if isinstance(cls, type) else cls.load())}")
"""),
    md("""
## 2. Five policies on the same 200 futures
"""),
    code("""
SEED = 31
policies = ["single", "tiered", "matrix", "adaptive", "harvest"]
cmp = compare(sc, policies, replications=200, seed=SEED)
print(comparison_text(cmp))
"""),
    md("""
**Reading the table.**

* *Firm value by policy*: each policy's distribution, as in lesson 1.
* *Paired differences*: for each pair, the firm value under A minus that under B, future
  by future, with its mean, MC s.e., a 95% confidence interval and **P(A beats B)** — the
  share of futures in which A gives the higher value. A confidence interval that excludes
  zero means the simulation has settled which mean is higher; P(A beats B) says how
  often A is the better choice in a single future.
* *Ranking*: by mean, with a note where neighbours cannot be told apart at 95%.
* *Business-model mix*: where the customers are served at the end.
"""),
    code("""
show(plots.policy_distributions_figure(cmp))
show(plots.paired_differences_figure(cmp))
show(plots.model_shares_figure(cmp))
"""),
    md("""
**Interpretation.**

* **tiered** (key accounts for the top 10% by observed profit, standard for the next
  half, transactional for the rest) and **adaptive** (move loss-makers leaner and the best
  richer) beat serving everyone the same way (**single**): differentiation pays here.
* **matrix** (Shapiro et al.'s price × cost-to-serve quadrants) does worst. In this firm
  the large customers negotiate low prices and cost little to serve per unit of revenue,
  so the matrix calls them "bargain basement" and sends them to the lean channel, where
  they lose trust, buy less and leave. A classification that ignores size misleads.
* **harvest** (everyone in the lean channel, no investment in capabilities) is the
  surprise: its mean is close to tiered's — the difference is small next to the spread
  of either — but its distribution is *narrower*: a higher p5, a lower p95. It saves the
  cost of key accounts, account managers and customer insight, and gives up the upside
  of serving a growing large customer well. Whether that is better depends on the
  firm's attitude to risk — and on the horizon (exercise 1).
"""),
    md("""
## 3. Why common random numbers?

Each policy's mean has an MC s.e. of a few hundred thousand: the futures differ a lot.
If the two policies were run on *different* futures, the difference of their means
would carry both errors. On the *same* futures, most of the variation is shared —
a future with a big customer is good for both — and cancels in the difference.
"""),
    code("""
a = cmp["firm_value"].sel(policy="tiered").values
b = cmp["firm_value"].sel(policy="single").values
paired = a - b
n = paired.size
se_paired = paired.std(ddof=1) / np.sqrt(n)

# the same comparison with independent futures: single on another seed
b_other = vc.simulate(sc.with_values({"choices.policy": "single"}), replications=200,
                      seed=SEED + 1)["firm_value"].values
diff_independent = a.mean() - b_other.mean()
se_independent = np.sqrt(a.var(ddof=1) / n + b_other.var(ddof=1) / n)

print(f"tiered - single, same futures (CRN):  {m(paired.mean())} ± {m(1.96 * se_paired)} (95%)")
print(f"tiered - single, independent futures: {m(diff_independent)} ± {m(1.96 * se_independent)} (95%)")
print(f"CRN makes the confidence interval {se_independent / se_paired:.0f} times narrower;"
      f" independent runs would need about {(se_independent / se_paired) ** 2:.0f} times as many replications")
"""),
    code("""
h = cmp["firm_value"].sel(policy="harvest").values
fig, ax = plt.subplots(figsize=(6.2, 6), constrained_layout=True)
ax.scatter(h / 1e6, a / 1e6, s=14, alpha=0.6, color="#4C72B0")
lims = [min(h.min(), a.min()) / 1e6, max(h.max(), a.max()) / 1e6]
ax.plot(lims, lims, color="black", lw=0.8, ls="--")
ax.set_xlabel("firm value under harvest (millions)")
ax.set_ylabel("firm value under tiered (millions)")
ax.set_title(f"Each dot is one future, seen under both policies\\nabove the line: tiered wins"
             f" ({np.mean(a > h):.0%} of futures)", fontsize=10)
ax.grid(alpha=0.3)
show(fig)
"""),
    md("""
The dots lie along the diagonal: a good future is good under both policies. That shared
part is what CRN removes from the comparison. The dots also show the difference in
risk: in the futures with the highest value (top right), tiered is above the line — its
key accounts capture the upside of a growing large customer — while in the weakest
futures harvest tends to do better.

A last check of CRN: the same policy twice gives a difference of exactly zero in every
future.
"""),
    code("""
twice = compare(sc, ["tiered", "tiered"], replications=20, seed=SEED)
d = paired_differences(twice)[0]
print(d.a, "-", d.b, "mean difference:", d.mean, " share of futures with exactly equal value:", d.p_ties)
"""),
    md("""
## 4. What this run shows, checked
"""),
    code("""
fvp = {p: cmp["firm_value"].sel(policy=p).values for p in policies}
mean_of = {p: v.mean() for p, v in fvp.items()}
check(mean_of["tiered"] > mean_of["single"] and mean_of["adaptive"] > mean_of["single"],
      "tiered and adaptive beat single")
check(min(mean_of, key=mean_of.get) == "matrix", "matrix does worst")
check(abs(mean_of["harvest"] - mean_of["tiered"]) < 0.2 * fvp["tiered"].std(ddof=1),
      "harvest's mean is close to tiered's")
check(np.percentile(h, 5) > np.percentile(a, 5) and np.percentile(h, 95) < np.percentile(a, 95),
      "harvest has a narrower distribution")
check(se_independent > 4 * se_paired, "common random numbers make the comparison several times more precise")
"""),
    md("""
## 5. Try it: move the levers

Pick two policies and compare them on the same futures, over a shorter or longer horizon
(exercise 1), with more or fewer account managers (exercise 2) and more or less customer
insight (exercise 3). Each dot of the scatter is one future under both policies.

In Jupyter with ipywidgets installed (`pip install 'valuecapture[notebooks]'`) the levers
below are sliders and menus, and each change reruns the simulation on the same seed. Without
them (or in the executed copy in `docs/notebooks/`) the cell runs once at the values shown.
"""),
    code("""
from valuecapture.report.teaching import Choice, Slider, explore

PPY = sc.get("horizon.periods_per_year")


def two_policies(a, b, years, managers, insight):
    # Policy a against policy b on the same 100 futures of lesson 3's firm.
    variant = sc.with_values({"horizon.periods": years * PPY, "capabilities.account_managers": managers,
                              "capabilities.insight_level": insight})
    both = compare(variant, [a, b], replications=100, seed=SEED)
    fa = both["firm_value"].isel(policy=0).values
    fb = both["firm_value"].isel(policy=1).values
    d = paired_differences(both)[0]
    print(f"{a}: mean {m(fa.mean())}, p5 {m(np.percentile(fa, 5))};  {b}: mean {m(fb.mean())},"
          f" p5 {m(np.percentile(fb, 5))}")
    print(f"{a} - {b}: {m(d.mean)} [{m(d.ci_low)}, {m(d.ci_high)}] (95%), {a} better in {d.p_a_beats_b:.0%}"
          " of the same futures")
    fig, ax = plt.subplots(figsize=(5.2, 5), constrained_layout=True)
    ax.scatter(fb / 1e6, fa / 1e6, s=14, alpha=0.6, color="#4C72B0")
    lims = [min(fa.min(), fb.min()) / 1e6, max(fa.max(), fb.max()) / 1e6]
    ax.plot(lims, lims, color="black", lw=0.8, ls="--")
    ax.set_xlabel(f"firm value under {b} (millions)")
    ax.set_ylabel(f"firm value under {a} (millions)")
    ax.set_title(f"{years} years, {managers} account managers, insight {insight:g}; above the line: {a} wins",
                 fontsize=9)
    ax.grid(alpha=0.3)
    show(fig)


explore(
    two_policies,
    a=Choice("tiered", policies, "policy A"),
    b=Choice("harvest", policies, "policy B"),
    years=Choice(5, [3, 5, 10], "years"),
    managers=Slider(int(sc.get("capabilities.account_managers")), 0, 8, 1, "account managers"),
    insight=Slider(float(sc.get("capabilities.insight_level")), 0.0, 1.0, 0.25, "customer insight"),
)
"""),
    md("""
## 6. Exercises

1. **The horizon.** Extend the horizon to ten years (`"horizon.periods": 20`) and compare
   tiered with harvest again. What happens to harvest, and why does it look good over five
   years? (Trust in a lean channel erodes slowly.)
2. **Account managers.** With tiered, try 1, 2, 4 and 8 account managers
   (`"capabilities.account_managers"`). Where does the value stop rising, and why?
3. **Customer insight.** With tiered, compare `"capabilities.insight_level"` 0, 0.5
   and 1. How much is it worth to see each relationship's profit accurately and on time?
4. **Risk or return?** Which policy would you choose for a firm that must avoid a bad
   future at almost any cost? Use p5 and the scatter plot.
5. **Your own policy.** docs/policies.md shows how to write one (a small class with a
   `decide(view)` method). Write one that sends only loss-making relationships to the
   transactional model and compare it with tiered.
"""),
    code("""
# Your experiments here. For example (exercise 1):
# longer = sc.with_values({"horizon.periods": 20})
# print(comparison_text(compare(longer, ["tiered", "harvest"], replications=200, seed=SEED)))
"""),
]


# --------------------------------------------------------------------------------------
# Lesson 4
# --------------------------------------------------------------------------------------
LESSON4 = [
    md("""
# Lesson 4 — Two-sided portfolios: alignment and interaction spaces

So far the firm classified its customers and served them accordingly. But the customer
classifies its suppliers too. In Kraljic's (1983) purchasing portfolio a buyer sees a
supplier as **strategic** (important purchase, hard to replace), **leverage**
(important, easy to replace), **bottleneck** (minor, hard to replace) or **routine**
(minor, easy to replace), and expects to be treated accordingly. Clarke, Freytag &
Zolkiewski (2017) argue that a portfolio is a two-sided matter: the firm's view and the
customer's view can be **aligned** or **misaligned**, and **interaction spaces** —
account reviews, joint planning, executive meetings — are where the two sides talk,
align their views, build trust and make differentiated treatment *legitimate*.

In valuecapture (`alignment.enabled = true`; docs/alignment.md) misalignment is the
distance between the treatment the firm gives and the treatment the customer expects.
Misaligned relationships build trust slowly, buy less and leave sooner; over-served ones
waste service cost. Every one of these effects is an *assumption* (the paper is
conceptual): treat the numbers as a way to think, and sweep them.

**Learning goals.** After this lesson you can

1. explain alignment and misalignment between the supplier's and the customer's views;
2. read the alignment figure, a portfolio matrix and a class-transition matrix;
3. weigh what interaction spaces cost against what they bring, on the same futures;
4. discuss why a policy that listens to customers is not automatically better.
"""),
    code(
        SETUP
        + """

from valuecapture.analysis.compare import compare, comparison_text"""
    ),
    md("""
## 1. The firm, with and without interaction spaces

`scenarios/classroom/alignment.toml` is the three-business-model firm of lesson 3 under
the tiered policy, with alignment effects and two interaction spaces: half-yearly
account reviews with every key account, and a yearly joint-planning workshop (40 seats)
for standard and key accounts. Taking the spaces away is one line:
`sc.with_values({"interactions": []})`. Same seed: same futures.
"""),
    code("""
sc = vc.load_scenario(CLASSROOM / "alignment.toml")
print(sc.get("scenario.description"))
for space in sc.get("interactions"):
    print(f"  {space['name']}: every {space['cadence']} period(s), {space['cost_per_contact']:,.0f} per contact,"
          f" for {', '.join(space['models'])}; P(align per contact) {space['p_align']}")

SEED = 47
with_spaces = vc.simulate(sc, replications=150, seed=SEED)
without = vc.simulate(sc.with_values({"interactions": []}), replications=150, seed=SEED)
"""),
    md("""
## 2. Alignment over time

`plots.alignment_figure` shows the share of aligned relationships (misalignment below
`alignment.aligned_below`) and the mean misalignment per period: the median over the
futures and the 5–95% band.
"""),
    code("""
show(plots.alignment_figure(with_spaces))
"""),
    code("""
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
t = with_spaces["year"].values
for d, label, colour in ((with_spaces, "with interaction spaces", "#55A868"), (without, "without", "#C44E52")):
    ax1.plot(t, d["aligned_share"].median("replication"), color=colour, lw=2, label=label)
    ax2.plot(t, d["mean_trust"].median("replication"), color=colour, lw=2, label=label)
ax1.set_ylabel("share of aligned relationships (median)")
ax2.set_ylabel("mean trust (median)")
for ax in (ax1, ax2):
    ax.set_xlabel("year")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
fig.suptitle(f"The same 150 futures with and without interaction spaces (seed {SEED})", fontsize=10)
show(fig)
"""),
    md("""
**Reading it.** The aligned share moves in a saw-tooth. At each yearly review the tiered
policy moves customers between business models, and many of them are now treated
differently from what they expect: alignment drops. Between reviews it recovers. With
interaction spaces the recovery is stronger — each contact may pull the customer's view
toward the treatment it gets — so the gap between the two lines grows over the years.
Without them it recovers a little too, mostly because misaligned customers are the
likeliest to leave. Trust falls in both cases, because a third of the customers end up in
the lean transactional channel, but it falls less with interaction spaces: contacts add a
little trust, and downgrades explained in a meeting cost less trust.

Is it worth it? The spaces cost money every period. Compare firm value future by future:
"""),
    code("""
fv_with = with_spaces["firm_value"].values
fv_without = without["firm_value"].values
diff = fv_with - fv_without
cost = with_spaces["interaction_cost"].sum("period").mean().item()
print(f"interaction spaces cost {m(cost)} over the five years (undiscounted, before tax)")
print(f"firm value with spaces minus without: {m(diff.mean())} ± {m(1.96 * diff.std(ddof=1) / np.sqrt(diff.size))}"
      f" (95%), better in {np.mean(diff > 0):.0%} of the futures")
print(f"aligned share in the last period: {float(with_spaces['aligned_share'].isel(period=-1).mean()):.2f} with,"
      f" {float(without['aligned_share'].isel(period=-1).mean()):.2f} without")
"""),
    md("""
## 3. The firm's portfolio: the Shapiro matrix

`plots.portfolio_matrix_figure` places each relationship of one future in Shapiro et
al.'s (1987) matrix: net price against cost to serve. *Carriage trade* pays well and costs
a lot, *passive* pays well and costs little, *aggressive* customers push prices down and
demand service, *bargain basement* pays little and costs little. Colour: the business
model serving the relationship at the end; dot area: the size of its value; hollow dots
destroy value.
"""),
    code("""
show(plots.portfolio_matrix_figure(with_spaces, replication=0))
"""),
    md("""
The large dots — the relationships that carry the firm — are mostly key accounts, with a
low cost to serve and prices on both sides of the median. The hollow dots, which destroy
value, crowd the top of the figure: a high cost to serve, whatever the price. Each
quadrant holds both kinds, so the quadrant alone does not tell who creates value (lesson
3's *matrix* policy learned this the hard way).

## 4. How customers move between classes

With `portfolio.track = true` the simulation records each relationship's class every
year under several portfolio models and counts year-to-year transitions. Rows are the
class at the end of a year, columns the class a year later; each row sums to 1.
`krapfel` is the firm's view (Krapfel, Salmond & Spekman 1991: relationship value ×
interest commonality); `kraljic` is the *customer's* view of us.
"""),
    code("""
show(plots.transition_figure(with_spaces, "krapfel"))
show(plots.transition_figure(with_spaces, "kraljic"))
"""),
    md("""
**Reading it.** The diagonal holds the relationships that stay in their class. In the
firm's Krapfel view, partners (valuable, with shared interests) mostly stay partners, and
many rivals — valuable relationships whose trust is still low — become partners within
a year as trust builds. The customer's Kraljic view moves only along one axis: strategic
↔ leverage and bottleneck ↔ routine. The importance of the purchase depends on how much
the customer buys and does not change; what moves is the supply risk the customer
perceives — slowly, which is why aligning takes repeated contacts.

## 5. A policy that listens

The built-in `portfolio` policy serves each relationship by its class in a portfolio
model (Krapfel by default) and, where an interaction space told it the customer's view,
moves the treatment halfway toward what the customer expects. Compare it with tiered
and adaptive on the same futures:
"""),
    code("""
cmp = compare(sc, ["tiered", "portfolio", "adaptive"], replications=150, seed=SEED)
print(comparison_text(cmp))
"""),
    md("""
**Interpretation.** Listening to customers is not free value. The portfolio policy
classifies by relationship value and trust rather than by observed profit alone, keeps
many more customers in the richer models (see the business-model mix) and pays for it in
service cost; and it can listen only to the customers it met in an interaction space. \
In this firm it does not beat the tiered policy. Alignment is a means, not an end:
it pays where misalignment is costly and where the treatment it leads to is affordable.
"""),
    md("""
## 6. What this run shows, checked
"""),
    code("""
aligned_end = lambda d: float(d["aligned_share"].isel(period=-1).mean())
trust_end = lambda d: float(d["mean_trust"].isel(period=-1).mean())
check(diff.mean() > 0, "the interaction spaces pay for themselves in this firm")
check(aligned_end(with_spaces) > aligned_end(without), "more relationships are aligned with interaction spaces")
check(trust_end(with_spaces) > trust_end(without), "trust falls less with interaction spaces")
ranking = cmp["firm_value"].mean("replication")
check(float(ranking.sel(policy="tiered")) > float(ranking.sel(policy="portfolio")),
      "the portfolio policy does not beat tiered here")
mix = cmp["customers_by_model"].isel(period=-1).sum("replication")
share_lean = lambda p: float(mix.sel(policy=p, business_model="transactional") / mix.sel(policy=p).sum())
check(share_lean("portfolio") < share_lean("tiered"), "the portfolio policy keeps more customers in the richer models")
"""),
    md("""
## 7. Try it: move the levers

What are the interaction spaces worth when legitimacy (exercise 1) or the cost of
misalignment (exercise 2) is different, or when the joint-planning workshop is cheaper or
bigger (exercise 3)? Each setting runs the firm with and without the spaces on the same
futures.

In Jupyter with ipywidgets installed (`pip install 'valuecapture[notebooks]'`) the levers
below are sliders and menus, and each change reruns the simulation on the same seed. Without
them (or in the executed copy in `docs/notebooks/`) the cell runs once at the values shown.
"""),
    code("""
from valuecapture.report.teaching import Choice, Slider, explore

WORKSHOP = next(i for i, space in enumerate(sc.get("interactions")) if space["name"] == "joint_planning")


def spaces_worth(legitimacy, churn_effect, workshop_cost, workshop_seats):
    # Lesson 4's firm with and without interaction spaces, on the same 100 futures.
    variant = sc.with_values({
        "alignment.legitimacy": legitimacy,
        "alignment.churn_effect": churn_effect,
        f"interactions.{WORKSHOP}.cost_per_contact": workshop_cost,
        f"interactions.{WORKSHOP}.capacity": workshop_seats,
    })
    on = vc.simulate(variant, replications=100, seed=SEED)
    off = vc.simulate(variant.with_values({"interactions": []}), replications=100, seed=SEED)
    gain = on["firm_value"].values - off["firm_value"].values
    print(f"with spaces {m(float(on['firm_value'].mean()))}, without {m(float(off['firm_value'].mean()))}:"
          f" the spaces are worth {m(gain.mean())} ± {m(1.96 * gain.std(ddof=1) / np.sqrt(gain.size))} (95%),"
          f" better in {np.mean(gain > 0):.0%} of the futures")
    fig, ax = plt.subplots(figsize=(7, 3.4), constrained_layout=True)
    for d, label, colour in ((on, "with interaction spaces", "#55A868"), (off, "without", "#C44E52")):
        ax.plot(d["year"].values, d["aligned_share"].median("replication"), color=colour, lw=2, label=label)
    ax.set_xlabel("year")
    ax.set_ylabel("aligned share (median)")
    ax.set_title(f"legitimacy {legitimacy:g}, churn effect {churn_effect:g}, workshop {workshop_cost:,.0f}"
                 f" per contact, {workshop_seats} seats", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    show(fig)


workshop = sc.get("interactions")[WORKSHOP]
explore(
    spaces_worth,
    legitimacy=Slider(float(sc.get("alignment.legitimacy")), 0.0, 1.0, 0.1, "legitimacy"),
    churn_effect=Slider(float(sc.get("alignment.churn_effect")), 0.0, 3.0, 0.25, "churn effect of misalignment"),
    workshop_cost=Slider(int(workshop["cost_per_contact"]), 500, 5000, 250, "workshop cost per contact"),
    workshop_seats=Slider(int(workshop["capacity"]), 10, 80, 10, "workshop seats"),
)
"""),
    md("""
## 8. Exercises

1. **Legitimacy.** Set `"alignment.legitimacy"` to 0 (a downgrade explained in an
   interaction space costs as much trust as an unexplained one) and to 1 (it costs none),
   and compare firm value on the same seed, first under tiered, then under adaptive
   (`"choices.policy": "adaptive"`). How much is legitimacy worth, and why so little under
   adaptive? (Whom does each policy downgrade, and were they in an interaction space?)
2. **Cost of misalignment.** Set `"alignment.churn_effect"` to 0 and then to 3. How does
   the value of the interaction spaces (section 2) change? Which assumption carries the
   result?
3. **A cheaper space.** Halve `cost_per_contact` of the joint-planning workshop
   (`"interactions.1.cost_per_contact"`) or double its capacity
   (`"interactions.1.capacity"`). Does it pay now?
4. **Discussion.** Clarke et al. say interaction spaces give differentiated treatment its
   legitimacy. Where in this model does that show, and what would you need to measure in
   a real firm to check it?
"""),
    code("""
# Your experiments here. For example (exercise 1):
# for legitimacy in (0.0, 1.0):
#     d = vc.simulate(sc.with_values({"alignment.legitimacy": legitimacy}), replications=150, seed=SEED)
#     print(legitimacy, m(d["firm_value"].mean().item()))
"""),
]


# --------------------------------------------------------------------------------------
# Lesson 5
# --------------------------------------------------------------------------------------
LESSON5 = [
    md("""
# Lesson 5 — Your own customers: from a customer table to firm value

Lessons 1–4 drew every customer from distributions someone typed into a scenario. A real
firm has a **customer table** instead: who its customers are, when each was won and lost,
what each bought last year. This lesson goes the way a strategist would go with real data:

1. take the firm's customer table and yearly revenue panel,
2. **calibrate** a scenario to them (`valuecapture calibrate`: churn, wallet, price and cost
   to serve estimated by maximum likelihood, each with a standard error),
3. **value** the firm starting from its actual customers, and see the value of each named
   customer.

We have no real firm's data in a classroom, so we **simulate** one whose parameters we
know, export it in exactly the format a firm would hand over (`valuecapture
export-customers`), and check what calibration gets back. Teachers can hand such files out
as exercises: the truth is known.
"""),
    code(SETUP),
    code("""
import tempfile

from valuecapture.data.calibrate import calibrate
from valuecapture.report.customers import customer_tables, write_export

SEED = 2024
# the "real" firm: the classroom firm over ten years, with churn that the data can identify
# (no effect of trust on churn, no contagion or referrals) and no internal-fit penalty on cost to serve
TRUTH = [
    "customers.count=600", "horizon.periods=40", "acquisition.prospects_per_year=50",
    "relationship.churn_trust_effect=0", "heterogeneity.interdependence=false", "business.fit_cost=0",
    "outputs.revenue_panel=true", "outputs.relationship_detail=1",
]
truth = vc.load_scenario(ROOT / "scenarios" / "classroom.toml", TRUTH)
firm = vc.simulate(truth, replications=1, seed=SEED)     # one future: the firm's history
work = Path(tempfile.mkdtemp(prefix="valuecapture-own-customers-"))
export = customer_tables(firm, replication=0)             # as `valuecapture export-customers`
write_export(export, work / "data")
print(f"the firm's files are in {work / 'data'} (yours to look at and delete)")
print(export.meta())
"""),
    md("""
## 1. The data a firm hands over

The simulated firm is written as `customers.csv` (one row per customer ever won: id,
acquisition and churn dates, segment and, for the customers still active, last year's
revenue, cost of goods sold, cost to serve and net price) and `revenue.csv` (revenue per
customer and year). On the command line:

```bash
valuecapture run scenarios/classroom.toml --set outputs.revenue_panel=true --out results/
valuecapture export-customers results/classroom --out firm/
```

The customers the firm had at the start are exported as won on the first day: the ten
years then follow them from their first day, like every later cohort (docs/data.md).
"""),
    code("""
customers = pd.read_csv(work / "data" / "customers.csv")
panel = pd.read_csv(work / "data" / "revenue.csv")
display(customers.head(6))
display(panel.head(6))
print(f"{len(customers)} customers, {customers['churned'].isna().sum()} still active on {export.as_of}")
"""),
    md("""
## 2. Calibrate: what the data say about the firm

`calibrate` fits the churn heterogeneity (the shifted-beta-geometric model of Fader &
Hardie, with the active customers right-censored), the marginals of wallet, price and cost
to serve (maximum likelihood, the family chosen by AIC), their correlations, demand and
growth from the panel, and the acquisition rate. `source=True` makes the scenario start from
the actual customers in the file. On the command line:
`valuecapture calibrate firm/customers.csv --panel firm/revenue.csv --source --out ours.toml`.
"""),
    code("""
result = calibrate(work / "data" / "customers.csv", panel=work / "data" / "revenue.csv", base=truth,
                   as_of=export.as_of, out=work / "ours.toml", source=True, bootstrap=50)
est = result.calibration.estimates

rows = []
for field, names in [("uncertainties.churn", ("a", "b")), ("uncertainties.wallet", ("s", "scale")),
                     ("uncertainties.cost_to_serve", ("s", "scale")), ("uncertainties.price", ("s", "scale"))]:
    true = dict(truth.get(field).params)
    e = est[field]
    for name in names:
        if name in e.value:
            value, se = float(e.value[name]), float(e.se[name])
            rows.append((f"{field.split('.')[1]} {name}", true[name], value, se,
                         abs(value - true[name]) <= 1.96 * se))
true_rate = truth.get("acquisition.prospects_per_year")
e = est["acquisition.prospects_per_year"]
rows.append(("customers won per year", true_rate, float(e.value), float(e.se), abs(e.value - true_rate) <= 1.96 * e.se))
table = pd.DataFrame(rows, columns=["parameter", "true", "estimate", "s.e.", "true inside 95% interval"])
display(table.round(4))
churn = est["uncertainties.churn"].value
print(f"mean annual churn: true {2 / 20:.3f}, estimated {churn['a'] / (churn['a'] + churn['b']):.3f}")
"""),
    md("""
**Reading it.** The churn Beta's two parameters are estimated loosely (their standard
errors are large: many (a, b) pairs give almost the same survival curve), but the mean
annual churn they imply is close to the truth. The wallet's spread (`s`) and the cost to
serve are estimated tightly. The wallet's *level* is today's: ten years of growth lie
between the wallets the firm started with and the revenue it reports now, so the
estimate is above the starting value, as it should be for a firm valued from today.

Each true value should be inside its 95% interval about 19 times in 20
(`tests/test_recovery.py` checks that rate over 40 simulated firms). Here seven of the nine
are; the price's spread and the acquisition rate miss by a little over two standard errors.
With nine intervals, two or more misses happen in about 7% of firms (1 - 0.95^9 - 9 x 0.05 x
0.95^8): a reminder that an interval is a statement about the method, not a guarantee
about this firm.

## 3. Value the firm from its actual customers

The calibrated scenario (`ours.toml`) starts from the customers active today, each with
its own wallet (from its revenue), price, cost to serve, segment and tenure; a
long-standing customer gets a churn propensity drawn *given* that it survived so long.
Its results carry the firm's own `customer_id`.
"""),
    code("""
ours = vc.load_scenario(work / "ours.toml", ["outputs.relationship_detail=100", "outputs.revenue_panel=false"])
ds = vc.simulate(ours, replications=100, seed=1)
print(vc.summary_text(ds).split("P(firm value")[0])
"""),
    md("""
## 4. Which customers carry the firm?

Per-relationship value for the first 100 futures, by the firm's own customer id (customers
won in the future have no id). Below: the most valuable customers and the ones that destroy
the most value, on average over the futures, and the Stobachoff curve of today's portfolio.
"""),
    code("""
ids = ds["customer_id"].values
named = np.flatnonzero(ids != "")
value = pd.Series(ds["relationship_value"].isel(customer=named).mean("detail_replication").values,
                  index=ids[named], name="mean value").sort_values(ascending=False)
print("most valuable:")
print(value.head(5).map(m).to_string())
print("destroying the most value:")
print(value.tail(5).map(m).to_string())
print(f"{(value < 0).mean():.0%} of today's customers destroy value on average")
show(plots.stobachoff_figure(ds.isel(customer=named)))
"""),
    md("""
**Interpretation.** A small group of named customers creates most of the value, and a
tail of customers destroys some of it: the Stobachoff curve rises above 100% and falls
back. These are the firm's *own* customers, so the lists above are where a
strategist starts: why does C0… destroy value — price, cost to serve, or a small wallet
served at the cost of a large one? Lesson 3's policies can then be compared on this
firm (`valuecapture compare ours.toml --policies single,tiered,adaptive`).

## 5. What this run shows, checked
"""),
    code("""
check(bool(table.loc[table["parameter"].str.startswith("churn"), "true inside 95% interval"].all()),
      "the true churn parameters lie inside their 95% intervals")
check(abs(churn["a"] / (churn["a"] + churn["b"]) - 0.1) < 0.02, "the mean annual churn is close to the truth")
check(int((~table["true inside 95% interval"]).sum()) == 2, "seven of the nine intervals hold the true value")
check(float(est["uncertainties.wallet"].value["scale"]) > 100_000, "the wallet's level is above the starting value")
check(len(named) == int(customers["churned"].isna().sum()), "the valuation starts from every active customer, by id")
check(float(ds["stobachoff_peak"].mean()) > 1, "the Stobachoff curve rises above 100%: some customers destroy value")
top_fifth = value.iloc[: len(value) // 5].sum()
check(top_fifth > 0.5 * value.sum(), "a small group of named customers creates most of the value")
"""),
    md("""
## 6. Try it: move the levers

Simulate another firm — a smaller or larger one, another history (seed), churn that
trust moves (exercise 2) — export it, calibrate it back and compare the estimates with the
truth. (Without the bootstrap of section 2 the correlations have no standard errors; the
other estimates do.)

In Jupyter with ipywidgets installed (`pip install 'valuecapture[notebooks]'`) the levers
below are sliders and menus, and each change reruns the simulation on the same seed. Without
them (or in the executed copy in `docs/notebooks/`) the cell runs once at the values shown.
"""),
    code("""
from valuecapture.report.teaching import Choice, Slider, explore


def recover(customers, seed, churn_trust_effect):
    # Simulate a firm whose parameters we know, export it, calibrate it and compare.
    known = truth.with_values({"customers.count": customers, "relationship.churn_trust_effect": churn_trust_effect})
    history = vc.simulate(known, replications=1, seed=seed)
    tables = customer_tables(history, replication=0)
    with tempfile.TemporaryDirectory(prefix="valuecapture-explore-") as folder:
        data = Path(folder) / "data"
        write_export(tables, data)
        got = calibrate(data / "customers.csv", panel=data / "revenue.csv", base=known,
                        as_of=tables.as_of, write=False, bootstrap=0).calibration.estimates
    rows = []
    for field, names in [("uncertainties.churn", ("a", "b")), ("uncertainties.wallet", ("s", "scale")),
                         ("uncertainties.cost_to_serve", ("s", "scale"))]:
        true = dict(known.get(field).params)
        for name in names:
            value, se = float(got[field].value[name]), float(got[field].se[name])
            rows.append((f"{field.split('.')[1]} {name}", true[name], value, se, abs(value - true[name]) <= 1.96 * se))
    print(f"{len(tables.customers)} customers in the table; estimates of the firm's parameters:")
    display(pd.DataFrame(rows, columns=["parameter", "true", "estimate", "s.e.", "true inside 95% interval"])
            .round(4).set_index("parameter"))


explore(
    recover,
    customers=Choice(600, [150, 300, 600, 1200], "customers at the start"),
    seed=Slider(SEED, 2000, 2050, 1, "seed"),
    churn_trust_effect=Choice(0.0, {"0 (as in the lesson)": 0.0, "-2 (trust lowers churn)": -2.0},
                              "effect of trust on churn"),
)
"""),
    md("""
## 7. Exercises

1. **Repeat the draw.** Change `SEED` and run the lesson again. How often is each true
   parameter inside its interval? (Over many seeds it should be about 95% of the time.)
2. **What the data cannot see.** Set `"relationship.churn_trust_effect=-2"` in `TRUTH`
   (trust lowers churn). Calibration now estimates *realised* churn; compare the firm value
   of `ours.toml` with the true scenario's. Which assumption of docs/calibration.md is at
   work?
3. **A smaller firm.** Set `"customers.count=150"`. How much wider are the intervals, and
   what does that do to the firm-value distribution with `--parameter-uncertainty`
   (`"parameter_uncertainty.enabled": True` in `with_values`)?
4. **Discussion.** Which of the firm's customers would you discuss first with its key
   account managers, and what would you want to know that the table does not say?
"""),
    code("""
# Your experiments here. For example (exercise 3):
# d = vc.simulate(ours.with_values({"parameter_uncertainty.enabled": True}), replications=200, seed=1)
# print(vc.summary_text(d))
"""),
]


NOTEBOOKS = {
    "01_first_simulation.ipynb": LESSON1,
    "02_heterogeneity.ipynb": LESSON2,
    "03_policies.ipynb": LESSON3,
    "04_alignment.ipynb": LESSON4,
    "05_own_customers.ipynb": LESSON5,
}


def build(cells: list[nbf.NotebookNode]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small when the text changes
        cell["id"] = f"cell-{i:02d}"
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = build(cells)
        nbf.validate(nb)
        nbf.write(nb, HERE / name)
        print(f"wrote {HERE / name} ({len(cells)} cells)")


if __name__ == "__main__":
    main()
