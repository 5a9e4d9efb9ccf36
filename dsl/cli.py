"""The `dsl` command line: check, run, show (and the later stages' grad, emit, ...).

Every user error is printed like a compiler (file:line:col, the line, a caret) with exit status 1;
a Python traceback is never shown (set DSL_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

import dsl
from codegen import BACKENDS, TARGETS
from dsl.inputs import bind_functions, function_params, parse_dims, parse_grid, random_inputs, read_inputs
from dsl.outputs import collect, format_results, save
from grammar.errors import DslError, DslWarning
from semantics.program import DerivedDef, GeneratorDef, GenericDef, signature_of
from semantics.types import WireType


def cmd_check(args: argparse.Namespace) -> int:
    mod = dsl.load(args.file, fast_math=args.fast_math)
    width = max((len(n) for n in mod.names), default=0)
    for name in mod.names:
        d = mod.definition(name)
        if isinstance(d, DerivedDef):
            mod[name]  # derived definitions are derived here, so their errors surface now
        kind = _kind(d)
        print(f"{name:<{width}} : {signature_of(d)}{'   # ' + kind if kind else ''}")
    print(f"{args.file}: {len(mod.names)} definition(s) OK")
    return 0


def _kind(d: Any) -> str:
    if isinstance(d, DerivedDef):
        return f"{d.op}({d.target.split('#')[0]})"
    if isinstance(d, GeneratorDef):
        return "generator box"
    if isinstance(d, GenericDef):
        return "generic"
    return ""


def cmd_show(args: argparse.Namespace) -> int:
    mod = dsl.load(args.file, fast_math=args.fast_math)
    d = mod[args.name]
    print(f"# {args.name} : {d.signature}")
    print(d.show())
    if args.steps:
        print(f"\n# steps ({d.stats()['ops']} ops):")
        for step in mod.steps(args.name):
            print(step)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    grid = parse_grid(args.at) if args.at is not None else None
    mod = dsl.load(args.file, fast_math=args.fast_math)
    d = mod[args.name]
    names = d.param_names()
    args_by_name = _run_inputs(args, d.dom, names)
    arrays = [args_by_name[n] for n in names]
    if args.output:
        check_writable(args.output)  # before the run, which may be long
    fn = mod.compile(args.name, backend=args.backend)
    note = getattr(fn, "note", None)
    if note:  # a kernel backend running a functional through NumPy says so
        print(note, file=sys.stderr)
    t0 = time.perf_counter()
    out = fn(*arrays)  # running out of memory is an InputError saying how much the shapes need
    outs = list(out) if isinstance(out, tuple) else [out]
    results, points = collect(args.name, outs, d.cod, grid)  # (a function-valued result is evaluated here)
    elapsed = time.perf_counter() - t0
    print(format_results(results, grid, points))
    if args.time:
        print(f"time: {elapsed * 1e3:.3f} ms")
    if args.output:
        try:
            print(save(args.output, results, grid, points))
        except OSError as err:
            raise dsl.DslError(f"cannot write {args.output}: {err.strerror or err}") from None
    return 0


def _run_inputs(args: argparse.Namespace, dom: Sequence[WireType], names: Sequence[str]) -> dict[str, Any]:
    """Every parameter's value: functions from --fn, arrays from the input files or --random."""
    functions = bind_functions(args.fn or [], dom, names)
    unbound = [n for n in function_params(dom, names) if n not in functions]
    if unbound:
        t = dict(zip(names, dom))
        raise dsl.InputError(f"missing --fn for the function-typed parameter(s) "
                             f"{', '.join(f'{n}: {t[n]}' for n in unbound)}; bind each with a DSL lambda, "
                             f"e.g. --fn {unbound[0]}=\"x => exp(-x ^ 2)\"")
    array_names = [n for n in names if n not in functions]
    array_dom = [t for n, t in zip(names, dom) if n not in functions]
    if args.random is not None:
        if args.inputs:
            raise dsl.InputError("give either input files or --random SEED, not both")
        arrays = random_inputs(array_dom, array_names, args.random, parse_dims(args.dims))
    else:
        arrays = read_inputs(args.inputs, array_dom, array_names)
    return {**functions, **dict(zip(array_names, arrays))}


