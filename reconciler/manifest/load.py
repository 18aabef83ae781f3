"""Manifests to desired state: find the files, parse, interpolate, validate, remember positions.

``load_manifests`` reads every ``*.yaml``/``*.yml`` file under the given paths (``sources``;
sizes, nesting and aliases within ``limits``) and turns each document into ``DesiredStore``
values, in passes: ``${VAR}`` interpolation (``interpolation``); the shipped JSON Schema for
shape and types; the config rules of ``reconciler.integrations`` after ``defaults`` are merged;
the GitOps safety settings (``protect``, ``ignore``, ``safety``; ``manifest.safety``); and,
across files, duplicate addresses and conflicting project settings. Every problem is pinned to
``file:line:column`` and raised at once as a ``ManifestError``.

Secrets: a config value that came from ``${...}`` becomes a ``Secret`` (source ``env:NAME``);
``redis.password`` and ``dynamodb.externalId`` always are (inline: ``source="inline"`` and a
warning). ``name`` and ``tags`` from ``${...}`` are plain strings. No message shows a secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

from reconciler.errors import ManifestError, ManifestProblem
from reconciler.integrations import FIELDS, ConfigField, fields_by_key
from reconciler.manifest.fastcheck import surely_valid
from reconciler.manifest.interpolation import address_unset, interpolate_document
from reconciler.manifest.limits import DEFAULT_LIMITS, Limits
from reconciler.manifest.rules import (
    ANY_FIELD,
    check_config_value,
    checked_after_schema,
    env_refs,
    fmt_path,
    kind_of,
    schema_messages,
)
from reconciler.manifest.safety import (
    ANY_IGNORE_FIELDS,
    SAFETY_SETTINGS,
    SettingsBook,
    check_ignore_rule,
    ignore_fields,
    reserved_tag_problems,
)
from reconciler.manifest.sources import manifest_files, manifest_texts, validator
from reconciler.manifest.yamlfast import read_documents
from reconciler.manifest.yamlpos import Document, Path
from reconciler.model import (
    Address,
    ConfigValue,
    DesiredState,
    DesiredStore,
    IgnoreRule,
    IntegrationKey,
    Location,
    Secret,
)

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What the manifests declare, the warnings they raised, and the files that were read."""

    state: DesiredState
    warnings: tuple[str, ...]
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()


def load_manifests(
    paths: Sequence[str | FsPath],
    *,
    env: Mapping[str, str],
    require_env: bool = True,
    limits: Limits = DEFAULT_LIMITS,
) -> LoadResult:
    """Read, interpolate and validate every manifest under ``paths``, within ``limits``; raises
    ``ManifestError`` with every problem found (checking stops after ``limits.max_problems``).
    With ``require_env=False`` (offline ``validate``) an unset ``${VAR}`` is only a note."""
    run = _Run(env, require_env, limits)
    files = manifest_files(paths, run.problems)
    for display, text in manifest_texts(paths, files, limits, run.problems):
        if run.full:
            break
        docs, problems = read_documents(text, display, limits)
        run.problems.extend(problems)
        if not docs and not problems:
            run.warnings.append(f"{display}:1:1: file holds no YAML documents")
        for doc in docs:
            if not run.full:
                _DocumentCheck(run, doc).check()
    run.check_duplicates()
    if run.problems:
        raise ManifestError(list(dict.fromkeys(run.problems)), stopped=run.full)
    state = DesiredState(stores=tuple(run.stores), projects=run.settings.settings())
    return LoadResult(
        state=state,
        warnings=tuple(dict.fromkeys(run.warnings)),
        files=tuple(file.display for file in files),
        notes=tuple(dict.fromkeys(run.notes)),
    )


# --- the run: state gathered across files ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Declared:
    address: Address
    location: Location


