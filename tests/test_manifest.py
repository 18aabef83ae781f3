"""Tests of manifest.load: manifests to desired state, and every way a manifest is wrong."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.errors import ManifestError
from reconciler.integrations import AWS_REGIONS, FIELDS, ROLE_ARN_RE
from reconciler.manifest import yamlpos
from reconciler.manifest.load import LoadResult, load_manifests
from reconciler.manifest.safety import ANY_IGNORE_FIELDS, ignore_fields
from reconciler.manifest.sources import manifest_schema
from reconciler.manifest.yamlpos import load_documents
from reconciler.model import SENSITIVE, IgnoreRule, Location, Secret

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
EXAMPLES = Path(__file__).parent.parent / "examples"
ENV = {
    "REDIS_PAYMENTS_PASSWORD": "pw-from-env",
    "LD_EXTERNAL_ID": "3c1f5b0e-external-id",
}


def load(*names: str, env: dict[str, str] | None = None) -> LoadResult:
    return load_manifests([FIXTURES / name for name in names], env=ENV if env is None else env)


def problems_of(*names: str, env: dict[str, str] | None = None) -> list[str]:
    """Every problem as ``file-name:line:column: message``, in the error's order."""
    with pytest.raises(ManifestError) as caught:
        load(*names, env=env)
    return [f"{Path(p.file).name}:{p.line}:{p.column}: {p.message}" for p in caught.value.problems]


# --- valid manifests ---------------------------------------------------------------------------


def test_valid_manifests_in_several_documents_and_files_load_into_desired_state() -> None:
    result = load("valid")

    assert [Path(f).relative_to(FIXTURES).as_posix() for f in result.files] == [
        "valid/nested/search.yml",
        "valid/payments.yaml",
    ]  # README.md, hidden files and hidden directories are not manifests
    assert result.warnings == ()
    stores = {(s.project, s.environment, s.integration_key): s for s in result.state.stores}
    assert set(stores) == {
        ("payments", "production", "redis"),
        ("payments", "staging", "dynamodb"),
        ("search", "production", "redis"),
    }
    redis = stores["payments", "production", "redis"]
    assert redis.name == "Payments production"
    assert redis.on is True
    assert redis.tags == ("team:payments", "tier:1")
    assert redis.config["port"] == "6379"  # a YAML number, normalised to a string
    assert redis.config["tlsEnabled"] is True
    assert redis.config["password"] == Secret("pw-from-env", "env:REDIS_PAYMENTS_PASSWORD")
    assert redis.location == Location(str(FIXTURES / "valid" / "payments.yaml"), 6, 5)
    dynamo = stores["payments", "staging", "dynamodb"]
    assert dynamo.on is False and dynamo.tags == ()
    assert dynamo.config["externalId"] == Secret("3c1f5b0e-external-id", "env:LD_EXTERNAL_ID")
    assert dynamo.config["region"] == "us-east-1"
    assert stores["search", "production", "redis"].config == {"host": "redis.search.internal"}
    projects = result.state.projects
    assert set(projects) == {"payments", "search"}
    assert projects["payments"].prune is True  # declared by the second document only
    assert projects["payments"].location == Location(str(FIXTURES / "valid/payments.yaml"), 19, 8)
    assert projects["search"].prune is False


def test_defaults_merge_under_every_store_with_tags_unioned_in_order() -> None:
    first, second = load("defaults.yaml").state.stores

    assert first.tags == ("team:payments", "shared", "tier:1")
    assert first.on is True  # from defaults
    assert first.config == {"port": "6380", "tlsEnabled": False, "host": "redis.payments.internal"}
    assert second.tags == ("team:payments", "shared")
    assert second.on is False  # the store's own value wins
    assert second.config == {"port": "6380", "tlsEnabled": True, "host": "redis.staging.internal"}


