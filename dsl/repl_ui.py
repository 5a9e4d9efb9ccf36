"""The REPL's terminal side: a prompt_toolkit prompt on a terminal, a plain line loop otherwise.

- On a terminal: multi-line input where Enter submits only a complete input (the DSL's parser
  decides, see `Session.is_complete`), syntax highlighting with the DSL's Pygments lexer, bracket
  matching, Tab completion (names in scope, primitives, the standard library, keyword arguments,
  commands), history in `$XDG_STATE_HOME/dsl/repl_history`. Ctrl-C clears the input, Ctrl-D exits.
- With `TERM=dumb`, or when stdin is not a terminal (`dsl repl < session.txt`), a plain loop reads
  lines; from a pipe it echoes each input after its prompt, so the output is a transcript.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from dsl.repl import Quit, Session
from grammar.errors import DslError

PROMPT, MORE = ">>> ", "... "
BANNER = "dsl {version} REPL: type definitions, expressions or :help. Ctrl-D exits."


def history_path() -> str:
    """Where the history lives: the XDG state directory (~/.local/state by default)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "dsl", "repl_history")


def respond(session: Session, text: str, write: Callable[[str], None]) -> bool:
    """Run one input and write its output or error; False when the session should end.
    An error never ends the session; an internal error is reported as a bug, not a traceback."""
    try:
        out = session.submit(text)
    except Quit:
        return False
    except DslError as err:
        write(str(err))
        session.errors += 1
    except Exception as err:  # a bug in dsl: say so, keep the session
        if os.environ.get("DSL_DEBUG"):
            traceback.print_exc()
        write(f"internal error: {type(err).__name__}: {err}\n(this is a bug in dsl; DSL_DEBUG=1 shows the traceback)")
        session.errors += 1
    else:
        if out:
            write(out)
    return True


def run_plain(session: Session, lines: Iterable[str], out: TextIO, echo: bool) -> int:
    """Read inputs line by line (a complete input may span lines). `echo` writes each input after
    its prompt (a transcript, for piped input); otherwise the prompts alone are written."""

    def write(text: str) -> None:
        out.write(text + "\n")
        out.flush()

    buffer: list[str] = []
    it: Iterator[str] = iter(lines)
    while True:
        if not echo:
            out.write(MORE if buffer else PROMPT)
            out.flush()
        line = next(it, None)
        if line is None:  # end of input: run what is left, even if unfinished (it then errs)
            if buffer and echo:
                write("\n".join((PROMPT if i == 0 else MORE) + s for i, s in enumerate(buffer)))
            if buffer:
                respond(session, "\n".join(buffer), write)
            if not echo:
                out.write("\n")
            return 1 if session.errors else 0
        buffer.append(line.rstrip("\n"))
        text = "\n".join(buffer)
        if not session.is_complete(text):
            continue
        if echo and text.strip():
            write("\n".join((PROMPT if i == 0 else MORE) + s for i, s in enumerate(buffer)))
        buffer = []
        if not respond(session, text, write):
            return 1 if session.errors else 0


def make_prompt(session: Session, **io: Any) -> Any:
    """The prompt_toolkit session (`io` may give `input=`/`output=`, as tests do)."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
    from prompt_toolkit.lexers import PygmentsLexer

    from dsl.lexer import DslLexer

    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event: Any) -> None:
        buf = event.current_buffer
        if session.is_complete(buf.text):
            buf.validate_and_handle()
            return
        indent = re.match(r"\s*", buf.document.current_line).group(0)  # type: ignore[union-attr]
        buf.insert_text("\n" + indent + ("    " if buf.document.current_line.rstrip().endswith("{") else ""))

    history: Any = InMemoryHistory()
    try:
        os.makedirs(os.path.dirname(history_path()), exist_ok=True)
        history = FileHistory(history_path())
    except OSError:
        pass  # read-only home: history for this session only
    return PromptSession(PROMPT, multiline=True, key_bindings=keys, lexer=PygmentsLexer(DslLexer),
                         completer=DslCompleter(session), complete_while_typing=False, history=history,
                         prompt_continuation=lambda width, line, soft: MORE,
                         input_processors=[HighlightMatchingBracketProcessor()], **io)


def run_interactive(session: Session, write: Callable[[str], None] = print, **io: Any) -> int:
    prompt = make_prompt(session, **io)
    while True:
        try:
            text = prompt.prompt()
        except KeyboardInterrupt:  # Ctrl-C: drop the input, new prompt
            continue
        except EOFError:  # Ctrl-D
            return 0
        if not respond(session, text, write):
            return 0


def _completer_base() -> type:
    from prompt_toolkit.completion import Completer

    return Completer


class DslCompleter(_completer_base()):  # type: ignore[misc]
    """Completes commands after `:`, and names: the session's, the primitives, the standard
    library, derived operators, keywords and keyword arguments (`axis=`, `wrt=`)."""

    def __init__(self, session: Session):
        self.session = session

    def words(self) -> list[str]:
        from dsl.loader import stdlib
        from semantics.derived import DERIVED_OPS
        from semantics.primitives import PRIMITIVES

        kwargs = sorted({p.name for prim in PRIMITIVES.values() for p in prim.params} | {"wrt"})
        words = (self.session.names + sorted(self.session.lets) + self.session.dims + sorted(PRIMITIVES)
                 + list(stdlib().own) + list(DERIVED_OPS) + [f"{k}=" for k in kwargs]
                 + ["dim", "type", "box", "def", "diagram", "return", "import", "f32", "f64", "i32", "i64", "bool"])
        return list(dict.fromkeys(words))

    def get_completions(self, document: Any, complete_event: Any) -> Iterator[Any]:
        from prompt_toolkit.completion import Completion

        from dsl.repl_commands import COMMANDS

        line = document.current_line_before_cursor
        if re.fullmatch(r"\s*:\w*", line):  # a command name
            word, cands = line.strip(), [f":{c}" for c in COMMANDS]
        else:
            word, cands = re.search(r"\w*$", line).group(0), self.words()  # type: ignore[union-attr]
        for cand in cands:
            if cand.startswith(word) and cand != word:
                yield Completion(cand, start_position=-len(word))


def main(files: list[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """`dsl repl [FILE...]`: load the files, then read inputs until Ctrl-D, `:quit` or the end of the pipe."""
    import dsl

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    session = Session()

    def write(text: str) -> None:
        stdout.write(text + "\n")

    for path in files:
        respond(session, f":load {path}", write)
    if stdin.isatty() and stdout.isatty() and os.environ.get("TERM", "") != "dumb":
        write(BANNER.format(version=dsl.__version__))
        return run_interactive(session)
    if stdin.isatty():
        write(BANNER.format(version=dsl.__version__))
    return run_plain(session, stdin, stdout, echo=not stdin.isatty())