@dataclass(slots=True)
class _Run:
    env: Mapping[str, str]
    require_env: bool = True
    limits: Limits = DEFAULT_LIMITS
    problems: list[ManifestProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stores: list[DesiredStore] = field(default_factory=list)
    declared: list[_Declared] = field(default_factory=list)
    settings: SettingsBook = field(default_factory=SettingsBook)

    def problem(self, where: Location, message: str) -> None:
        self.problems.append(ManifestProblem(where.file, where.line, where.column, message))

    @property
    def full(self) -> bool:
        """Enough problems gathered: checking stops (a huge broken file stays cheap)."""
        return len(self.problems) >= self.limits.max_problems

    def declare(self, project: str, setting: str, value: bool | float, where: Location) -> None:
        """A project setting (``prune``, ``safety.*``) that must agree across documents."""
        conflict = self.settings.declare(project, setting, value, where)
        if conflict is not None:
            self.problem(where, conflict)

    def check_duplicates(self) -> None:
        seen: dict[Address, Location] = {}
        for item in self.declared:
            first = seen.setdefault(item.address, item.location)
            if first != item.location:
                self.problem(
                    item.location,
                    f"store {item.address} is declared twice: here and at {first}",
                )


# --- one document --------------------------------------------------------------------------


class _DocumentCheck:
    """All passes over one document; adds problems, warnings and stores to the run."""

    def __init__(self, run: _Run, doc: Document) -> None:
        self.run = run
        self.doc = doc
        self.env_refs: dict[Path, tuple[str, ...]] = {}  # paths whose value used ${...}
        self.schema_paths: set[Path] = set()  # paths that have a schema error
        self.broken: set[Path] = set()  # paths with an unresolvable ${...}, already reported
        self.unset: set[Path] = set()  # the broken paths that only miss a variable (offline)

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> None:
        where = self.doc.key_location(path) if at_key else self.doc.location(path)
        self.run.problem(where, message)

    def check(self) -> None:
        self.doc.data, found = interpolate_document(self.doc.data, self.run.env,
                                                    require_env=self.run.require_env)  # fmt: skip
        self.env_refs, self.unset = found.env_refs, found.unset
        self.broken = found.broken | set(self.doc.refused)  # YAML-refused paths stay reported
        for at, message in found.problems:
            self.problem(at, message)
        self.run.notes.extend(f"{self.doc.location(at)}: {note}" for at, note in found.notes)
        if not surely_valid(self.doc.data):  # the full validator words what is wrong
            for error in validator().iter_errors(self.doc.data):
                if self.run.full:
                    break
                self._schema_problem(error)
        data = self.doc.data
        if not isinstance(data, dict):
            return
        project = data.get("project")
        if not isinstance(project, str) or not project:
            project = None  # reported by the schema; the rest of the document is still checked
        else:
            self._project_settings(project, data)
        defaults = data.get("defaults")
        defaults = defaults if isinstance(defaults, dict) else {}
        base_ignore = self._ignore_rules(defaults, ("defaults",), ANY_IGNORE_FIELDS, "any store")
        for at, message in reserved_tag_problems(defaults.get("tags"), ("defaults",)):
            self.problem(at, message)
        base_config = defaults.get("config")
        base_config = base_config if isinstance(base_config, dict) else {}
        for key, value in base_config.items():
            spec = ANY_FIELD.get(key)
            if spec is not None:
                self._config_value(spec, value, ("defaults", "config", key))
        stores = data.get("stores")
        if isinstance(stores, list):
            for i, store in enumerate(stores):
                if isinstance(store, dict) and not self.run.full:
                    self._store(project, defaults, base_config, base_ignore, store, ("stores", i))

    def _project_settings(self, project: str, data: dict[str, Any]) -> None:
        self.run.settings.projects.setdefault(project, self.doc.location(("project",)))
        if isinstance(data.get("prune"), bool):
            self.run.declare(project, "prune", data["prune"], self.doc.location(("prune",)))
        safety = data.get("safety")
        for key, value in safety.items() if isinstance(safety, dict) else ():
            path = ("safety", key)
            if (
                key in SAFETY_SETTINGS
                and isinstance(value, int | float)
                and path not in (self.schema_paths | self.broken)
            ):
                self.run.declare(project, f"safety.{key}", value, self.doc.location(path))

    def _ignore_rules(
        self, owner: dict[str, Any], path: Path, allowed: Sequence[str], scope: str
    ) -> list[tuple[Path, IgnoreRule]]:
        """The valid ignore rules of ``owner`` (a store or ``defaults``) with their paths;
        reports the others."""
        rules = owner.get("ignore")
        found: list[tuple[Path, IgnoreRule]] = []
        seen: dict[str, Location] = {}
        for i, rule in enumerate(rules if isinstance(rules, list) else ()):
            here: Path = (*path, "ignore", i)
            if not isinstance(rule, dict):
                continue  # reported by the schema
            checked = check_ignore_rule(rule, here, allowed, scope=scope, shown=self._shown)
            for at, message in checked.problems:
                if at not in self.broken:
                    self.problem(at, f"{fmt_path(at)}: {message}")
            name, at = checked.field, (*here, "field")
            if name is not None and name in seen:
                self.problem(at, f"{fmt_path(at)}: '{name}' is already ignored at {seen[name]}")
            elif name is not None:
                seen[name] = self.doc.location(here)
                if checked.reason is not None and checked.expires is not None:
                    accepted = IgnoreRule(name, checked.reason, checked.expires, seen[name])
                    found.append((here, accepted))
        return found

    # -- schema errors to messages --

    def _shown(self, path: Path, value: object) -> str:
        """How a message may show a value: never one that came from ${...}."""
        names = self.env_refs.get(path)
        if names:
            return f"the value of {env_refs(names)}"
        if path[-1:] == ("config",) and not isinstance(value, int | float):
            return kind_of(value)  # config text may hold a credential (a URL, a password)
        if isinstance(value, str):
            return repr(value) if len(value) <= 60 else "the value"
        return str(value) if isinstance(value, int | float) else kind_of(value)

    def _schema_problem(self, error: ValidationError) -> None:
        path: Path = tuple(error.absolute_path)
        if path in self.broken or checked_after_schema(path):
            return
        self.schema_paths.add(path)
        for at, message, at_key in schema_messages(
            error, shown=self._shown, interpolated=self.env_refs, integration=self._integration
        ):
            self.problem(at, message, at_key=at_key)

    # -- stores and config --

    def _store(
        self,
        project: str | None,
        defaults: dict[str, Any],
        base_config: dict[str, Any],
        base_ignore: list[tuple[Path, IgnoreRule]],
        store: dict[str, Any],
        path: Path,
    ) -> None:
        before = len(self.run.problems)
        environment, name = store.get("environment"), store.get("name")
        key = store.get("integrationKey")
        if not (isinstance(key, str) and key in FIELDS):
            return
        here = self.doc.location(path)
        addressed = bool(project and environment and name) and (
            isinstance(environment, str) and isinstance(name, str)
        )
        addressed = addressed and not address_unset(path, self.unset)  # unknown offline
        if addressed:  # checked for duplicates even when the rest of the store is wrong
            address = Address(str(project), str(environment), key, str(name))
            self.run.declared.append(_Declared(address, here))
        ignore = self._store_ignore(key, base_ignore, store, path)
        for at, message in reserved_tag_problems(store.get("tags"), path):
            self.problem(at, message)
        own = store.get("config")
        if not isinstance(own, dict):
            return
        config = self._store_config(key, base_config, own, path)
        if len(self.run.problems) > before or self.broken - self.unset or self.schema_paths:
            return  # the run fails anyway; build stores only from fully valid documents
        if not addressed:
            return
        tags = [*(defaults.get("tags") or []), *(store.get("tags") or [])]
        self.run.stores.append(
            DesiredStore(
                project=str(project),
                environment=str(environment),
                integration_key=cast(IntegrationKey, key),
                name=str(name),
                on=bool(store.get("on", defaults.get("on", False))),
                tags=tuple(dict.fromkeys(tags)),
                config=config,
                location=here,
                protect=bool(store.get("protect", defaults.get("protect", False))),
                ignore=ignore,
            )
        )

    def _store_config(
        self, key: str, base_config: dict[str, Any], own: dict[str, Any], path: Path
    ) -> dict[str, ConfigValue]:
        """The store's config over ``defaults.config``, each value checked and secrets wrapped."""
        fields, config_path = fields_by_key(key), (*path, "config")
        merged: dict[str, tuple[object, Path]] = {
            k: (v, ("defaults", "config", k)) for k, v in base_config.items()
        }
        merged.update({k: (v, (*config_path, k)) for k, v in own.items()})
        config: dict[str, ConfigValue] = {}
        for ckey, (value, origin) in merged.items():
            spec = fields.get(ckey)
            from_defaults = origin[0] == "defaults"
            if spec is None:
                if from_defaults and ckey in ANY_FIELD:
                    self.problem(
                        origin,
                        f"{fmt_path(origin)}: key '{ckey}' does not exist in {key} config, used by"
                        f" {fmt_path(path)} (allowed: {', '.join(fields)})",
                        at_key=True,
                    )
                continue
            checked = self._config_value(spec, value, origin, report=not from_defaults)
            if checked is not None:
                config[ckey] = self._wrap(key, spec, checked, origin)
        for spec in fields.values():
            if spec.required and spec.key not in merged:
                self.problem(
                    config_path,
                    f"{fmt_path(config_path)}: missing required key '{spec.key}' for {key}",
                )
        return config

    def _store_ignore(
        self, key: str, base: list[tuple[Path, IgnoreRule]], store: dict[str, Any], path: Path
    ) -> tuple[IgnoreRule, ...]:
        """The store's own rules, then those of ``defaults`` for fields it does not cover."""
        allowed = ignore_fields(key)
        own = [rule for _, rule in self._ignore_rules(store, path, allowed, f"{key} stores")]
        covered = {rule.field for rule in own}
        for at, rule in base:
            if rule.field not in allowed:
                self.problem(
                    (*at, "field"),
                    f"{fmt_path((*at, 'field'))}: field '{rule.field}' does not exist in {key}"
                    f" stores, used by {fmt_path(path)} (allowed: {', '.join(allowed)})",
                )
            elif rule.field not in covered:
                own.append(rule)
        return tuple(own)

    def _integration(self, store_path: Path) -> str:
        data = self.doc.data
        store = data["stores"][store_path[1]] if isinstance(data, dict) else None
        return str(store.get("integrationKey")) if isinstance(store, dict) else "?"

    def _wrap(self, kind: str, spec: ConfigField, value: str | bool, origin: Path) -> ConfigValue:
        names = self.env_refs.get(origin)
        if names:
            return Secret(str(value), f"env:{','.join(names)}")
        if spec.secret and isinstance(value, str):
            if value:
                self.run.warnings.append(
                    f"{self.doc.location(origin)}: inline secret: {kind} {spec.key} is written in"
                    " the manifest; use ${VAR}"
                )
            return Secret(value, "inline")
        return value

    def _config_value(
        self, spec: ConfigField, value: object, path: Path, *, report: bool = True
    ) -> str | bool | None:
        """The value normalised (ports as strings), or None after reporting what is wrong."""
        if path in self.broken:
            return None
        message, normal = check_config_value(spec, value, "")  # worded again only if wrong
        if message is not None and report:
            shown = self._shown_config(spec, path, value)
            self.problem(path, f"{fmt_path(path)}: {check_config_value(spec, value, shown)[0]}")
        return normal

    def _shown_config(self, spec: ConfigField, path: Path, value: object) -> str:
        if spec.secret and path not in self.env_refs:
            return "the value"
        return self._shown(path, value)
