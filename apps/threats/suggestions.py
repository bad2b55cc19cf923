"""The suggestion rule engine: which ATLAS techniques to propose for an asset, and why.

The rules are data, in one file (apps/threats/rules/suggestions.yaml, documented in
docs/threat-suggestions.md), so that security staff review and extend them without touching
code. This module loads and checks them (an unknown fact, operator or asset kind is refused at
load, not silently never matched) and evaluates them over `apps.threats.assets.asset_facts`.
It is pure: no database access; apps.threats.services_suggestions stores the results.
"""

import hashlib
import json
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from apps.threats.assets import FACTS
from apps.threats.choices import AssetKind

RULES_FILE = Path(__file__).resolve().parent / "rules" / "suggestions.yaml"
ATLAS_TECHNIQUE_ID = re.compile(r"^AML\.T\d{4}(\.\d{3})?$")
OPERATORS = ("is", "any_of", "none_of")
COMBINATORS = ("any", "all", "not")


class RuleError(ValueError):
    """The rule file is malformed; the message names the rule and the problem."""


@dataclass(frozen=True)
class ProposedTechnique:
    atlas_id: str
    likelihood: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    applies_to: frozenset[str]
    when: dict
    techniques: tuple[ProposedTechnique, ...]
    reason: str
    facts_read: frozenset[str]


