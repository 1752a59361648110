"""An option that takes one value, given twice (`--keep 0.1 --keep 0.2`, `--batch 4 --batch
8`), or a boolean flag given both ways (`--flash-attention --no-flash-attention`): click keeps
the last and drops the others without a word, so a user who meant two scenarios gets one.
Refused before any work, as one line naming the option and its values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from costmodel.errors import CostmodelError


def _command(root: Any, args: Sequence[str]) -> tuple[Any, list[str]]:
    """The (sub)command `args` names under the click group `root`, and its own arguments:
    the root's and a group's leading options are skipped (--quiet), each name descends."""
    cmd, rest = root, list(args)
    while hasattr(cmd, "commands"):
        names = [i for i, a in enumerate(rest) if not a.startswith("-")]
        if not names or rest[names[0]] not in cmd.commands:
            return None, []
        cmd, rest = cmd.commands[rest[names[0]]], rest[names[0] + 1:]
    return cmd, rest


def _values(opts: Sequence[str], args: Sequence[str]) -> list[str]:
    """The values given to the option named by any of `opts` ('--keep 0.1', '--keep=0.1', and
    a short option's attached value, '-Ha100-80gb', as click reads it)."""
    short = [o for o in opts if len(o) == 2 and o[0] == "-" and o[1] != "-"]
    found = []
    for i, a in enumerate(args):
        if a == "--":
            break
        if a in opts:
            found.append(args[i + 1] if i + 1 < len(args) else "")
        elif a.startswith("--") and "=" in a and a.split("=", 1)[0] in opts:
            found.append(a.split("=", 1)[1])
        elif not a.startswith("--") and a[:2] in short:
            found.append(a[2:])
    return found


def _both_ways(opts: Sequence[str], off: Sequence[str], args: Sequence[str]) -> bool:
    """A boolean flag's on form (`opts`) and its off form (`off`) both in `args`."""
    given = set(args[:args.index("--")] if "--" in args else args)
    return bool(off) and bool(given & set(opts)) and bool(given & set(off))


def refuse_repeats(root: Any, args: Sequence[str]) -> None:
    """CostmodelError for the first single-value option given more than once in `args`, or a
    boolean flag given both ways (a flag given twice the same way and repeatable options such
    as --set are left alone)."""
    cmd, rest = _command(root, args)
    for p in getattr(cmd, "params", []):
        if p.param_type_name == "option" and p.is_flag and _both_ways(p.opts, p.secondary_opts,
                                                                       rest):
            raise CostmodelError(f"{p.opts[0]}: given with {p.secondary_opts[0]}; only the last "
                                 "would count: give one")
        if p.param_type_name != "option" or p.multiple or p.is_flag or p.count:
            continue
        values = _values(p.opts, rest)
        if len(values) > 1:
            shown = ", then ".join(v[:40] for v in values)
            raise CostmodelError(f"{p.opts[0]}: given {len(values)} times ({shown}); only the "
                                 "last would count: give it once")