def test_interpolation_resolves_variables_and_keeps_escaped_references_literal() -> None:
    env = {
        "PROJECT": "payments",
        "TEAM": "blue",
        "REDIS_HOST": "redis.internal",
        "REDIS_PORT": "6390",
        "REDIS_USER": "ld",
        "REDIS_PASSWORD": "s3cret",
    }
    (store,) = load("interpolation.yaml", env=env).state.stores

    assert store.project == "payments"  # interpolated, but outside config: not a secret
    assert store.name == "Cost ${NOT_A_VAR} for blue"
    assert store.tags == ("team:blue", "team:literal")
    assert store.config == {
        "host": Secret("redis.internal", "env:REDIS_HOST"),
        "port": Secret("6390", "env:REDIS_PORT"),
        "username": Secret("user-blue-${literal}", "env:TEAM"),
        "password": Secret("ld:s3cret", "env:REDIS_USER,REDIS_PASSWORD"),
    }


def test_a_missing_variable_is_a_problem_naming_it_with_file_line_and_column() -> None:
    assert problems_of("missing_var.yaml", env={}) == [
        "missing_var.yaml:8:17: stores[0].config.password: environment variable UNSET_PASSWORD"
        " is not set (referenced as ${UNSET_PASSWORD})"
    ]


def test_secrets_never_show_their_value_in_repr_or_str() -> None:
    (store, *_) = load("valid").state.stores[1:]
    secret = store.config["password"]

    assert isinstance(secret, Secret)
    for text in (repr(secret), str(secret), repr(store), str(store.config)):
        assert "pw-from-env" not in text
    assert str(secret) == SENSITIVE


def test_inline_secrets_are_wrapped_and_warned_about_except_an_empty_password() -> None:
    result = load("inline_secret.yaml")
    production, staging, dynamo = result.state.stores

    assert production.config["password"] == Secret("hunter2-inline", "inline")
    assert staging.config["password"] == Secret("", "inline")
    assert dynamo.config["externalId"] == Secret("5f0c9b4e-inline", "inline")
    file = FIXTURES / "inline_secret.yaml"
    assert result.warnings == (
        f"{file}:8:17: inline secret: redis password is written in the manifest; use ${{VAR}}",
        f"{file}:22:19: inline secret: dynamodb externalId is written in the manifest;"
        " use ${VAR}",
    )
    assert not any("hunter2" in w or "5f0c9b4e" in w for w in result.warnings)


def test_two_stores_in_one_slot_with_different_names_are_distinct() -> None:
    stores = load("same_slot.yaml").state.stores

    assert [s.name for s in stores] == ["Payments primary", "Payments replica"]
    assert {s.slot for s in stores} == {("payments", "production", "redis")}


def test_the_key_on_stays_a_string_key_and_only_true_false_are_booleans(tmp_path: Path) -> None:
    manifest = tmp_path / "on.yaml"
    manifest.write_text(
        "project: p\nstores:\n  - environment: e\n    integrationKey: redis\n"
        "    name: n\n    on: TRUE\n    config: {host: h, tlsEnabled: False}\n"
    )
    (store,) = load_manifests([manifest], env={}).state.stores

    assert store.on is True
    assert store.config["tlsEnabled"] is False


def test_yaml_merge_keys_work_and_a_stores_own_key_overrides_the_merged_one() -> None:
    first, second = load("anchors.yaml").state.stores

    assert (first.name, second.name) == ("one", "two")
    assert first.config == second.config == {"host": "h", "port": "80"}
    assert second.location.line == 9


def test_a_file_of_empty_documents_loads_nothing_and_warns() -> None:
    result = load("empty_documents.yaml", "same_slot.yaml", "empty_documents.yaml")

    assert len(result.files) == 2  # a file given twice is read once
    assert result.warnings == (
        f"{FIXTURES / 'empty_documents.yaml'}:1:1: file holds no YAML documents",
    )
    assert len(result.state.stores) == 2


# --- validation problems -----------------------------------------------------------------------


