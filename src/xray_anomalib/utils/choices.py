"""Enums of settings whose error for an unknown value lists the values they take."""

from __future__ import annotations

from enum import Enum
from typing import NoReturn


class Choice(str, Enum):
    """A setting's values; an unknown value is refused with the values it could have been."""

    @classmethod
    def _missing_(cls, value: object) -> NoReturn:
        expected = ", ".join(member.value for member in cls)
        msg = f"{value!r} is not a valid {cls.__name__}; expected one of {expected}."
        raise ValueError(msg)
