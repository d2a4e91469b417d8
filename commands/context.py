"""What every command shares: global options, the lazily built backend, errors."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click import exceptions as _cx
from typer.core import TyperGroup

from cstool.errors import CstoolError, UsageError
from cstool.i18n import error_text, language, t
from cstool.json_limits import too_deep_message
from cstool.storage.errors import DatabaseError, OperationalError
from cstool.text_rules import terminal_safe

if TYPE_CHECKING:
    from cstool.api.backend import Backend
    from cstool.backend.local import LocalBackend
    from cstool.clock import Clock

ApiOpt = Annotated[
    str | None,
    typer.Option(
        "--api",
        envvar="CSTOOL_API",
        show_envvar=True,
        help="Work through a cstool server (e.g. http://127.0.0.1:8765) instead of a file; "
        "the token comes from $CSTOOL_TOKEN.",
    ),
]


class CliError(typer.TyperException):
    """A one-line error with a chosen exit code (1 refused, 2 usage)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


# The commands that may make a new data file (with its folder) when the file named does
# not exist: they create data from nothing. Every other command refuses a missing file
# (NoDataFile, exit 1) and creates nothing, so a mistyped --db never starts a new mall.
CREATES_FILE = frozenset({
    ("db", "init"), ("apply",), ("demo",), ("fixtures", "load"), ("fixtures", "generate"),
    ("shop", "create"), ("serve",),
})


def _command_path(ctx) -> tuple[str, ...]:
    """The names of the command of ``ctx`` below the root (``("shop", "list")``)."""
    names: list[str] = []
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return tuple(reversed(names))


@dataclass
class State:
    """Global options, and the backend built from them on first use."""

    db: str | Path | None = None  # a file, or a postgresql:// URL
    json: bool = False
    api: str | None = None
    command: tuple[str, ...] = ()  # the running command (set by ``state(ctx)``)
    created: bool = False  # this invocation made the data file
    clock: Clock | None = None  # the Local backend's clock (None: the default clock)
    _backend: Backend | None = field(default=None, repr=False)

    def api_url(self) -> str | None:
        """The server to work through: ``--api``, else ``$CSTOOL_API``; None for a file."""
        return self.api or os.environ.get("CSTOOL_API") or None

    @property
    def backend(self) -> Backend:
        """The Backend for this invocation (opened on first use, closed at exit): the
        Remote one when an API address is given (token: ``$CSTOOL_TOKEN``), else the
        Local one over the data file."""
        if self._backend is None:
            api = self.api_url()
            if api is not None:
                if self.db is not None:
                    raise UsageError("give a data file (--db) or a server (--api), not both",
                                     key="db_or_api")
                from cstool.backend.remote import RemoteBackend

                self._backend = RemoteBackend(api, os.environ.get("CSTOOL_TOKEN"))
            else:
                from cstool.backend.local import LocalBackend
                from cstool.storage import database_exists, default_db_path

                path = self.db or default_db_path()
                creates = self.command in CREATES_FILE
                new = creates and not database_exists(path)
                self._backend = LocalBackend(path, create=creates, clock=self.clock)
                self.created = new
                if new:
                    typer.echo(t("cli.created_data_file", path=path), err=True)
        return self._backend

    def open_scratch(self, path: Path) -> LocalBackend:
        """Open a new scratch data file of this command (a temporary one): made silently,
        whatever the command."""
        from cstool.backend.local import LocalBackend

        self.db = path
        self._backend = LocalBackend(path)
        return self._backend

    def close(self) -> None:
        """Close the backend if one was opened."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def state(ctx: typer.Context) -> State:
    """The State of this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    path = _command_path(ctx)
    if len(path) > len(root.obj.command):
        root.obj.command = path
    return root.obj


def wants_json(ctx: typer.Context, flag: bool) -> bool:
    """True when the command's ``--json`` or the global one is set."""
    return flag or state(ctx).json


def cli_error_text(error: CstoolError) -> str:
    """An error as the CLI says it: in English its own message (the same words as the
    API's), in Chinese the catalog's text for its code (``err.<key>``)."""
    if language() == "en":
        return error.message
    return error_text(error)


def usage_text(error: Exception) -> str | None:
    """A usage error (typer's vendored click) on one line in the interface language, by
    the error's class and fields, never by its English text: a missing argument or option
    (with the choices), an unknown option or command, an option without its value, extra
    arguments, a bad value (its reason by the validation's error type,
    :func:`commands.usage_reasons.reason_text`). Our own errors as they are."""
    from typer._click import exceptions as cx  # the classes typer raises

    from .usage_reasons import param_hint, reason_text

    if isinstance(error, CliError):
        return error.format_message()
    param = getattr(error, "param", None)

    def hint() -> str:
        given = getattr(error, "param_hint", None)
        if given is None and param is not None:
            return param_hint(param)
        if isinstance(given, list | tuple):
            given = " / ".join(given)
        return str(given or "")

    if isinstance(error, cx.MissingParameter):
        kind = error.param_type or (param.param_type_name if param is not None else "")
        choices = getattr(getattr(param, "type_descriptor", None), "choices", None) \
            if param is not None else None
        text = t("cli.missing_" + (kind if kind in ("argument", "option") else "parameter"),
                 name=hint())
        if choices:
            text += t("cli.choose_from", choices=", ".join(str(c) for c in choices))
        return text
    if isinstance(error, cx.NoSuchOption):
        text = t("cli.no_such_option", name=error.option_name)
        if error.possibilities:
            text += t("cli.did_you_mean", names=", ".join(sorted(error.possibilities)))
        return text
    if isinstance(error, OptionUsage):
        return t("cli.option_needs_value" if error.takes_value else "cli.option_takes_no_value",
                 name=repr(error.option_name), count=error.nargs)
    if isinstance(error, ExtraArguments):
        return t("cli.extra_arguments", args=" ".join(terminal_safe(a) for a in error.extra))
    if isinstance(error, cx.BadParameter):
        reason = reason_text(error)
        return t("cli.bad_value", name=hint(), reason=reason) if hint() else reason
    if isinstance(error, NoSuchCommand):
        text = t("cli.no_such_command", name=error.name)
        if error.matches:
            text += t("cli.did_you_mean_command",
                      names=", ".join(repr(m) for m in error.matches))
        return text
    if isinstance(error, cx.NoArgsIsHelpError):
        return None  # the help was shown: nothing to add
    if isinstance(error, cx.BadArgumentUsage):
        return t("cli.bad_argument_usage")
    # another usage error of typer's: its text, on one line
    return " ".join(error.format_message().split())