def test_a_dollar_brace_without_a_variable_name_is_a_problem(tmp_path: Path) -> None:
    manifest = tmp_path / "ref.yaml"
    manifest.write_text(
        "project: p\nstores:\n  - environment: e\n    integrationKey: redis\n"
        '    name: "costs ${ 5"\n    config: {host: h}\n'
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests([manifest], env={})

    assert [str(p) for p in caught.value.problems] == [
        f"{manifest}:5:11: stores[0].name: '${{' must start a ${{NAME}} reference"
        " (write $${ for a literal '${')"
    ]


def test_on_yes_is_rejected_as_not_a_boolean() -> None:
    assert problems_of("on_yes.yaml") == [
        "on_yes.yaml:6:9: stores[0].on: expected a boolean (true/false), got 'yes'"
    ]


def test_unknown_keys_are_reported_at_top_level_store_and_config() -> None:
    assert problems_of("unknown_keys.yaml") == [
        "unknown_keys.yaml:2:1: document: unknown key 'owner'"
        " (allowed: project, prune, safety, defaults, stores)",
        "unknown_keys.yaml:7:5: stores[0]: unknown key 'enabled'"
        " (allowed: environment, integrationKey, name, on, tags, config, protect, ignore)",
        "unknown_keys.yaml:10:7: stores[0].config: unknown key 'tls' in redis config"
        " (allowed: host, port, username, password, tlsEnabled)",
    ]


def test_a_defaults_config_key_the_stores_integration_lacks_is_reported() -> None:
    assert problems_of("defaults_mismatch.yaml") == [
        "defaults_mismatch.yaml:4:5: defaults.config.region: key 'region' does not exist in"
        " redis config, used by stores[0] (allowed: host, port, username, password, tlsEnabled)"
    ]


def test_wrong_types_are_reported_for_every_field() -> None:
    assert problems_of("wrong_types.yaml") == [
        "wrong_types.yaml:1:10: project: expected a string, got a number",
        "wrong_types.yaml:2:8: prune: expected a boolean (true/false), got 'yes'",
        "wrong_types.yaml:6:11: stores[0].name: expected a string, got a list",
        "wrong_types.yaml:7:11: stores[0].tags: expected a list, got 'tier-1'",
        "wrong_types.yaml:10:19: stores[0].config.tlsEnabled:"
        " expected a boolean (true/false), got a string",
        "wrong_types.yaml:11:17: stores[0].config.username: expected a string, got a number",
    ]


def test_an_unknown_integration_key_is_reported_with_the_allowed_kinds() -> None:
    assert problems_of("bad_integration_key.yaml") == [
        "bad_integration_key.yaml:4:21: stores[0].integrationKey:"
        " 'memcached' is not one of redis, dynamodb"
    ]


def test_ports_too_low_too_high_or_not_numeric_are_reported() -> None:
    assert problems_of("bad_ports.yaml") == [
        "bad_ports.yaml:8:13: stores[0].config.port: 0 is out of range 1\u201365535",
        "bad_ports.yaml:14:13: stores[1].config.port: 70000 is out of range 1\u201365535",
        "bad_ports.yaml:20:13: stores[2].config.port: 'http' is not a port number (1\u201365535)",
        "bad_ports.yaml:26:13: stores[3].config.port: '65536' is out of range 1\u201365535",
    ]


def test_an_unknown_region_is_reported_with_a_hint_and_the_allowed_list() -> None:
    (problem,) = problems_of("bad_region.yaml")

    assert problem.startswith(
        "bad_region.yaml:7:15: stores[0].config.region: 'us-east-9' is not a DynamoDB region"
        " (did you mean 'us-east-"
    )
    assert ", ".join(AWS_REGIONS) in problem


def test_a_malformed_role_arn_is_reported() -> None:
    assert problems_of("bad_arn.yaml") == [
        "bad_arn.yaml:9:16: stores[0].config.roleArn: 'arn:aws:iam::1234:user/launchdarkly'"
        " is not an IAM role ARN (expected arn:aws:iam::<12-digit account id>:role/<role name>)"
    ]


def test_a_missing_required_config_key_is_reported_at_the_config() -> None:
    assert problems_of("missing_config_key.yaml") == [
        "missing_config_key.yaml:7:7: stores[0].config: missing required key 'tableName'"
        " for dynamodb"
    ]


def test_missing_name_and_environment_are_reported() -> None:
    assert problems_of("missing_name_environment.yaml") == [
        "missing_name_environment.yaml:3:5: stores[0]: missing required key 'environment'",
        "missing_name_environment.yaml:3:5: stores[0]: missing required key 'name'",
    ]


def test_malformed_yaml_is_one_problem_at_the_parsers_position() -> None:
    (problem,) = problems_of("malformed.yaml")

    assert problem.startswith("malformed.yaml:5:4: invalid YAML: ")


def test_a_character_yaml_forbids_is_one_problem_at_its_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "bell.yaml").write_text("project: payments\nstores:\n  - name: a\x07b\n", "utf-8")

    with pytest.raises(ManifestError) as caught:
        load_manifests([tmp_path], env={})

    (problem,) = caught.value.problems
    assert (problem.line, problem.column, problem.message) == (
        3, 12, "invalid YAML: character #x0007 is not allowed",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("project: a\nstores:\n\t- x\n", "found character '\\t' that cannot start any token"),
        ("project: *nope\n", "found undefined alias 'nope'"),
    ],
)
def test_syntax_errors_keep_the_pure_parsers_wording(text: str, detail: str) -> None:
    """libyaml parses; a file it rejects is read again by the pure parser, which names the
    offending character or alias."""
    _, problems = load_documents(text, "f.yaml")

    assert [p.message for p in problems] == [f"invalid YAML: {detail}"]


