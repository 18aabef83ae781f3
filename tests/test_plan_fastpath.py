"""The planner's fast path for unchanged stores (``planner._unchanged``) against the full
comparison it skips (``planner._compare``): over generated declared/live pairs, the fast path
either declines or returns exactly the change the full comparison returns, field by field."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.integrations import mask_secret
from reconciler.model import (
    DEFAULT_OWNER_TAG,
    Address,
    ConfigValue,
    DesiredStore,
    IgnoreRule,
    LiveStore,
    Location,
    Secret,
    StoreStatus,
)
from reconciler.plan.changes import PENDING_PREFIX, PROTECT_TAG, Change
from reconciler.plan.normalise import desired_config
from reconciler.plan.planner import _compare, _desired_tags, _unchanged

OWNER = DEFAULT_OWNER_TAG
LOC = Location("m.yaml", 1, 1)
TODAY = date(2030, 1, 1)
SECRETS = ("", "abc", "correct-horse-battery", "s3cr3t-value")
TAGS = ("team:a", "team:b", OWNER, PROTECT_TAG, PENDING_PREFIX + "run-1", "x")

SCALARS = (
    st.sampled_from(
        ["6379", " 6379", "06379", "0", "6380", "", "host-a", "true", "TRUE", " false", "x"]
    )
    | st.booleans()
)


MASKED = {"password", "externalId"}


@st.composite
def live_secret(draw: st.DrawFn, key: str, plain: str, exact: bool) -> object:
    """What the API may return for a declared secret: its mask (for a field it masks), the
    value, or (unless ``exact``) anything."""
    mirrored = mask_secret(plain) if key in MASKED else plain
    if exact:
        return mirrored
    options = [mirrored, mask_secret(plain, per_char=True), plain, "***", None, "other"]
    return draw(st.sampled_from(options))


@st.composite
def pairs(draw: st.DrawFn) -> tuple[DesiredStore, LiveStore]:
    """A declared store and a live one that mirrors it, each aspect (name, ``on``, tags, each
    config value) kept as the API would return it or, now and then, drawn anew."""
    kind = draw(st.sampled_from(["redis", "dynamodb", "other"]))
    keys = {
        "redis": ["host", "port", "username", "password", "tlsEnabled"],
        "dynamodb": ["tableName", "region", "roleArn", "externalId"],
        "other": ["host", "token"],
    }[kind] + ["extra"]
    odds = draw(st.sampled_from([0, 0, 12, 4, 1]))  # 0: an exact mirror

    def keep() -> bool:
        return odds == 0 or draw(st.integers(0, odds)) > 0

    declared: dict[str, ConfigValue] = {}
    live: dict[str, object] = {}
    for key in keys:
        if draw(st.integers(0, 3)) == 0:
            plain = draw(st.sampled_from(SECRETS))
            declared[key] = Secret(plain, "env:X")
            if keep():
                live[key] = draw(live_secret(key, plain, keep()))
            continue
        value = draw(SCALARS)
        if draw(st.integers(0, 3)):
            declared[key] = value
        if keep():
            live[key] = value if keep() else draw(SCALARS | st.none())
    name, on = draw(st.sampled_from(["Store", "Other"])), draw(st.booleans())
    tags = tuple(draw(st.lists(st.sampled_from(TAGS), max_size=4)))
    rule = IgnoreRule(draw(st.sampled_from(["on", "tags", "config.host"])), "r", TODAY, LOC)
    ignore = () if draw(st.integers(0, 3)) else (rule,)
    want = _store(kind, name, on, tags, declared, draw(st.booleans()), ignore)
    live_tags = _desired_tags(want, OWNER)[::-1]
    have = LiveStore(
        id="a" * 24,
        project="p",
        environment="e",
        integration_key=kind,
        name=name if keep() else draw(st.sampled_from(["Store", "Other"])),
        on=on if keep() else draw(st.booleans()),
        tags=live_tags if keep() else tuple(draw(st.lists(st.sampled_from(TAGS), max_size=4))),
        version=3,
        config=live if keep() else None,
        status=StoreStatus(),
    )
    return want, have


def _store(
    kind: str,
    name: str,
    on: bool,
    tags: tuple[str, ...],
    config: dict[str, ConfigValue],
    protect: bool,
    ignore: tuple[IgnoreRule, ...],
) -> DesiredStore:
    return DesiredStore(
        project="p",
        environment="e",
        integration_key=kind,  # type: ignore[arg-type]
        name=name,
        on=on,
        tags=tags,
        config=config,
        location=Location("m.yaml", 1, 1),
        protect=protect,
        ignore=ignore,
    )


def _every_field(change: Change) -> list[object]:
    """All fields, including those left out of ``==`` (the stores a change came from)."""
    return [getattr(change, f.name) for f in fields(Change)]


def _both(want: DesiredStore, have: LiveStore) -> tuple[Change | None, Change]:
    address = Address("p", "e", want.integration_key)
    config = desired_config(want.integration_key, want.config)
    tags = _desired_tags(want, OWNER)
    fast = _unchanged(address, want, have, dict(config), tags)
    full = _compare(address, want, have, OWNER, TODAY, dict(config), tags)
    return fast, full


@settings(max_examples=1000, deadline=None)
@given(pairs())
def test_the_fast_path_returns_what_the_full_comparison_returns_or_declines(
    pair: tuple[DesiredStore, LiveStore],
) -> None:
    fast, full = _both(*pair)
    if fast is not None:
        assert full.action == "no-op"
        assert _every_field(fast) == _every_field(full)
        assert fast.desired is full.desired and fast.live is full.live


@settings(max_examples=300, deadline=None)
@given(pairs())
def test_the_fast_path_takes_every_unchanged_store_without_notes_or_pending_tags(
    pair: tuple[DesiredStore, LiveStore],
) -> None:
    want, have = pair
    fast, full = _both(want, have)
    pending = any(t.startswith(PENDING_PREFIX) for t in have.tags)
    if full.action == "no-op" and not full.notes and not pending:
        assert fast is not None


def test_a_matching_store_with_a_masked_secret_takes_the_fast_path() -> None:
    plain = "correct-horse-battery"
    config: dict[str, ConfigValue] = {"host": "h", "password": Secret(plain, "e")}
    want = _store("redis", "S", True, ("t",), config, False, ())
    have = LiveStore(
        "a" * 24, "p", "e", "redis", "S", True, ("t", OWNER), 1,
        {"host": "h", "port": "6379", "password": mask_secret(plain)}, StoreStatus(),
    )  # fmt: skip
    fast, full = _both(want, have)
    assert fast is not None
    assert [(s.key, s.state) for s in fast.secrets] == [("password", "unverifiable")]
    assert _every_field(fast) == _every_field(full)
