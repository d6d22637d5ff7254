"""The policy loader on hostile files: a PolicyError naming the problem."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import PolicyError
from schemas.policy import FieldPolicy
from tests.conftest import PROJECT_ROOT
from tests.property.support import EDITS, examples, mutate, outcome, tried
from tests.property.toml_text import toml_documents, toml_text

EXAMPLE = (PROJECT_ROOT / "policy.example.toml").read_bytes()
_DIR = Path(tempfile.mkdtemp(prefix="vitalstream-policy-"))
ACTIONS = st.lists(
    st.sampled_from(
        ["encrypt", "generalise", "keep", "drop", "pseudonymise", "scramble"]
    ),
    max_size=3,
)


def loads_or_refuses(path: Path) -> None:
    judged(outcome(lambda: FieldPolicy.load(path), PolicyError))


def judged(policy: FieldPolicy | Exception) -> None:
    if isinstance(policy, PolicyError):
        assert str(policy).startswith("policy for field ")
    else:
        assert isinstance(policy, FieldPolicy)
        assert policy.rules


@examples(0.5)
@given(EDITS)
def test_mutated_example_policy_file(edits: list[tuple[int, int, int]]) -> None:
    tried("policy: mutated example file (non-UTF-8 included)")
    path = _DIR / "policy.toml"
    path.write_bytes(mutate(EXAMPLE, edits))
    loads_or_refuses(path)


@examples(0.2)
@given(toml_documents())
def test_any_toml_document(doc: dict[str, Any]) -> None:
    tried("policy: any TOML document")
    judged(outcome(lambda: FieldPolicy.from_toml(toml_text(doc)), PolicyError))


@examples(0.3)
@given(
    st.dictionaries(
        st.one_of(
            st.sampled_from(["heart_rate", "spo2", "channel", "device", "observed_at"]),
            st.text(max_size=12),
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "actions": st.one_of(ACTIONS, toml_documents(2)),
                "band": st.one_of(
                    st.lists(st.floats(), max_size=4),
                    st.integers(),
                    st.text(max_size=5),
                ),
                "truncate": st.one_of(
                    st.sampled_from(["minute", "hour", "day", "week"]), st.integers()
                ),
            },
        ),
        max_size=4,
    ),
    st.one_of(st.just(1), st.integers(), st.text(max_size=3)),
)
def test_policies_with_wrong_types(fields: dict[str, Any], version: Any) -> None:
    tried("policy: fields with wrong actions, bands and types")
    text = toml_text({"version": version, "fields": fields})
    judged(outcome(lambda: FieldPolicy.from_toml(text), PolicyError))