UNICODE_MANIFEST = """\
project: zahlungen
defaults: &d {tags: ["équipe:paiements", "チーム:決済"]}
stores:
  - {environment: prod, integrationKey: redis, name: "Zahlungsverkehr — Produktion",
     config: {host: "rédis.example", port: 6379}}
  - <<: *d
    environment: qa   # ein Kommentar mit Ümlauten
    name: "ü"
---
project: other
"""


def test_the_libyaml_and_pure_parsers_read_every_manifest_alike() -> None:
    """Values, value positions and key positions agree for every fixture and example that
    parses, so switching parsers changes no location any message names."""
    pure, fast = yamlpos._PureLoader, yamlpos._FastLoader
    assert fast is not pure, "PyYAML without libyaml: the fast path is not under test"
    files = sorted(FIXTURES.rglob("*.yaml")) + sorted(EXAMPLES.rglob("*.yaml"))
    texts = [(str(path), path.read_text("utf-8")) for path in files]
    texts.append(("unicode.yaml", UNICODE_MANIFEST))
    compared = 0
    for path, text in texts:
        with_fast = yamlpos._load(fast, text, str(path))
        with_pure = yamlpos._load(pure, text, str(path))
        if with_pure[2]:  # malformed on purpose
            continue
        assert [(d.data, d.values, d.keys) for d in with_fast[0]] == [
            (d.data, d.values, d.keys) for d in with_pure[0]
        ], path
        assert with_fast[1] == with_pure[1], path
        compared += 1
    assert compared > 20


def test_problems_of_several_files_are_reported_together() -> None:
    problems = problems_of("several_invalid")

    assert [p.split(": ")[0] for p in problems] == [
        "one.yaml:8:13",
        "one.yaml:16:15",
        "three.yaml:2:1",
        "two.yaml:6:13",
    ]
    assert "99999 is out of range" in problems[0]
    assert "'mars-north-1' is not a DynamoDB region" in problems[1]
    assert "invalid YAML" in problems[2]
    assert "missing required key 'host' for redis" in problems[3]


