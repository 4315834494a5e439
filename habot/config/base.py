"""What every part of the configuration shares: the section model (frozen, no unknown keys)
and the durations and node addresses settings are written as."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
)
from pydantic.functional_validators import BeforeValidator

from habot.core.addresses import NodeAddress, parse_address
from habot.core.durations import parse_duration


def _duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError("write durations as strings like '500ms', '10s', '5m', '1h'")
    return parse_duration(value)


def _address(value: object) -> NodeAddress:
    if isinstance(value, NodeAddress):
        return value
    if not isinstance(value, str):
        raise ValueError("write an address as a string: 'host', 'host:port' or '[v6]:port'")
    return parse_address(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Address = Annotated[NodeAddress, BeforeValidator(_address)]


class Section(BaseModel):
    """A part of the configuration: frozen, and refusing keys it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=True)
