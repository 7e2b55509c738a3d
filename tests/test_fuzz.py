"""Fuzzing the command line (hypothesis): mutated scenario files and arguments.

Each example writes a mutated scenario into a fresh sandbox folder (beside a folder of
someone else's files), runs ``valuecapture`` in this process through ``cli.main`` with a
mutated argument list, and asserts what docs/safety.md promises: exit 0, or exit 1/2 with
one line on stderr and no traceback (and never an internal error); nothing outside
``sandbox/out`` changed.  ``derandomize=True``: the same examples on every run, so a
failure in CI reproduces locally.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from conftest import SCENARIOS
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_safety import tree

from valuecapture import cli
from valuecapture.model.params import slot_count
from valuecapture.scenario.load import FIELDS, ScenarioError, load_scenario

BASE = tomllib.loads((SCENARIOS / "classroom.toml").read_text())
BASE["customers"]["count"] = 40
BASE["horizon"]["periods"] = 4
BASE["run"]["replications"] = 3
BASE.setdefault("outputs", {})["relationship_detail"] = 2
PATHS = [f.path for f in FIELDS]
#: Runs above this many slot-periods x replications are validated instead of run (keeps the test fast).
RUN_LIMIT = 400_000

weird_text = st.sampled_from(
    ["", ".", "..", "../x", "/etc", "a/b", "a\nb", "\x00", "é", "x" * 200, "classroom", "tiered", "nan", "1e999"]
)
values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**63, 10**7, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    weird_text,
    st.lists(st.one_of(st.integers(-3, 3), weird_text), max_size=3),
    st.fixed_dictionaries(
        {"dist": st.sampled_from(["norm", "lognorm", "beta", "fixed", "evil", "os.system"])},
        optional={
            "s": st.floats(-2, 5),
            "scale": st.floats(-1, 1e6),
            "a": st.floats(-1, 5),
            "b": st.floats(-1, 5),
            "value": st.floats(-1, 2),
        },
    ),
)


def _set(raw: dict[str, Any], path: str, value: Any) -> None:
    node = raw
    *head, last = path.split(".")
    for part in head:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[last] = value


mutation = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), values),
    st.tuples(st.just("set"), st.sampled_from(["customers.bogus", "nonsense.key", "choices.business_models"]), values),
    st.tuples(st.just("drop"), st.sampled_from(list(BASE)), st.none()),
)
ARGS = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["-n", "--seed", "--batch-size", "--workers"]),
            st.sampled_from(["0", "-1", "2", "3", "x", "1e3", str(2**64), "10000001"]),
        ),
        st.tuples(
            st.just("--set"),
            st.sampled_from(
                [
                    "customers.count=50",
                    "customers.count.x=1",
                    "scenario.name=../up",
                    "=3",
                    "horizon.periods=2",
                    "uncertainties.wallet.s=-1",
                    "choices.policy=evil",
                    "x",
                    "customers.max_slots=50000000",
                ]
            ),
        ),
        st.tuples(st.just("--out"), st.sampled_from(["out", "out/sub", "out/../out", "out/" + "y" * 50])),
        st.tuples(st.sampled_from(["--overwrite", "--fresh", "--resume", "--bogus"]), st.none()),
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    mutations=st.lists(mutation, max_size=3),
    args=ARGS,
    command=st.sampled_from(["run", "validate", "run", "compare"]),
    garbage=st.booleans(),
)
def test_no_traceback_and_nothing_outside_out(
    mutations: list[tuple[str, str, Any]], args: list[tuple[str, str | None]], command: str, garbage: bool
) -> None:
    raw = tomllib.loads(tomli_w.dumps(BASE))
    for kind, path, value in mutations:
        if kind == "drop":
            raw.pop(path, None)
        else:
            _set(raw, path, value)
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = Path(tmp)
        (sandbox / "precious").mkdir()
        (sandbox / "precious" / "data.csv").write_text("customer_id,revenue\n1,100\n")
        scen = sandbox / "s.toml"
        try:
            text = tomli_w.dumps(raw)
        except (TypeError, ValueError):  # a value TOML cannot hold (NaN keys, NUL...): a broken file instead
            text = "[scenario\nname = 'broken'"
        scen.write_bytes(text.encode("utf-8", "surrogatepass") + (b"\xff\xfe garbage" if garbage else b""))
        argv = [command, str(scen)]
        if command == "compare":
            argv += ["--policies", "single,tiered"]
        for opt, val in args:
            if command == "validate" and opt not in ("--set",):
                continue
            argv += [opt] if val is None else [opt, val]
        if command != "validate" and "--out" not in argv:
            argv += ["--out", "out"]
        argv += ["-q", "--no-figures"] if command != "validate" else []
        if command != "validate" and not _small(scen, argv):
            argv = ["validate", str(scen)]
        before = tree(sandbox)
        err = io.StringIO()
        cwd = os.getcwd()
        os.chdir(sandbox)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = cli.main(argv)
                except SystemExit as exc:  # argparse
                    code = exc.code if isinstance(exc.code, int) else 2
        finally:
            os.chdir(cwd)
        message = err.getvalue()
        event(f"{argv[0]} exit {code}")  # pytest --hypothesis-show-statistics shows the mix
        assert code in (0, 1, 2), (argv, code, message)
        assert "Traceback" not in message and "internal error" not in message, (argv, message)
        if code:
            assert message.count("\n") == 1 and "error" in message, (argv, message)
        after = tree(sandbox)
        outside = {k: v for k, v in after.items() if not (k == "out/" or k.startswith("out/"))}
        assert outside == before, (argv, set(outside) ^ set(before))


def _small(scen: Path, argv: list[str]) -> bool:
    """Whether the run the arguments ask for is small enough to run here (else it is validated)."""
    overrides = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--set"]
    try:
        sc = load_scenario(scen, overrides=overrides)
    except ScenarioError:
        return True  # fails at once
    reps = sc.get("run.replications")
    for i, a in enumerate(argv[:-1]):
        if a == "-n" and argv[i + 1].isdigit():
            reps = int(argv[i + 1])
    return slot_count(sc) * sc.get("horizon.periods") * reps * (2 if "compare" in argv else 1) <= RUN_LIMIT