def test_a_store_declared_twice_is_a_problem_naming_both_locations() -> None:
    first = FIXTURES / "duplicate" / "a.yaml"
    second = FIXTURES / "duplicate" / "b.yaml"
    with pytest.raises(ManifestError) as caught:
        load("duplicate")

    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.column) == (str(second), 8, 5)
    assert problem.message == (
        f"store payments/production/redis/Payments production is declared twice:"
        f" here and at {first}:3:5"
    )


def test_prune_declared_differently_for_one_project_is_a_problem_naming_both() -> None:
    first = FIXTURES / "prune_conflict" / "a.yaml"
    assert problems_of("prune_conflict") == [
        f"b.yaml:2:8: prune: project 'payments' sets prune: false here but prune: true at"
        f" {first}:2:8"
    ]


def test_a_path_that_does_not_exist_is_a_problem() -> None:
    assert problems_of("no-such-dir") == ["no-such-dir:1:1: no such file or directory"]


def test_a_directory_without_manifests_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a manifest")
    with pytest.raises(ManifestError) as caught:
        load_manifests([tmp_path], env={})

    (problem,) = caught.value.problems
    assert problem.message == f"no manifests (*.yaml, *.yml) under {tmp_path}"


def test_a_repeated_mapping_key_is_a_problem_not_a_silent_overwrite(tmp_path: Path) -> None:
    manifest = tmp_path / "twice.yaml"
    manifest.write_text("project: a\nproject: b\nstores: []\n")
    with pytest.raises(ManifestError) as caught:
        load_manifests([manifest], env={})

    assert [str(p) for p in caught.value.problems] == [
        f"{manifest}:2:1: duplicate key 'project' (first at line 1:1)"
    ]


def test_secret_values_never_appear_in_any_problem_message() -> None:
    distinctive = "Zq9-distinctive-secret"
    env = {
        name: f"{distinctive}-{name}"
        for name in (
            "LEAK_REGION",
            "LEAK_NAME",
            "LEAK_ON",
            "LEAK_PORT",
            "LEAK_TLS",
            "LEAK_ARN",
            "LEAK_EXTERNAL",
            "LEAK_ENV",
            "LEAK_KIND",
        )
    }
    with pytest.raises(ManifestError) as caught:
        load("secret_leak.yaml", env=env)

    text = str(caught.value)
    assert distinctive not in text
    assert "12345" not in text  # an inline password of the wrong type is not echoed either
    for name in ("LEAK_REGION", "LEAK_ON", "LEAK_PORT", "LEAK_ARN", "LEAK_KIND"):
        assert f"${{{name}}}" in text  # the message names the variable instead
    assert len(caught.value.problems) == 9


# --- GitOps safety: protect, ignore rules, per-project safety ----------------------------------


def test_protect_is_read_from_the_store_or_else_from_defaults() -> None:
    production, staging, search = load("safety.yaml").state.stores

    assert production.protect is True  # from defaults
    assert staging.protect is False  # the store's own value wins
    assert search.protect is False  # the default when nobody says


def test_ignore_rules_load_with_dates_written_as_yaml_dates_or_quoted_strings() -> None:
    production, _, search = load("safety.yaml").state.stores
    file = str(FIXTURES / "safety.yaml")

    assert production.ignore[:2] == (
        IgnoreRule(
            field="on",
            reason="Ops switched it off during the incident INC-123",
            expires=datetime.date(2026, 12, 31),  # a YAML date
            location=Location(file, 17, 9),
        ),
        IgnoreRule(
            field="config.host",
            reason="Failover host during the migration",
            expires=datetime.date(2027, 2, 1),  # a quoted 'YYYY-MM-DD' string
            location=Location(file, 20, 9),
        ),
    )
    assert search.ignore == ()


