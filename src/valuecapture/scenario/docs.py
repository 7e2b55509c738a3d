"""Generate docs/scenarios.md from the scenario schema: ``python -m valuecapture.scenario.docs``.

The reference is generated so that it cannot drift from the code; a test checks
that the committed file equals what this module produces.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from valuecapture.scenario import distributions as dists
from valuecapture.scenario.schema import (
    BUSINESS_MODEL_FIELDS,
    CORRELATED,
    CORRELATION_FIELDS,
    ESTIMATE_FIELDS,
    ESTIMATED,
    FIELDS,
    INTERACTION_FIELDS,
    Field,
)

INTRO = """# Scenario reference

A scenario is a TOML file (read with the standard library's `tomllib`; nothing in it is
evaluated). Fields left out take the defaults below; unknown keys are rejected with a
"did you mean" hint. `valuecapture validate FILE` checks a file; `--set section.field=value`
overrides any field on the command line (the value is read as TOML, e.g. `--set customers.count=5000`,
`--set uncertainties.wallet.s=1.5`, `--set 'customers.segments=["a","b"]'`; entries of arrays of
tables by index: `--set choices.business_models.0.quality=0.8`).

The file keeps apart three kinds of input (as in exploratory modelling, e.g. the EMA Workbench):

* **uncertainties** (`[uncertainties.*]`, `[[correlations]]`): what nobody controls and we only know
  as a distribution across customers;
* **choices** (`[choices]`, `[[choices.business_models]]`): what the firm decides;
* **outputs** (`[outputs]`): what is reported.

The other sections describe the structure of the world (horizon, economics, dynamics,
interdependence) and switches of the three sources of heterogeneity; `[scenario]` and `[run]`
are meta data and run defaults. *Kind* in the tables says which is which. Money is in the
scenario's currency (any unit, used consistently: multiplying every money field by k multiplies
every money output by k). Rates marked `1/year` are annual and converted to the period length.

## Distributions

An uncertain input is a table with `dist`, one of
{dist_names}, and that distribution's `scipy.stats` parameters (`loc` and `scale` where scipy
has them; `fixed` takes one `value`):

```toml
[uncertainties.wallet]
dist = "lognorm"   # scipy.stats.lognorm(s, loc=0, scale): median = scale
s = 1.2
scale = 120000
```

| dist | parameters (required in bold) |
|---|---|
{dist_table}

A distribution whose support reaches outside a field's allowed range is rejected (use a bounded
family such as `beta` or `truncnorm`). With `heterogeneity.customer = false` every customer takes
the mean of each customer-attribute distribution; with `heterogeneity.relationship = false`
relationships start at the mean initial state.

## Correlations (Gaussian copula)

`[[correlations]]` entries correlate the normal scores of customer attributes
({correlated}). Unlisted pairs are independent; the matrix must be positive definite.

| key | meaning | unit | allowed |
|---|---|---|---|
{corr_table}

```toml
[[correlations]]
between = ["wallet", "price"]   # large accounts buy cheaper (Shapiro et al. 1987)
rho = -0.4
```

## Business models

`[[choices.business_models]]` declares the business models the firm runs (at least one; the
policy in `choices.policy` assigns one to every relationship). Omitted keys take these defaults;
with no business model declared the firm runs one with all defaults.

| key | meaning | unit | default | allowed |
|---|---|---|---|---|
{bm_table}
"""


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "`{" + ", ".join(f"{k} = {json.dumps(x)}" for k, x in v.items()) + "}`"
    return f"`{json.dumps(v)}`"


def _row(f: Field, with_kind: bool = True, name: str | None = None) -> str:
    cells = [
        f"`{name or f.path}`",
        f.doc.replace("|", "\\|"),
        f.unit + (" (money)" if f.money else ""),
        _value(f.default),
        f.allowed().replace("|", "\\|"),
    ]
    if with_kind:
        cells.insert(1, f.kind)
    return "| " + " | ".join(cells) + " |"


def scenarios_markdown() -> str:
    dist_table = "\n".join(
        "| `{}` | {} |".format(name, ", ".join(f"**{p}**" if p in dists.REQUIRED.get(name, ()) else p for p in params))
        for name, params in dists.ALLOWED.items()
    )
    corr_rows = "\n".join(f"| `{f.path}` | {f.doc} | {f.unit} | {f.allowed()} |" for f in CORRELATION_FIELDS)
    bm_rows = "\n".join(_row(f, with_kind=False) for f in BUSINESS_MODEL_FIELDS)

    text = INTRO.format(
        dist_names=", ".join(f"`{d}`" for d in dists.ALLOWED),
        dist_table=dist_table,
        correlated=", ".join(f"`{c}`" for c in CORRELATED),
        corr_table=corr_rows,
        bm_table=bm_rows,
    )
    sections: dict[str, list[Field]] = {}
    for f in FIELDS:
        top = f.path.split(".")[0]
        sections.setdefault(top, []).append(f)
    text += "\n## Fields by section\n"
    for top, fields in sections.items():
        text += f"\n### [{top}]\n\n| field | kind | meaning | unit | default | allowed |\n|---|---|---|---|---|---|\n"
        text += "\n".join(_row(f) for f in fields) + "\n"
    text += (
        "\n## Interaction spaces: `[[interactions]]`\n\n"
        "Each entry is an interaction space (account reviews, joint planning, executive meetings...) "
        "where the firm and\n"
        "its customers communicate. They need `alignment.enabled = true`; see docs/alignment.md.\n\n"
        "| field | meaning | unit | default | allowed |\n|---|---|---|---|---|\n"
    )
    text += "\n".join(_row(f, with_kind=False) for f in INTERACTION_FIELDS) + "\n"
    text += (
        "\n## Estimation uncertainty: `[[estimates]]`\n\n"
        "Each entry names distribution parameters of customer inputs that were estimated together "
        "(`valuecapture calibrate`\n"
        "writes them) and their sampling covariance; the scenario's own values are the estimates. With\n"
        "`parameter_uncertainty.enabled = true` every group of `parameter_uncertainty.per_draw` replications draws "
        "its\n"
        "parameters from this sampling distribution (positive parameters on the log scale); see docs/calibration.md.\n"
        "Estimable inputs: " + ", ".join(f"`{a}`" for a in ESTIMATED) + ".\n\n"
        "```toml\n[[estimates]]\n"
        'fields = ["uncertainties.churn.a", "uncertainties.churn.b"]\n'
        "covariance = [0.04, 0.21, 0.21, 1.6]   # row by row\n"
        'method = "shifted-beta-geometric, maximum likelihood, observed information"\n```\n\n'
        "| field | meaning | unit | default | allowed |\n|---|---|---|---|---|\n"
    )
    text += "\n".join(_row(f, with_kind=False) for f in ESTIMATE_FIELDS) + "\n"
    return text


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else Path("docs/scenarios.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(scenarios_markdown(), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
