"""The REPL's `:commands`, one table: name -> (handler, usage, help). `:help` and completion read it.

>>> from dsl.repl import Session
>>> s = Session()
>>> print(run_command(s, ":help type"))
:type NAME...
    the signature of a definition or binding
>>> try:
...     run_command(s, ":grda f")
... except DslError as err:
...     print(err)
error: unknown command ':grda'; did you mean :grad?
"""

from __future__ import annotations

import difflib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grammar.errors import DslError
from semantics.types import FunType, TensorType

Handler = Callable[..., str]


@dataclass(frozen=True)
class Command:
    handler: Handler
    usage: str
    help: str


def _need(args: list[str], n: int, usage: str) -> None:
    if len(args) < n:
        raise DslError(f"usage: {usage}")


def _derive(op: str) -> Handler:
    def run(s, args: list[str], raw: str) -> str:
        _need(args, 1, COMMANDS[op].usage)
        name, wrt_names = args[0], [w for a in args[1:] for w in a.split(",") if w]
        d = s.mod[name]
        wrt = None
        if wrt_names:
            params = list(d.param_names())
            for w in wrt_names:
                if w not in params:
                    raise DslError(f"'{name}' has no parameter '{w}' (parameters: {', '.join(params)})")
            wrt = [params.index(w) for w in wrt_names]
        from rewrite import derive

        g = derive(op, d, wrt)
        label = f"{op}_{name}"
        head = f"# {label} = {op}({name}{', wrt=' + ','.join(wrt_names) if wrt_names else ''}) : {g.signature}"
        return f"{head}\n# ops: {d.stats()['ops']} -> {g.stats()['ops']}\n{g.with_names(label).show()}"

    return run


def _type(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["type"].usage)
    return "\n".join(s.describe(a) for a in args)


def _show(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["show"].usage)
    d = s.mod[args[0]]
    return f"# {args[0]} : {d.signature}\n{d.show()}"


def _steps(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["steps"].usage)
    d = s.mod[args[0]]
    steps = s.mod.steps(args[0])
    return f"# {args[0]} : {d.signature} ({d.stats()['ops']} ops)\n" + "\n".join(str(st) for st in steps)


def _eq(s, args: list[str], raw: str) -> str:
    _need(args, 2, COMMANDS["eq"].usage)
    from rewrite import prove_equal, simplify

    a, b = s.mod[args[0]], s.mod[args[1]]
    result = prove_equal(a, b)
    if result is False:
        return f"not equal: {args[0]} : {a.signature} but {args[1]} : {b.signature}"
    if result is None:
        return f"not proven within limits: {args[0]} = {args[1]} (the e-graph did not merge them; they may still be equal)"
    sa, sb = simplify(a).with_names("it"), simplify(b).with_names("it")
    evidence = ("both simplify to:\n" + sa.show()) if sa == sb else (
        "the e-graph rewrite rules merged their outputs (their cheapest forms differ:\n"
        f"{sa.show()}\n{sb.show()})")
    return f"proved: {args[0]} = {args[1]}\n{evidence}"


def _draw(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["draw"].usage)
    path = args[1] if len(args) > 1 else f"{args[0]}.svg"
    return f"wrote {s.mod[args[0]].draw(path)}"


def _emit(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["emit"].usage)
    return s.mod.emit(args[0], target=args[1] if len(args) > 1 else "numpy")


