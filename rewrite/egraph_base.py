"""What an e-graph's egglog instance is declared with, as plain text (rewrite/egraph.py, the only
module that talks to egglog, declares it): the schema, a rule table and an extension (`Base`).
Each rule of the table goes alone in a rule set `rs-k` and is declared the first time an e-graph
may run it; a stage rule set (`algebra`, ...) combines its rules in table order."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from rewrite.egraph_encoding import LOWERING, SCHEMA, RuleOps
from rewrite.rules import STAGES, Rule


@dataclass(frozen=True)
class Extension:
    """Declarations another module adds to every e-graph of its kind (the JVP tangent sort): egglog
    text declared with the schema, the constructors that then count in `size()`, and the rule
    names `run_step` reports."""

    program: str = ""
    constructors: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Base:
    """A declared state: the schema, one rule table (with the box ids it mentions) and an extension.
    `program` declares the schema, an empty rule set `rs-k` per rule of the table, the stage rule
    sets that combine them and the extension; `rules[k]` declares rule k into `rs-k`, when an
    e-graph first needs it (`EGraph._need`)."""

    program: str
    rules: tuple[str, ...]
    rule_names: frozenset[str]
    rule_sets: frozenset[str]
    counted: frozenset[str]
    ops: tuple[RuleOps, ...]  # per rule of the table, in order (rule k is alone in rule set rs-k)
    stages: tuple[tuple[str, tuple[int, ...]], ...]  # stage rule set -> its rules (indices)


@functools.lru_cache(maxsize=16)
def base_of(rules: tuple[Rule, ...], ext: Extension, boxes: tuple[tuple[str, int], ...]) -> Base:
    """Each rule of the table goes alone in a rule set `rs-k`, and a stage rule set (`algebra`, ...)
    combines its rules, so a step can run the subset of a stage that can match (`_stage_ruleset`)."""
    texts, decls = [], []
    for k, r in enumerate(rules):
        text, tail = r.egglog(dict(boxes)), f':ruleset {r.stage} :name "{r.name}")'
        assert text.endswith(tail), text
        texts.append(f"(ruleset rs-{k})")
        decls.append(f"{text[:-len(tail)]}:ruleset rs-{k} :name \"{r.name}\")")
    names = sorted({r.stage for r in rules} | {rs for _, sets in STAGES for rs in sets})
    stages = tuple((rs, tuple(k for k, r in enumerate(rules) if r.stage == rs)) for rs in names)
    texts += [f"(unstable-combined-ruleset {rs} {' '.join(f'rs-{k}' for k in ks)})" for rs, ks in stages]
    return Base("\n".join([SCHEMA, *texts, ext.program]), tuple(decls),
                 frozenset(r.name for r in rules) | frozenset(ext.rules),
                 frozenset(r.stage for r in rules), frozenset(LOWERING) | frozenset(ext.constructors),
                 tuple(RuleOps.of(r) for r in rules), stages)
