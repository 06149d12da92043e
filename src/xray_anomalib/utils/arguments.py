"""Config values checked against their types by jsonargparse, as anomalib's CLI checks a YAML, in one-line errors.

jsonargparse knows the types of a class's arguments (following ``**kwargs`` to the parent classes); its messages
span several lines and name its own parser. These functions turn them into one line that names the config key.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Collection, Mapping
from typing import Any

from jsonargparse import ArgumentError, ArgumentParser

GROUP = "arguments"
"""The jsonargparse group the arguments are parsed under (its name is taken out of the messages)."""


class ConfigValueError(ValueError):
    """Raised when a config value has the wrong type, or a class is given an argument it does not take."""


def checked_value(hint: Any, value: Any, key: str) -> Any:  # a value of any config type
    """``value`` parsed as type ``hint`` (a string of digits becomes an int where an int is expected).

    Raises:
        ConfigValueError: ``<key>: expected <type>, got <value>``.
    """
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--value", type=hint)
    try:
        return parser.parse_object({"value": value}).value
    except ArgumentError as error:
        msg = f"{key}: expected {_type_name(hint)}, got {value!r}"
        raise ConfigValueError(msg) from error


def check_class_arguments(cls: type, arguments: Mapping[str, Any], key: str, skip: Collection[str] = ()) -> None:
    """Check ``arguments`` against the signature of ``cls``: known names, the right types, nothing required missing.

    Args:
        cls: The class the arguments are for.
        arguments: Its arguments as a config gives them.
        key: Where they are in the config, e.g. ``models[0].init_args``.
        skip: Arguments the caller sets or checks itself, left out of the check.

    Raises:
        ConfigValueError: One line naming the argument and the problem.
    """
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, GROUP, skip=set(skip), fail_untyped=False)
    try:
        parser.parse_object({GROUP: {name: value for name, value in arguments.items() if name not in skip}})
    except ArgumentError as error:
        accepted = sorted(parser.get_defaults()[GROUP].keys())
        name, problem = _plain(str(error), cls, arguments, accepted)
        msg = f"{key}.{name}: {problem}" if name else f"{key}: {problem}"
        raise ConfigValueError(msg) from error


def _plain(message: str, cls: type, arguments: Mapping[str, Any], accepted: list[str]) -> tuple[str, str]:
    """The argument and the problem a jsonargparse message about ``cls``'s arguments names, in the config's words."""
    if match := re.search(rf"does not accept option '(?:{GROUP}\.)?([^']+)'", message):
        return "", f"{cls.__name__} takes no argument {match[1]!r}; it takes {', '.join(accepted)}"
    if match := re.search(rf"Option '{GROUP}\.([^']+)' is required", message):
        return match[1], f"required by {cls.__name__} and not given"
    if match := re.search(rf'Parser key "{GROUP}\.([^".]+)[^"]*"', message):
        name, value = match[1], arguments.get(match[1])
        parameter = inspect.signature(cls).parameters.get(name)
        if parameter is not None and parameter.annotation is not inspect.Parameter.empty:
            return name, f"expected {_type_name(parameter.annotation)}, got {value!r}"
        detail = message[match.end() :].strip(": \n").splitlines()[0]
        if expected := re.match(r"Expected a <class '(?:\w+\.)*(\w+)'>", detail):
            return name, f"expected {expected[1]}, got {value!r}"
        return name, detail
    return "", " ".join(message.replace(f"{GROUP}.", "").split())


def _type_name(hint: Any) -> str:  # any annotation
    """``int``, ``list[int]``, ``str | None``: a type as a config's reader writes it."""
    if isinstance(hint, str):
        return hint
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