def _inputs(s, name: str, args: list[str]) -> list[Any]:
    """Arguments of `:run`/`:time`: let names (arrays or function values) or JSON values, else random
    ones (dims from n=... items, 4 by default, seed=... for the generator); `at=` is `:run`'s."""
    from dsl.inputs import function_params, random_inputs

    d = s.mod[name]
    opts = dict(a.split("=", 1) for a in args if "=" in a and not a.startswith(("[", "{")))
    values = [a for a in args if a not in {f"{k}={v}" for k, v in opts.items()}]
    opts.pop("at", None)
    if values:
        if len(values) != len(d.dom):
            raise DslError(f"'{name}' takes {len(d.dom)} argument(s) ({', '.join(d.param_names())}), got {len(values)}")
        return [s.lets[v] if v in s.lets else s.value(v) for v in values]
    try:
        dims = {k: int(v) for k, v in opts.items() if k != "seed"}
        seed = int(opts.get("seed", 0))
    except ValueError:
        raise DslError("sizes and seed are integers: n=100 seed=1") from None
    functions = function_params(d.dom, d.param_names())
    if functions:
        raise DslError(f"'{name}' takes function-typed parameter(s) {', '.join(functions)}: bind each with "
                       f":let {functions[0]} = x => ... and pass all the arguments, e.g. :run {name} "
                       f"{' '.join(d.param_names())}")
    for t in d.dom:
        if isinstance(t, TensorType):
            for dim in t.shape:
                for atom in dim.atoms:
                    dims.setdefault(atom, 4)
    return random_inputs(d.dom, d.param_names(), seed, dims)


def _run(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["run"].usage)
    from dsl.inputs import parse_grid
    from dsl.outputs import collect, format_results
    from dsl.repl import format_values

    at = [a.split("=", 1)[1] for a in args[1:] if a.startswith("at=")]
    grid = parse_grid(at[-1], "at=") if at else None
    arrays = _inputs(s, args[0], args[1:])
    out = s.mod.compile(args[0])(*arrays)
    outs = list(out) if isinstance(out, tuple) else [out]
    cod = s.mod[args[0]].cod
    if grid is None and not any(isinstance(t, FunType) for t in cod):
        return format_values(outs, [f"{args[0]}[{i}]" for i in range(len(outs))] if len(outs) > 1 else [args[0]])
    results, points = collect(args[0], outs, cod, grid, "at=")
    return format_results(results, grid, points)


def _time(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["time"].usage)
    arrays = _inputs(s, args[0], args[1:])
    fn = s.mod.compile(args[0])
    fn(*arrays)  # warm up (compilation happened above)
    runs, total, best = 0, 0.0, float("inf")
    while runs < 3 or (total < 0.5 and runs < 1000):
        t0 = time.perf_counter()
        fn(*arrays)
        elapsed = time.perf_counter() - t0
        runs, total, best = runs + 1, total + elapsed, min(best, elapsed)
    shapes = ", ".join("×".join(map(str, a.shape)) or "scalar" for a in arrays)
    return f"{args[0]}({shapes}): best {best * 1e3:.3f} ms, mean {total / runs * 1e3:.3f} ms over {runs} runs"


def _load(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["load"].usage)
    out = []
    for path in args:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as err:
            raise DslError(f"cannot read {path}: {err.strerror}") from None
        s.base_dir = os.path.dirname(os.path.abspath(path))  # its imports are relative to it
        names = s.add_source(text, path)
        if path not in s.files:
            s.files.append(path)
        out.append(f"loaded {path}: {', '.join(names) or 'no definitions'}")
    return "\n".join(out)


def _reload(s, args: list[str], raw: str) -> str:
    if not s.files:
        return "nothing to reload (no :load yet)"
    return _load(s, list(s.files), raw)


def _save(s, args: list[str], raw: str) -> str:
    _need(args, 1, COMMANDS["save"].usage)
    try:
        with open(args[0], "w", encoding="utf-8") as f:
            f.write(s.source())
    except OSError as err:
        raise DslError(f"cannot write {args[0]}: {err.strerror}") from None
    return f"wrote {len(s.entries)} form(s) to {args[0]}"


def _names(s, args: list[str], raw: str) -> str:
    lines = [s.describe(n) for n in s.names] + [s.describe(n) for n in sorted(s.lets)]
    if s.dims:
        lines.insert(0, f"dim {', '.join(s.dims)}")
    return "\n".join(lines) or "no definitions yet"


def _let(s, args: list[str], raw: str) -> str:
    return str(s.let(raw.split(None, 1)[1] if len(raw.split(None, 1)) > 1 else ""))


