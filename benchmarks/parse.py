"""Parsing speed: lines per second of `grammar.parse` (text -> AST, spans and checks included).

    .venv/bin/python benchmarks/parse.py                      # both workloads, 100,000 lines each
    .venv/bin/python benchmarks/parse.py --lines 20000        # smaller
    .venv/bin/python benchmarks/parse.py --engine lark        # the reference (Lark) path only
    .venv/bin/python benchmarks/parse.py --out benchmarks/RESULTS.md   # also write the section

Workloads (each in a fresh process, after one small warm-up parse so the cached LALR tables are
loaded: their load time is reported separately):

- **defs**: N one-line defs `def fK(x: f64[n], y: f64[n]) -> f64[n] { return x * K.5 + sin(y) }`;
- **bigdef**: one def of N one-line statements `vK = vK-1 * y + 2.5` (as in `scaling.py`);
- **varied**: N one-line defs like `defs` but with random names (2-7 letters) and numbers (1-6
  decimals) on every line, and spaces around some operators or not: little repeats from line to
  line, so it shows what the tokenizer's per-parse memo of repeated pieces and lexemes is worth;
- **models**: real model files (every `examples/*.dsl`, `dsl/stdlib.dsl` and the conformance cases
  that parse: comments, multi-line defs, point-free diagrams, strings, functionals), copied until
  there are N lines, every name in copy k renamed `name_k` (keywords, dtypes and the names the
  grammar checks kept), so no name repeats from one copy to the next.

Engines: `fast` is `grammar.parse` as users get it (the direct parser, with the Lark path as the
fallback for errors); `lark` forces the reference path (Lark LALR parse tree + `AstBuilder`), which
is what every input took before the direct parser. The time is CPU time of the measuring process
(`time.process_time`), which a loaded shared machine disturbs least, the best of `--repeat` runs
(the Lark path runs once: it takes minutes); wall time is shown as well.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import re
import string
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTION = "## Parsing speed"
TARGET = 20_000  # lines/s (issue 7)


def defs_source(n: int) -> str:
    """n one-line defs."""
    lines = ["dim n"]
    lines += [f"def f{k}(x: f64[n], y: f64[n]) -> f64[n] {{ return x * {k % 7}.5 + sin(y) }}" for k in range(n)]
    return "\n".join(lines) + "\n"


def bigdef_source(n: int) -> str:
    """One def with n statements, each reading the previous one and a parameter."""
    lines = ["dim n", "def f(x: f64[n], y: f64[n]) -> f64[n] {", "    v0 = x"]
    lines += [f"    v{k} = v{k - 1} * y + {k % 7}.5" for k in range(1, n + 1)]
    lines += [f"    return v{n}", "}"]
    return "\n".join(lines) + "\n"


def varied_source(n: int, seed: int = 0) -> str:
    """n one-line defs with random names and numbers (deterministic for a seed)."""
    rng = random.Random(seed)

    def name() -> str:  # (a leading "v" keeps keywords such as `as` out)
        return "v" + "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 7)))

    lines = ["dim n"]
    for k in range(n):
        a, b, sp = name(), name(), rng.choice(["", " "])
        c = f"{rng.random() * 100:.{rng.randint(1, 6)}f}"
        op1, op2, fn = rng.choice("+-*/"), rng.choice("+-*"), rng.choice(["sin", "cos", "exp", "tanh"])
        lines.append(f"def {name()}{k}({a}: f64[n], {b}: f64[n]) -> f64[n] "
                     f"{{ return {a}{sp}{op1}{sp}{c} {op2} {fn}({b}{sp}*{sp}{a}) }}")
    return "\n".join(lines) + "\n"


def _model_files() -> list[str]:
    """The texts of the real model files that parse (the conformance error cases do not)."""
    from grammar import ParseError, parse

    paths = sorted(glob.glob(os.path.join(ROOT, "examples", "*.dsl"))) + [os.path.join(ROOT, "dsl", "stdlib.dsl")]
    paths += sorted(glob.glob(os.path.join(ROOT, "..", "shared", "conformance", "cases", "*.dsl")))
    texts = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            parse(text, path)
        except ParseError:
            continue
        texts.append(text)
    return texts


def models_source(n: int) -> str:
    """Real model files, copied to at least n lines, with the names of copy k renamed `name_k`."""
    from grammar import build
    from grammar.parser import keywords

    corpus = "\n".join(_model_files()) + "\n"
    # (kept: what the parser itself checks by name, so that the text stays in the language)
    kept = {*keywords(), *build.DTYPES, *build.DERIVED_OPS, *build.STRUCTURAL_ARITY, "I", "wrt", "n", "over"}
    ident = re.compile(r"\b[A-Za-z_]\w*")
    copies = -(-n // corpus.count("\n"))

    def renamed(k: int) -> str:
        return ident.sub(lambda m: m[0] if m[0] in kept else f"{m[0]}_{k}", corpus)

    return "".join(map(renamed, range(copies)))


WORKLOADS = {"defs": defs_source, "bigdef": bigdef_source, "varied": varied_source, "models": models_source}
EXPECTED_DECLS = {"defs": lambda n: n + 1, "bigdef": lambda n: 2, "varied": lambda n: n + 1}


def measure(workload: str, n: int, engine: str, repeat: int) -> dict[str, float]:
    """Parse one workload of n lines in this process; returns seconds and lines/s."""
    from grammar import parser

    c0 = time.process_time()
    parser.parse("def warm(x: f64) -> f64 { return x }", "warm.dsl")  # loads the cached tables
    tables = time.process_time() - c0
    text = WORKLOADS[workload](n)
    lines = text.count("\n")
    run = parser.parse if engine == "fast" else parser.parse_with_lark
    best = {"cpu": math.inf, "wall": math.inf}
    for _ in range(repeat):  # the best of `repeat` runs: the least disturbed by other processes
        c0, t0 = time.process_time(), time.perf_counter()
        module = run(text, f"{workload}.dsl")
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        assert workload not in EXPECTED_DECLS or len(module.decls) == EXPECTED_DECLS[workload](n)
        del module
        best = {"cpu": min(best["cpu"], cpu), "wall": min(best["wall"], wall)}
    tokens = len(parser._lexicon().tokenize(text).kinds) - 1  # (without the end marker)
    return {"lines": lines, "tokens": tokens, **best, "lines_per_s": lines / best["cpu"],
            "tokens_per_s": tokens / best["cpu"], "tables_cpu": tables}


def run_fresh(workload: str, n: int, engine: str, repeat: int) -> dict[str, float]:
    cmd = [sys.executable, os.path.abspath(__file__), "--measure", workload, str(n), engine, str(repeat)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def table(rows: list[tuple[str, str, dict[str, float]]]) -> str:
    out = ["| workload | engine | lines | tokens | CPU (s) | wall (s) | lines/s (CPU) | tokens/s (CPU) | target "
           "| tables load, CPU (s) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for workload, engine, r in rows:
        out.append(f"| {workload} | {engine} | {r['lines']:,.0f} | {r['tokens']:,.0f} | {r['cpu']:.2f} | {r['wall']:.2f} "
                   f"| {r['lines_per_s']:,.0f} | {r['tokens_per_s']:,.0f} | ≥ {TARGET:,} lines/s | {r['tables_cpu']:.3f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000, help="size of each workload (default 100,000)")
    ap.add_argument("--engine", choices=("fast", "lark", "both"), default="both")
    ap.add_argument("--only", default="", help="workloads whose name contains this text")
    ap.add_argument("--out", help="write the table as the '## Parsing speed' section of this file")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the fastest is reported (default 3)")
    ap.add_argument("--measure", nargs=4, metavar=("WORKLOAD", "N", "ENGINE", "REPEAT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]), args.measure[2], int(args.measure[3]))))
        return 0
    engines = ("fast", "lark") if args.engine == "both" else (args.engine,)
    rows = []
    for workload in WORKLOADS:
        if args.only not in workload:
            continue
        for engine in engines:
            r = run_fresh(workload, args.lines, engine, 1 if engine == "lark" else args.repeat)
            print(f"{workload:7s} {engine:5s} {json.dumps(r)}", flush=True)
            rows.append((workload, engine, r))
    text = table(rows)
    print(text)
    if args.out:
        from benchmarks.scaling import machine_and_load, write_section  # the one RESULTS.md section writer

        machine, load = machine_and_load()
        cmd = f"python benchmarks/parse.py --lines {args.lines} --engine {args.engine} --repeat {args.repeat}"

        write_section(args.out, f"{SECTION}\n\nMachine: {machine}, load average {load} when written. "
                                f"Command: `{cmd}` (each row in a fresh process; `benchmarks/parse.py` "
                                f"documents the workloads).\n\n{text}\n", SECTION)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main())
