"""`costmodel` command line: thin typer sub-apps over the library.

Every user error prints one line `error: <field>: <what and the fix>` and exits with code 2;
no traceback. Only the commands that need torch or matplotlib import them.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import typer
from pydantic import ValidationError

from costmodel.cli.options import as_option
from costmodel.errors import CostmodelError, one_line

HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    rich_markup_mode=None, help="Roofline cost model for vision-language-model inference.",
    context_settings=HELP,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"costmodel {version('costmodel')}")
        except PackageNotFoundError:
            typer.echo("costmodel (not installed)")
        raise typer.Exit()


@app.callback()
def _root(show_version: bool = typer.Option(False, "--version", callback=_version,
                                            is_eager=True, help="Print the version and exit."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No 'wrote FILE' lines and "
                                     "no progress bars on stderr (any command).")) -> None:
    """Roofline cost model for vision-language-model inference."""
    from costmodel.cli import feedback

    feedback.set_quiet(quiet)


def _register() -> None:
    from costmodel.cli import (
        calibrate_cmd,
        capacity_cmd,
        catalog,
        compare_cmd,
        compression_cmd,
        engines_cmd,
        estimate_cmd,
        plan_cmd,
        plot_cmd,
        plot_sweep_cmd,
        profile_cmd,
        sweep_cmd,
        ui_cmd,
        validate_cmd,
    )
    from costmodel.cli.examples import epilog, group_epilog

    def command(name: str) -> Any:
        return app.command(name, epilog=epilog(name))

    def group(sub: typer.Typer, name: str) -> None:
        app.add_typer(sub, name=name, epilog=group_epilog(name))

    command("estimate")(estimate_cmd.estimate)
    command("sweep")(sweep_cmd.sweep)
    command("compare-compression")(compression_cmd.compare_compression)
    group(catalog.models_app, "models")
    group(catalog.hardware_app, "hardware")
    group(engines_cmd.engines_app, "engines")
    del plot_sweep_cmd  # imported for its `plot sweep` command on plot_cmd.plot_app
    group(plot_cmd.plot_app, "plot")
    command("compare")(compare_cmd.compare)
    command("energy")(compare_cmd.energy_cmd)
    command("plan")(plan_cmd.plan_command)
    command("batching")(plan_cmd.batching_command)
    command("capacity")(capacity_cmd.capacity_command)
    command("profile")(profile_cmd.profile)
    command("calibrate")(calibrate_cmd.calibrate)
    command("validate")(validate_cmd.validate)
    command("ui")(ui_cmd.ui)


_register()


def _base(name: str) -> type[Any]:
    """typer's parameter errors derive from click's UsageError / ClickException; newer typer
    vendors click, so find the classes through typer's own MRO rather than importing click
    (found at run time, so typed Any: an exception with click's show() and format_message())."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


UsageError = _base("UsageError")
ClickException = _base("ClickException")


def fail(message: str) -> None:
    """Print one error line and exit 2."""
    typer.echo(f"error: {message}", err=True)
    raise SystemExit(2)


def _click_line(e: Exception) -> str:
    line = e.format_message().replace("\n", " ").replace("Value error, ", "")  # type: ignore[attr-defined]
    if type(e).__name__ == "BadParameter":  # '--ttft 300ms': the option, its unit, an example
        opts = getattr(getattr(e, "param", None), "opts", None) or [""]
        unit = UNIT_HINT.get(opts[0])
        return f"{opts[0]}: {e.message}; {unit}" if unit else line  # type: ignore[attr-defined]
    if type(e).__name__ != "NoSuchOption":  # 'Option -o requires an argument': it has it
        return line
    # worded here: click 8.4+ says "No such option '-o'.", click 8.1-8.3 and typer's own copy
    # 'No such option: -o'
    name = getattr(e, "option_name", None) or ""
    return f"No such option: {name}{NO_FILE_OPTION[name]}" if name in NO_FILE_OPTION else line


# A number option with a unit given what is not a number ('300ms', '2fps'): the unit it takes
UNIT_HINT = {"--ttft": "the SLO is in seconds, e.g. --ttft 0.3 for 300 ms",
             "--tpot": "the SLO is in seconds, e.g. --tpot 0.05 for 50 ms",
             "--seconds": "the video's length is in seconds, e.g. --seconds 10",
             "--fps": "the rate is in frames per second, e.g. --fps 2",
             "--weight-group-bytes": "the size is in bytes per group, e.g. "
                                     "--weight-group-bytes 4"}


# A file option given to a command without it (typer: 'No such option: -o'): the fix
_PRINTS = ("; this command prints to stdout: redirect it (> FILE), with --format json or csv "
           "for a file to read back")
NO_FILE_OPTION = {"-o": _PRINTS, "--output": _PRINTS,
                  "--plot": "; --plot draws beside sweep, compare, compare-compression and "
                            "validate; `costmodel plot` draws the other figures (docs/plots.md)"}


def _warning_line(message: Warning | str, category: type[Warning], *_: object, **__: object
                  ) -> None:
    """Warnings on the command line: one line each, no source location."""
    typer.echo(f"warning: {str(message).splitlines()[0]}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. Warnings are held until the command ends: printed (one line
    each) when it succeeds, dropped when it fails, so bad input stays one line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        try:
            _main(argv)
        except SystemExit as e:
            if e.code not in (0, None):
                raise
            _show(caught)
            raise
    _show(caught)


def _show(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        _warning_line(w.message, w.category)


def _main(argv: list[str] | None) -> None:
    try:
        import typer.main

        from costmodel.cli.repeats import refuse_repeats

        # the click command built once (typer's app() builds it again, ~25 ms a call); the
        # app's pretty_exceptions_enable=False leaves typer's except hook nothing to add
        command = typer.main.get_command(app)
        refuse_repeats(command, sys.argv[1:] if argv is None else argv)
        command(args=argv, standalone_mode=False)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        fail("aborted")
    except UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            e.show()
            raise SystemExit(0) from None
        fail(_click_line(e))
    except ClickException as e:
        fail(_click_line(e))
    except CostmodelError as e:
        fail(as_option(str(e)))
    except ValidationError as e:
        fail(as_option(one_line(e)))
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(0) from None
    except UnicodeDecodeError as e:  # a safety net: readers report their own file first
        fail(f"input is not UTF-8 text ({e.reason} at byte {e.start}); give a text file")
    except OSError as e:  # a safety net: commands check their paths before any work
        fail(f"{e.filename or 'file'}: {e.strerror or e}; check the path")