def _help(s, args: list[str], raw: str) -> str:
    if args:
        cmd = _lookup(args[0].lstrip(":"))
        return f"{cmd.usage}\n    {cmd.help}"
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = ["Type top-level forms (dim, def, diagram, box, import, g = grad(f, wrt=x)) to define them,",
             "or an expression to evaluate it on the :let bindings. Enter submits a complete input;",
             "an unfinished one continues on the next line. Ctrl-C clears the input, Ctrl-D exits.", ""]
    lines += [f"{c.usage:<{width}}  {c.help}" for c in COMMANDS.values()]
    return "\n".join(lines)


def _quit(s, args: list[str], raw: str) -> str:
    from dsl.repl import Quit

    raise Quit()


COMMANDS: dict[str, Command] = {
    "type": Command(_type, ":type NAME...", "the signature of a definition or binding"),
    "show": Command(_show, ":show NAME", "the definition as canonical DSL text"),
    "grad": Command(_derive("grad"), ":grad NAME [wrt...]", "the gradient as DSL text (not added to the session)"),
    "vjp": Command(_derive("vjp"), ":vjp NAME [wrt...]", "the vector-Jacobian product"),
    "jvp": Command(_derive("jvp"), ":jvp NAME [wrt...]", "the Jacobian-vector product"),
    "hessian": Command(_derive("hessian"), ":hessian NAME [wrt...]", "the Hessian"),
    "jacobian": Command(_derive("jacobian"), ":jacobian NAME [wrt...]", "the Jacobian"),
    "simplify": Command(_derive("simplify"), ":simplify NAME", "the e-graph optimised definition"),
    "steps": Command(_steps, ":steps NAME", "the derivation trace: linearize, transpose, e-graph stages, rules fired"),
    "eq": Command(_eq, ":eq A B", "prove A = B with the e-graph rules"),
    "draw": Command(_draw, ":draw NAME [FILE]", "draw the string diagram (FILE .svg/.png/.dot, default NAME.svg)"),
    "emit": Command(_emit, ":emit NAME [numpy|c|cuda]", "the generated source"),
    "run": Command(_run, ":run NAME [ARG...] [n=SIZE...] [seed=S] [at=GRID]",
                   "run on :let names or JSON values, or on random inputs (dims 4 unless given); a "
                   "function-valued result is sampled on at=0:1:11 (k-D: at=0:1:5,0:1:5)"),
    "time": Command(_time, ":time NAME [ARG...] [n=SIZE...]", "time the compiled NumPy function"),
    "let": Command(_let, ":let NAME [: dtype] = VALUE", "bind a value (number, JSON list, or expression)"),
    "load": Command(_load, ":load FILE...", "add a file's definitions to the session"),
    "reload": Command(_reload, ":reload", "read the loaded files again"),
    "save": Command(_save, ":save FILE", "write the session's definitions as a .dsl file"),
    "names": Command(_names, ":names", "everything defined or bound"),
    "help": Command(_help, ":help [COMMAND]", "this list, or one command's help"),
    "quit": Command(_quit, ":quit", "leave (Ctrl-D works too)"),
}


def _lookup(name: str) -> Command:
    if name in COMMANDS:
        return COMMANDS[name]
    close = difflib.get_close_matches(name, list(COMMANDS), n=1, cutoff=0.5)
    hint = f"; did you mean :{close[0]}?" if close else "; :help lists the commands"
    raise DslError(f"unknown command ':{name}'{hint}")


def split_args(text: str) -> list[str]:
    """Words separated by spaces outside brackets, so `[1.0, 2.0]` stays one argument.

    >>> split_args("run f [1.0, 2.0] n=3")
    ['run', 'f', '[1.0, 2.0]', 'n=3']
    """
    words, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        if ch.isspace() and depth <= 0:
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += ch
    return [*words, cur] if cur else words


def run_command(s, text: str) -> str:
    """Run one `:command` line on session `s`."""
    words = split_args(text[1:])
    if not words:
        raise DslError("empty command; :help lists the commands")
    return _lookup(words[0]).handler(s, words[1:], text)