@dataclass
class Proposal:
    """One technique proposed for an asset, merged over every rule that proposes it."""

    atlas_id: str
    rule_ids: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    likelihood_hint: int | None = None
    facts_read: set[str] = field(default_factory=set)

    @property
    def reason(self) -> str:
        return "\n".join(self.reasons)

    def facts_hash(self, facts: dict) -> str:
        """Fingerprint of what the proposing rules read: changes when those facts change."""
        read = {name: facts.get(name) for name in sorted(self.facts_read)}
        payload = json.dumps({"rules": sorted(self.rule_ids), "facts": read}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


# --- Loading and checking -----------------------------------------------------------------------


def _check_condition(condition, rule_id: str, read: set[str]) -> None:
    if not isinstance(condition, dict) or not condition:
        raise RuleError(f"Rule {rule_id}: a condition must be a non-empty mapping.")
    for key, value in condition.items():
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                raise RuleError(f"Rule {rule_id}: '{key}' needs a non-empty list of conditions.")
            for item in value:
                _check_condition(item, rule_id, read)
        elif key == "not":
            _check_condition(value, rule_id, read)
        elif key in FACTS:
            read.add(key)
            if isinstance(value, dict):
                if len(value) != 1 or next(iter(value)) not in OPERATORS:
                    raise RuleError(
                        f"Rule {rule_id}: fact '{key}' needs exactly one of {OPERATORS}."
                    )
                operator, operand = next(iter(value.items()))
                if operator != "is" and not isinstance(operand, list):
                    raise RuleError(f"Rule {rule_id}: '{operator}' needs a list.")
            elif isinstance(value, list):
                raise RuleError(f"Rule {rule_id}: use {{any_of: [...]}} for a list on '{key}'.")
        else:
            raise RuleError(f"Rule {rule_id}: unknown fact or operator '{key}'.")


def _parse_rule(raw, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError("Each rule must be a mapping.")
    rule_id = str(raw.get("id") or "").strip()
    if not rule_id:
        raise RuleError("A rule has no id.")
    if rule_id in seen:
        raise RuleError(f"Rule id {rule_id} is used twice.")
    seen.add(rule_id)
    missing = [key for key in ("description", "applies_to", "when", "techniques", "reason")
               if not raw.get(key)]
    if missing:
        raise RuleError(f"Rule {rule_id}: missing {', '.join(missing)}.")
    applies_to = frozenset(raw["applies_to"])
    if not applies_to <= set(AssetKind.values):
        raise RuleError(f"Rule {rule_id}: applies_to must be among {AssetKind.values}.")
    read: set[str] = set()
    _check_condition(raw["when"], rule_id, read)
    techniques = []
    for item in raw["techniques"]:
        item = item if isinstance(item, dict) else {"id": item}
        atlas_id = str(item.get("id", ""))
        if not ATLAS_TECHNIQUE_ID.match(atlas_id):
            raise RuleError(f"Rule {rule_id}: {atlas_id!r} is not an ATLAS technique id.")
        likelihood = item.get("likelihood")
        if likelihood is not None and (
            not isinstance(likelihood, int) or isinstance(likelihood, bool)
            or not 1 <= likelihood <= 5
        ):
            raise RuleError(f"Rule {rule_id}: likelihood of {atlas_id} must be 1 to 5.")
        techniques.append(ProposedTechnique(atlas_id, likelihood))
    reason = " ".join(str(raw["reason"]).split())
    placeholders = {name for _, name, _, _ in string.Formatter().parse(reason) if name}
    unknown = placeholders - set(FACTS)
    if unknown:
        raise RuleError(f"Rule {rule_id}: the reason names unknown facts {sorted(unknown)}.")
    return Rule(
        id=rule_id,
        description=" ".join(str(raw["description"]).split()),
        applies_to=applies_to,
        when=raw["when"],
        techniques=tuple(techniques),
        reason=reason,
        facts_read=frozenset(read | placeholders),
    )


def parse_rules(document) -> tuple[Rule, ...]:
    """Check a parsed rule document and return its rules; RuleError names what is wrong."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleError("The rule file needs a top-level 'rules' list.")
    seen: set[str] = set()
    return tuple(_parse_rule(raw, seen) for raw in document["rules"])


@lru_cache(maxsize=4)
def load_rules(path: Path = RULES_FILE) -> tuple[Rule, ...]:
    """The rules of a rule file (cached per process: the file ships with the code)."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RuleError(f"Cannot read the rule file {path}: {exc}") from exc
    return parse_rules(document)


# --- Evaluation ---------------------------------------------------------------------------------


def _test(value, condition) -> bool:
    if not isinstance(condition, dict):
        return value == condition
    operator, operand = next(iter(condition.items()))
    values = set(value) if isinstance(value, list) else {value}
    if operator == "is":
        return value == operand
    if operator == "any_of":
        return bool(values & set(operand))
    return not values & set(operand)  # none_of


def matches(condition: dict, facts: dict) -> bool:
    """Whether every part of a (checked) condition holds for these facts."""
    for key, value in condition.items():
        if key == "any":
            ok = any(matches(item, facts) for item in value)
        elif key == "all":
            ok = all(matches(item, facts) for item in value)
        elif key == "not":
            ok = not matches(value, facts)
        else:
            ok = _test(facts.get(key), value)
        if not ok:
            return False
    return True


def _render(template: str, facts: dict) -> str:
    def show(value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        return str(value)

    return template.format_map({name: show(facts.get(name)) for name in FACTS})


def evaluate(facts: dict, rules: tuple[Rule, ...] | None = None) -> list[Proposal]:
    """The techniques the rules propose for an asset with these facts, one Proposal each,
    in rule-file order."""
    rules = load_rules() if rules is None else rules
    proposals: dict[str, Proposal] = {}
    for rule in rules:
        if facts.get("kind") not in rule.applies_to or not matches(rule.when, facts):
            continue
        reason = _render(rule.reason, facts)
        for technique in rule.techniques:
            proposal = proposals.setdefault(technique.atlas_id, Proposal(technique.atlas_id))
            proposal.rule_ids.append(rule.id)
            if reason not in proposal.reasons:
                proposal.reasons.append(reason)
            proposal.facts_read |= rule.facts_read
            if technique.likelihood is not None:
                proposal.likelihood_hint = max(proposal.likelihood_hint or 0,
                                               technique.likelihood)
    return list(proposals.values())