def check_writable(path: str) -> None:
    """An output path must name a file in an existing, writable folder (a clear error otherwise)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise dsl.DslError(f"cannot write {path}: it is a folder")
    if not os.path.isdir(folder):
        raise dsl.DslError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise dsl.DslError(f"cannot write {path}: permission denied")


def cmd_grad(args: argparse.Namespace) -> int:
    mod = dsl.load(args.file, fast_math=args.fast_math)
    d = mod[args.name]
    wrt = None
    if args.wrt:
        names = list(d.param_names())
        wrt = []
        for w in args.wrt.split(","):
            if w.strip() not in names:
                raise dsl.DerivativeError(f"--wrt: '{args.name}' has no parameter '{w.strip()}' "
                                          f"(parameters: {', '.join(names)})")
            wrt.append(names.index(w.strip()))
    from rewrite import derive

    g = derive(args.op, d, wrt, fast_math=args.fast_math)
    label = f"{args.op}_{args.name}"
    print(f"# {label} = {args.op}({args.name}{', wrt=' + args.wrt if args.wrt else ''}) : {g.signature}")
    print(f"# ops: {d.stats()['ops']} -> {g.stats()['ops']}")
    print(g.with_names(label).show())
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    mod = dsl.load(args.file, fast_math=args.fast_math)
    target = args.output or f"{args.name}.svg"
    check_writable(target)
    try:
        path = mod[args.name].draw(target, wire_types=not args.no_types)
    except (OSError, subprocess.CalledProcessError) as err:
        raise dsl.DslError(f"cannot write {target}: {getattr(err, 'strerror', None) or err}") from None
    print(f"wrote {path}")
    return 0


def cmd_emit(args: argparse.Namespace) -> int:
    mod = dsl.load(args.file, fast_math=args.fast_math)
    print(mod.emit(args.name, target=args.target))
    return 0


def cmd_repl(args: argparse.Namespace) -> int:
    from dsl.repl_ui import main as repl_main

    return repl_main(args.files)


# What each backend / target is, for --help. The names listed come from codegen's registry
# (BACKENDS, TARGETS), so help never advertises one that does not exist; one without a line here is
# still listed, by name.
BACKEND_HELP = {"numpy": "generated NumPy", "interpret": "reference interpreter",
                "c": "fused kernels compiled for the CPU with the system C compiler",
                "cupy": "the same kernels in CUDA"}
TARGET_HELP = {"c": "fused kernels as C + OpenMP", "cuda": "the same kernels in CUDA"}


def _choices(names: Sequence[str], about: dict[str, str]) -> str:
    """`numpy (generated NumPy, default), interpret (reference interpreter)`: every registered name."""
    def one(n: str) -> str:
        notes = [x for x in (about.get(n), "default" if n == "numpy" else None) if x]
        return f"{n} ({', '.join(notes)})" if notes else n

    return ", ".join(one(n) for n in names)


def _add_run_command(sub: Any) -> None:
    """`dsl run`: the command with the most options (inputs, functions, sampling grids, outputs)."""
    r = sub.add_parser("run", help="run a definition on inputs",
                       description="Run definition NAME of FILE. Inputs: .npy files (one per parameter, in "
                       "order), .npz/.json files holding arrays by parameter name, name=path items, or "
                       "--random SEED with --dims for the symbolic sizes. Function-typed parameters are bound "
                       "with --fn NAME=LAMBDA (DSL lambda text); a function-valued result is sampled on the "
                       "grid given by --at and printed as a table (or saved with -o).",
                       epilog="examples:\n"
                       "  dsl run model.dsl loss x.npy y.npy W.npy\n"
                       "  dsl run model.dsl loss --random 0 --dims B=64,D=8\n"
                       "  dsl run dft.dsl v_x --fn rho=\"x => exp(-x ^ 2)\" --at 0:1:101\n"
                       "  dsl run dft.dsl v_xc --fn rho=\"p => exp(-(p[0]^2 + p[1]^2 + p[2]^2))\" "
                       "--at 0:1:5,0:1:5,0:1:5 -o v.csv\n",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("file", help="a .dsl file")
    r.add_argument("name", help="the definition to run")
    r.add_argument("inputs", nargs="*", help="input files (.npy, .npz, .json) or name=path")
    r.add_argument("--random", type=int, metavar="SEED", help="random inputs from this seed")
    r.add_argument("--dims", metavar="n=1000,...", help="sizes of symbolic dims (with --random)")
    r.add_argument("--backend", default="numpy", help=_choices(BACKENDS, BACKEND_HELP))
    r.add_argument("--fn", action="append", metavar="NAME=LAMBDA",
                   help="bind a function-typed parameter to a DSL lambda, e.g. --fn rho=\"x => 1 + 0.5 * sin(pi * x)\" "
                   "(k-D: --fn u=\"p => p[0] * p[1]\"); repeat for each function parameter")
    r.add_argument("--at", metavar="GRID", help="sample function-valued results on this grid: start:stop:count per "
                   "coordinate, comma-separated (0:1:101 in 1-D, 0:1:11,0:1:11 in 2-D; a single number is a "
                   "one-point axis)")
    r.add_argument("-o", "--output", metavar="OUT", help="also save the outputs: .npz (out0, out1, ... and the "
                   "--at grid as 'points'), .npy (the one output), .csv (the sampled functions as a table)")
    r.add_argument("--time", action="store_true", help="print the run time")
    r.set_defaults(func=cmd_run)


def _add_draw_command(sub: Any) -> None:
    """The `draw` command: a definition as a string diagram, in the format OUT's extension names."""
    d = sub.add_parser("draw", help="draw a definition as a string diagram (SVG, PNG or Graphviz .dot)",
                       description="Draw definition NAME of FILE as a string diagram (inputs at the top, outputs at "
                       "the bottom). The extension of OUT picks the format: .svg (pure Python), .png (needs "
                       "the pure-pip rasteriser resvg_py: pip install 'dsl-diagrams[png]'), .dot (Graphviz text).")
    d.add_argument("file", help="a .dsl file")
    d.add_argument("name", help="the definition to draw")
    d.add_argument("-o", "--output", metavar="OUT", help="output path (default NAME.svg)")
    d.add_argument("--no-types", action="store_true", help="do not label wires with their types")
    d.set_defaults(func=cmd_draw)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dsl", description="Typed string diagrams: check, run, show, "
                                "differentiate and compile .dsl models.")
    p.add_argument("--version", action="version", version=f"dsl {dsl.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser("check", help="type-check a file and print every definition's signature",
                       description="Parse, type- and shape-check FILE (deriving derived definitions) and "
                       "print the signature of every definition.")
    c.add_argument("file", help="a .dsl file")
    c.set_defaults(func=cmd_check)

    _add_run_command(sub)

    s = sub.add_parser("show", help="print a definition as canonical DSL text",
                       description="Print definition NAME of FILE as canonical DSL text with its signature.")
    s.add_argument("file", help="a .dsl file")
    s.add_argument("name", help="the definition to show")
    s.add_argument("--steps", action="store_true", help="also print the optimisation stages (sizes, limits hit, "
                   "rules fired)")
    s.set_defaults(func=cmd_show)

    g = sub.add_parser("grad", help="print the derived gradient (or another derivative) as DSL text",
                       description="Derive op(NAME, wrt=...) of FILE and print it as DSL text.")
    g.add_argument("file", help="a .dsl file")
    g.add_argument("name", help="the definition to differentiate")
    g.add_argument("--wrt", metavar="a,b", help="parameters to differentiate with respect to (default: all float)")
    g.add_argument("--op", default="grad", choices=["grad", "value_and_grad", "vjp", "jvp", "hessian", "jacobian",
                                                     "simplify"], help="the operator (default grad)")
    g.set_defaults(func=cmd_grad)

    e = sub.add_parser("emit", help="print the generated source of a definition",
                       description="Print the generated source code of definition NAME of FILE.")
    e.add_argument("file", help="a .dsl file")
    e.add_argument("name", help="the definition to compile")
    e.add_argument("--target", default="numpy", help=_choices(TARGETS, TARGET_HELP) + "; c and cuda also print the "
                   "Python launcher that runs them")
    e.set_defaults(func=cmd_emit)

    _add_draw_command(sub)
    for command in sub.choices.values():  # (not the REPL, added below: it has its own settings)
        command.add_argument("--fast-math", action="store_true",
                             help="let the optimiser rewrite as for real numbers (x*0 -> 0, exp(log x) -> x, "
                                  "factoring); results may change at NaN, inf, -0 or negative inputs")

    rp = sub.add_parser("repl", help="the interactive derivation REPL",
                        description="An interactive session: type definitions (def, diagram, g = grad(f)) and "
                        "expressions; :help lists the commands (:grad, :steps, :eq, :draw, :emit, :run, ...). "
                        "With input from a pipe (dsl repl < session.txt) it prints a transcript.")
    rp.add_argument("files", nargs="*", metavar="FILE", help=".dsl files to load first")
    rp.set_defaults(func=cmd_repl)
    return p




def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """dsl warnings (an optimiser limit, ...) print like the errors, without a Python location."""
    if issubclass(category, DslWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


_PYTHON_SHOWWARNING = warnings.showwarning


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Like `parser.parse_args`, except that `dsl run` also takes its input files after options
    (`dsl run m.dsl f --fn rho=... x.npy`): argparse ends a `nargs="*"` positional at the first option."""
    args, extra = parser.parse_known_args(argv)
    unknown = [a for a in extra if a.startswith("-") or args.command != "run"]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra:
        args.inputs = [*args.inputs, *extra]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", DslWarning)
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except DslError as err:
        print(str(err), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:
        if os.environ.get("DSL_DEBUG"):
            traceback.print_exc()
        print(f"internal error: {type(err).__name__}: {err}\n(this is a bug in dsl; run with DSL_DEBUG=1 "
              "for details and report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