class ExtraArguments(_cx.UsageError):
    """Arguments left over after a command's own (typer's text kept as the message)."""

    def __init__(self, extra: list[str], ctx: Any):
        super().__init__("Got unexpected extra argument(s) ("
                         + " ".join(terminal_safe(a) for a in extra) + ")", ctx)
        self.extra = [str(a) for a in extra]


class OptionUsage(_cx.BadOptionUsage):
    """An option given without its value (``--shop`` at the end), or a flag given one
    (``--json=1``): which one, by the option itself."""

    def __init__(self, option_name: str, takes_value: bool, nargs: int, message: str,
                 ctx: Any):
        super().__init__(option_name, message, ctx)
        self.takes_value, self.nargs = takes_value, nargs


def _option_of(command: Any, ctx: Any, name: str) -> Any:
    """The option of ``command`` called ``name`` (None when there is none)."""
    for param in command.get_params(ctx):
        if name in getattr(param, "opts", ()) or name in getattr(param, "secondary_opts", ()):
            return param
    return None


def parse_args_in_language(parse: Any) -> Any:
    """Wrap a command's ``parse_args`` so that its usage errors carry what they are about
    (extra arguments, an option without its value) and can be said in any language."""

    def parse_args(self: Any, ctx: Any, args: list[str]) -> list[str]:
        strict = not ctx.allow_extra_args and not ctx.resilient_parsing
        if strict:
            ctx.allow_extra_args = True
        try:
            rest = parse(self, ctx, args)
        except _cx.BadOptionUsage as e:
            if isinstance(e, OptionUsage):
                raise
            option = _option_of(self, ctx, e.option_name)
            takes = option is not None and not getattr(option, "is_flag", False)
            nargs = getattr(option, "nargs", 1) if option is not None else 1
            raise OptionUsage(e.option_name, takes, nargs, e.message, e.ctx or ctx) from None
        finally:
            if strict:
                ctx.allow_extra_args = False
        if strict and rest:
            raise ExtraArguments(rest, ctx)
        return rest

    return parse_args


class NoSuchCommand(_cx.UsageError):
    """A subcommand that does not exist, with the close names (typer's own text in
    English, kept as the message), so that it can be said in the interface language."""

    def __init__(self, name: str, matches: list[str], ctx: Any):
        message = f"No such command {name!r}."
        if matches:
            message = message.rstrip(".") + ". Did you mean " + \
                ", ".join(repr(m) for m in matches) + "?"
        super().__init__(message, ctx)
        self.name, self.matches = name, matches


class CommandGroup(TyperGroup):
    """A group of subcommands whose "no such command" is a :class:`NoSuchCommand`, and
    whose usage errors can be said in any language (:func:`parse_args_in_language`)."""

    parse_args = parse_args_in_language(TyperGroup.parse_args)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except _cx.UsageError as e:
            # click says "no such command" with a plain UsageError (an option-like name
            # gives NoSuchOption, a subclass): only that one is turned into ours
            if type(e) is not _cx.UsageError or not args:
                raise
            name = str(args[0])
            matches = get_close_matches(name, list(self.commands)) \
                if self.suggest_commands else []
            raise NoSuchCommand(name, matches, ctx) from None


class RootGroup(CommandGroup):
    """The root command: turns every user error into one line on stderr and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CstoolError as e:
            raise CliError(terminal_safe(cli_error_text(e)), e.exit_code) from None
        except RecursionError:  # a guard behind the depth limits (cstool.json_limits)
            raise CliError(too_deep_message("the input")) from None
        except UnicodeEncodeError:  # an undecodable byte in an argument: nothing stored
            raise CliError(t("cli.not_utf8")) from None
        except OperationalError as e:
            raise CliError(t("cli.database", error=e)) from None
        except BrokenPipeError:  # `cstool ... | head`: the reader left; leave quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        except OSError as e:  # a file named on the command line: no such folder, no rights
            where = f"{e.filename}: " if e.filename else ""
            raise CliError(f"{where}{e.strerror or e}") from None
        except DatabaseError as e:
            raise CliError(t("cli.database", error=e)) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except typer.TyperException as e:  # typer's (vendored click) errors and ours
            if not standalone_mode:
                raise
            code = getattr(e, "exit_code", 1)
            ctx = getattr(e, "ctx", None)
            hint = t("cli.see_help", command=ctx.command_path) if code == 2 and ctx else ""
            message = usage_text(e)
            if message is not None:
                typer.echo(t("cli.error", message=message, hint=hint), err=True)
            sys.exit(code)
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo(t("cli.aborted"), err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