def test_ignore_rules_of_defaults_are_appended_unless_the_store_covers_the_field() -> None:
    production, staging, _ = load("safety.yaml").state.stores

    assert [rule.field for rule in production.ignore] == ["on", "config.host", "tags"]
    assert production.ignore[2].reason == "Tags are managed by the platform team"
    assert production.ignore[2].location.line == 9  # where defaults declared it
    (own,) = staging.ignore
    assert own.reason == "Staging tags are free for experiments"


def test_an_expired_ignore_rule_still_loads_because_the_planner_decides() -> None:
    _, staging, _ = load("safety.yaml").state.stores

    assert staging.ignore[0].expires == datetime.date(2020, 1, 1)


def test_wrong_ignore_rules_are_reported_each_at_its_own_position() -> None:
    redis_fields = "name, on, tags, config.host, config.port, config.username, config.password,"
    assert problems_of("ignore_invalid.yaml") == [
        "ignore_invalid.yaml:4:14: defaults.ignore[0].field: field 'config.region' does not"
        f" exist in redis stores, used by stores[0] (allowed: {redis_fields} config.tlsEnabled)",
        "ignore_invalid.yaml:12:16: stores[0].ignore[0].field: 'config.hots' is not a field of"
        f" redis stores (did you mean 'config.host'? allowed: {redis_fields} config.tlsEnabled)",
        "ignore_invalid.yaml:15:9: stores[0].ignore[1]: missing required key 'reason'",
        "ignore_invalid.yaml:18:17: stores[0].ignore[2].reason: must not be blank",
        "ignore_invalid.yaml:22:18: stores[0].ignore[3].expires: '2026-02-30' is not a calendar"
        " date (expected a date YYYY-MM-DD)",
        "ignore_invalid.yaml:25:18: stores[0].ignore[4].expires: expected a date YYYY-MM-DD,"
        " got '31/12/2026'",
        "ignore_invalid.yaml:28:18: stores[0].ignore[5].expires: expected a date YYYY-MM-DD,"
        " got a date with a time",
        "ignore_invalid.yaml:29:16: stores[0].ignore[6].field: 'on' is already ignored at"
        f" {FIXTURES / 'ignore_invalid.yaml'}:15:9",
        "ignore_invalid.yaml:32:9: stores[0].ignore[7]: missing required key 'expires'",
        "ignore_invalid.yaml:34:9: stores[0].ignore[7]: unknown key 'until'"
        " (allowed: field, reason, expires)",
    ]


