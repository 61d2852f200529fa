"""Station files under Circular 10/2021/TT-BTNMT (and 24/2017): one text file per measurement,
one line per parameter, `name|value|unit|YYYYMMDDhhmmss|status` (tab-separated lines too).

Status 00 is normal, 01 calibrating, 02 instrument error. Times have no UTC offset: they are the
station's local time. Parsing is pure: lines become `StationLine`s or `LineProblem`s, and the
caller maps parameters to sensors.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from server.ingest.errors import Reason, Rejected
from server.ingest.localvalues import parse_decimal_comma

STATUS_FLAGS = {"00": "normal", "01": "calibrating", "02": "error"}
_TIME = re.compile(r"^\d{14}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class StationFileError(ValueError):
    """The file as a whole cannot be read (not UTF-8 text, no measurement line)."""


@dataclass(frozen=True, slots=True)
class StationLine:
    number: int  # 1-based line number in the file
    text: str
    parameter: str
    value: float
    unit: str
    time: datetime
    quality: str


@dataclass(frozen=True, slots=True)
class LineProblem:
    number: int
    text: str
    reason: Reason
    detail: str


def parameter_key(name: str) -> str:
    """How parameter names are compared: Unicode NFC (files arrive NFC or NFD), case folded,
    surrounding spaces removed: `Mực nước`, `PM2,5`, `pH`."""
    return unicodedata.normalize("NFC", name).strip().casefold()


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StationFileError(f"not UTF-8 text (byte {exc.start}): station files are UTF-8") from exc


def parse_value(text: str, decimal_comma: bool) -> float:
    if decimal_comma:
        return float(parse_decimal_comma(text))
    if not _NUMBER.match(text):
        hint = " (a decimal comma? set decimal_comma on the station)" if "," in text else ""
        raise Rejected(Reason.WRONG_TYPE, f"value {text[:40]!r} is not a number{hint}")
    return float(text)


def parse_time(text: str, zone: ZoneInfo) -> datetime:
    if not _TIME.match(text):
        raise Rejected(Reason.BAD_TIME, f"time {text[:40]!r} is not YYYYMMDDhhmmss")
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=zone)
    except ValueError as exc:
        raise Rejected(Reason.BAD_TIME, f"time {text!r} is not a date: {exc}") from exc


def parse_line(number: int, text: str, zone: ZoneInfo, decimal_comma: bool) -> StationLine | LineProblem:
    fields = [part.strip() for part in (text.split("\t") if "\t" in text else text.split("|"))]
    if len(fields) != 5:
        return LineProblem(number, text, Reason.BAD_LINE, f"{len(fields)} fields, expected name|value|unit|time|status")
    name, value_text, unit, time_text, status = fields
    if not name:
        return LineProblem(number, text, Reason.BAD_LINE, "the parameter name is empty")
    flag = STATUS_FLAGS.get(status)
    if flag is None:
        return LineProblem(number, text, Reason.BAD_QUALITY, f"status {status[:8]!r} is not 00, 01 or 02")
    try:
        value = parse_value(value_text, decimal_comma)
        time = parse_time(time_text, zone)
    except Rejected as rejected:
        return LineProblem(number, text, rejected.reason, rejected.detail)
    return StationLine(number, text, name, value, unit, time, flag)


def parse_station_file(data: bytes, zone: ZoneInfo, decimal_comma: bool) -> list[StationLine | LineProblem]:
    """Every non-blank line; raises `StationFileError` when the file holds no measurement at all."""
    lines = [
        parse_line(number, text.rstrip("\r"), zone, decimal_comma)
        for number, text in enumerate(decode_text(data).split("\n"), start=1)
        if text.strip()
    ]
    if not lines:
        raise StationFileError("the file is empty")
    if not any(isinstance(line, StationLine) for line in lines):
        first = lines[0]
        assert isinstance(first, LineProblem)
        raise StationFileError(f"no line could be read (line {first.number}: {first.detail})")
    return lines
