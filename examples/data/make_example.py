"""Write the example customer table and revenue panel (docs/data.md) from known parameters.

    python examples/data/make_example.py        # rewrites customers.csv and revenue.csv beside this file

A firm of 600 customers won over six years, three segments, drawn with a fixed seed by
:func:`valuecapture.data.synthetic.draw` from the parameters below (so a calibration can be
compared with the truth: docs/calibration.md).  Then:

    valuecapture calibrate examples/data/customers.csv --panel examples/data/revenue.csv \\
        --base scenarios/baseline.toml --out results/example.toml
"""

from __future__ import annotations

from pathlib import Path

from valuecapture.data.synthetic import Truth, draw

HERE = Path(__file__).resolve().parent
TRUTH = Truth(customers=600, years=6, as_of="2024-12-31")
SEED = 20250101


def main() -> None:
    table, panel = draw(TRUTH, seed=SEED)
    table.to_csv(HERE / "customers.csv", index=False)
    assert panel is not None
    panel.to_csv(HERE / "revenue.csv", index=False)
    print(f"wrote {HERE / 'customers.csv'} ({len(table)} customers) and {HERE / 'revenue.csv'} ({len(panel)} rows)")


if __name__ == "__main__":
    main()