def test_an_ignore_rule_in_defaults_naming_no_field_of_any_store_is_reported(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "defaults.yaml"
    manifest.write_text(
        "project: p\ndefaults:\n  ignore:\n    - {field: version, reason: r, expires: 2027-01-01}\n"
        "stores: []\n"
    )
    with pytest.raises(ManifestError) as caught:
        load_manifests([manifest], env={})

    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (4, 15)
    assert problem.message.startswith(
        "defaults.ignore[0].field: 'version' is not a field of any store (allowed: name, on, tags,"
    )


def test_safety_settings_are_read_per_project_and_unset_ones_stay_none() -> None:
    projects = load("safety.yaml").state.projects

    assert projects["payments"].change_threshold == 0.5
    assert projects["payments"].min_stores == 4
    assert (projects["search"].change_threshold, projects["search"].min_stores) == (None, None)


def test_safety_values_out_of_range_or_of_the_wrong_type_are_reported() -> None:
    assert problems_of("safety_invalid.yaml") == [
        "safety_invalid.yaml:3:20: safety.changeThreshold: 0 is out of range"
        " (must be greater than 0)",
        "safety_invalid.yaml:4:14: safety.minStores: -1 is out of range (must be at least 0)",
        "safety_invalid.yaml:9:20: safety.changeThreshold: 1.5 is out of range (must be at most 1)",
        "safety_invalid.yaml:10:14: safety.minStores: expected a whole number, got 2.5",
        "safety_invalid.yaml:15:20: safety.changeThreshold: expected a number, got '30%'",
        "safety_invalid.yaml:16:3: safety: unknown key 'maxStores' (did you mean 'minStores'?"
        " allowed: changeThreshold, minStores)",
    ]


def test_safety_declared_differently_for_one_project_is_a_problem_naming_both() -> None:
    first = FIXTURES / "safety_conflict" / "a.yaml"
    assert problems_of("safety_conflict") == [
        "b.yaml:3:20: safety.changeThreshold: project 'payments' sets safety.changeThreshold:"
        f" 0.25 here but safety.changeThreshold: 0.5 at {first}:3:20"
    ]


# --- the shipped JSON Schema -------------------------------------------------------------------


def _documents(path: Path) -> list[object]:
    """The documents as reconciler reads them (a key named ``on`` stays a string), with YAML
    dates as the text editors see (YAML 1.2 has no date type)."""
    docs, problems = load_documents(path.read_text(), str(path))
    assert problems == []
    return [_dates_as_text(doc.data) for doc in docs]


def _dates_as_text(value: object) -> object:
    if isinstance(value, dict):
        return {k: _dates_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(v) for v in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


def test_the_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(manifest_schema())


def test_the_shipped_schema_accepts_the_valid_examples() -> None:
    validator = Draft202012Validator(manifest_schema())
    examples = [
        FIXTURES / "valid" / "payments.yaml",
        FIXTURES / "valid" / "nested" / "search.yml",
        FIXTURES / "defaults.yaml",
        FIXTURES / "inline_secret.yaml",
        FIXTURES / "same_slot.yaml",
        FIXTURES / "safety.yaml",
    ]

    for path in examples:
        for doc in _documents(path):
            assert list(validator.iter_errors(doc)) == [], path


@pytest.mark.parametrize(
    "name",
    [
        "unknown_keys.yaml",
        "bad_integration_key.yaml",
        "bad_ports.yaml",
        "bad_region.yaml",
        "ignore_invalid.yaml",
        "safety_invalid.yaml",
    ],
)
def test_the_shipped_schema_rejects_invalid_documents(name: str) -> None:
    validator = Draft202012Validator(manifest_schema())

    assert any(list(validator.iter_errors(doc)) for doc in _documents(FIXTURES / name))


def test_the_shipped_schema_agrees_with_the_integration_table() -> None:
    defs = manifest_schema()["$defs"]

    for kind, fields in FIELDS.items():
        assert list(defs[f"{kind}Config"]["properties"]) == [f.key for f in fields]
    assert list(defs["anyConfig"]["properties"]) == [f.key for fs in FIELDS.values() for f in fs]
    assert defs["region"]["anyOf"][0]["enum"] == list(AWS_REGIONS)
    assert defs["roleArn"]["anyOf"][0]["pattern"] == ROLE_ARN_RE.pattern
    store = defs["store"]
    assert store["properties"]["integrationKey"]["enum"] == list(FIELDS)
    for kind in FIELDS:
        assert defs[f"{kind}IgnoreField"]["enum"] == list(ignore_fields(kind))
    assert defs["anyIgnoreField"]["enum"] == list(ANY_IGNORE_FIELDS)
    safety = manifest_schema()["properties"]["safety"]["properties"]
    assert (safety["changeThreshold"]["default"], safety["minStores"]["default"]) == (0.3, 10)


def test_every_property_in_the_shipped_schema_has_a_description() -> None:
    schema = manifest_schema()
    defs = schema["$defs"]
    owners = [("schema", schema), *((f"$defs.{name}", d) for name, d in defs.items())]
    owners += [("defaults", schema["properties"]["defaults"])]

    for where, owner in owners:
        for name, prop in owner.get("properties", {}).items():
            target = prop.get("$ref", "").rsplit("/", 1)[-1]
            described = "description" in prop or "description" in defs.get(target, {})
            assert described, f"{where}.{name}"
    assert json.loads(json.dumps(schema)) == schema  # plain JSON, loadable by editors
