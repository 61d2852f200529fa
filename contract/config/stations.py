"""Automatic monitoring stations that deliver measurement files (Circular 10/2021/TT-BTNMT)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from contract.config.types import Identifier, StrictModel, TimeZoneName


class StationFtpAccount(StrictModel):
    """The station's own FTP login on the server's station-file receiver."""

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    """FTP user name"""
    password: SecretStr = Field(description="FTP password; use ${ENV}")

    @field_validator("password")
    @classmethod
    def _long_enough(cls, password: SecretStr) -> SecretStr:
        if len(password.get_secret_value()) < 8:
            raise ValueError("a station FTP password needs at least 8 characters")
        return password


class Station(StrictModel):
    """A station pushing one text file per measurement, one line per parameter:
    `name|value|unit|YYYYMMDDhhmmss|status` (tab-separated lines are read too); status 00 is
    normal, 01 calibrating, 02 instrument error. Each parameter maps to a sensor with
    `station:` and `parameter:`."""

    id: Identifier
    name: str = Field(min_length=1)
    """label shown to people"""
    site: Identifier
    """the site the station belongs to"""
    timezone: TimeZoneName | None = Field(default=None, description="zone of the file times; default: the site's")
    decimal_comma: bool = Field(default=False, description="values are written '3,2' (explicit: never guessed)")
    ftp: StationFtpAccount | None = None
    """its FTP account; without one it delivers to the drop directory only"""
    enabled: bool = True
    """false: its files are rejected"""
