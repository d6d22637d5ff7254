"""Property tests of the policy: any valid policy survives its file and applies."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from schemas.anonymised import anonymise, unseal_reading
from schemas.bands import Band
from schemas.keyring import Keyring
from schemas.policy import METRIC_CHOICES, FieldPolicy, FieldRule
from schemas.records import Reading

KEYRING = Keyring.new()
METRICS = ["heart_rate", "spo2", "body_temp", "room_humidity"]

bands = st.one_of(
    st.builds(
        Band.from_width,
        st.sampled_from([0.5, 1, 5, 10, 20, 25]),
        st.sampled_from([0, 10, 0.25]),
    ),
    st.lists(
        st.integers(min_value=-200, max_value=300), min_size=1, max_size=6, unique=True
    ).map(lambda edges: Band.from_edges(sorted(edges))),
)


@st.composite
def metric_rules(draw: st.DrawFn, name: str) -> FieldRule:
    actions = draw(st.sampled_from(METRIC_CHOICES))
    band = draw(bands) if "generalise" in actions else None
    return FieldRule(name, actions, band=band)


policies = st.tuples(*(metric_rules(name) for name in METRICS)).map(
    lambda rules: FieldPolicy(rules)
)
values = st.none() | st.floats(-500, 500, allow_nan=False)


@given(policy=policies)
def test_any_policy_reads_back_from_its_file(policy: FieldPolicy) -> None:
    assert FieldPolicy.from_toml(policy.to_toml()).rules == policy.rules


@given(policy=policies, measured=st.tuples(*(values for _ in METRICS)))
def test_any_policy_applies_and_seals_exactly(
    policy: FieldPolicy, measured: tuple[float | None, ...]
) -> None:
    metrics = dict(zip(METRICS, measured, strict=True))
    raw = Reading(
        channel=1448708,
        entry_id=1,
        device="ward3-bed2",
        observed_at="2021-07-19T19:07:36Z",
        ingested_at=datetime(2026, 5, 9, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        metrics=metrics,
    )

    record = anonymise(raw, policy, KEYRING)
    opened = unseal_reading(record, KEYRING)

    for name, value in metrics.items():
        plan = policy.metric_plan(name)
        assert (name in record.sealed) == plan.seal
        assert (name in record.clear) == plan.keep
        assert (name in record.bands) == (plan.band is not None)
        if plan.seal:
            assert opened[name] == value
        if plan.keep:
            assert record.clear[name] == value
        if plan.band is not None:
            label = record.bands[name]
            assert (label is None) == (value is None)
            if value is not None and plan.band.width is not None:
                low = float(re.match(r"-?[\d.]+", label or "").group())  # type: ignore[union-attr]
                assert low - 1e-6 <= value < low + plan.band.width + 1e-6
