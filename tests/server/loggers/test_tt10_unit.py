"""The TT 10/2021 line format and the explicit local-value rules, without services."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from server.ingest.errors import Reason, Rejected
from server.ingest.localvalues import localize_time, parse_decimal_comma, quality_flag
from server.loggers.tt10 import LineProblem, StationFileError, StationLine, parameter_key, parse_station_file

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_pipe_and_tab_lines_with_status_codes() -> None:
    data = "\ufeffCl|12.5|mg/L|20260301070000|00\nDO\t6.1\tmg/L\t20260301070000\t01\r\npH|7|pH|20260301070000|02\n\n"
    lines = parse_station_file(data.encode(), VN, decimal_comma=False)
    assert [(line.parameter, line.value, line.quality) for line in lines if isinstance(line, StationLine)] == [
        ("Cl", 12.5, "normal"),
        ("DO", 6.1, "calibrating"),
        ("pH", 7.0, "error"),
    ]
    assert isinstance(lines[0], StationLine) and lines[0].time == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "reason", "detail"),
    [
        ("Cl|12.5|mg/L|20260301070000", Reason.BAD_LINE, "4 fields"),
        ("Cl|12,5|mg/L|20260301070000|00", Reason.WRONG_TYPE, "decimal comma?"),
        ("Cl|12.5|mg/L|2026-03-01 07:00|00", Reason.BAD_TIME, "YYYYMMDDhhmmss"),
        ("Cl|12.5|mg/L|20261301070000|00", Reason.BAD_TIME, "not a date"),
        ("Cl|12.5|mg/L|20260301070000|9", Reason.BAD_QUALITY, "00, 01 or 02"),
    ],
)
def test_a_bad_line_is_a_problem_with_its_number(line: str, reason: Reason, detail: str) -> None:
    good = "pH|7|pH|20260301070000|00\n"
    problem = parse_station_file((good + line).encode(), VN, decimal_comma=False)[1]
    assert isinstance(problem, LineProblem) and problem.number == 2 and problem.reason == reason
    assert detail in problem.detail


def test_files_that_hold_nothing_are_refused_whole() -> None:
    with pytest.raises(StationFileError, match="empty"):
        parse_station_file(b"\r\n \n", VN, decimal_comma=False)
    with pytest.raises(StationFileError, match="UTF-8"):
        parse_station_file("Độ mặn|3|‰|20260301070000|00".encode("utf-16"), VN, decimal_comma=False)
    with pytest.raises(StationFileError, match="no line could be read"):
        parse_station_file(b"garbage\n", VN, decimal_comma=False)


def test_parameter_names_compare_normalised() -> None:
    assert parameter_key(unicodedata.normalize("NFD", "Mực nước")) == parameter_key("Mực nước")
    assert parameter_key(" PM2,5 ") == parameter_key("pm2,5")


def test_decimal_commas_are_explicit() -> None:
    assert parse_decimal_comma("3,2") == 3.2 and parse_decimal_comma("-12") == -12.0 and parse_decimal_comma(4.5) == 4.5
    for text in ("3.2", "1.234,5", "3,2,1", ""):
        with pytest.raises(Rejected, match="decimal-comma"):
            parse_decimal_comma(text)


def test_local_times_and_quality_values() -> None:
    assert localize_time("2026-03-01T07:00:00", VN) == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert localize_time("2026-03-01T07:00:00+00:00", VN) == "2026-03-01T07:00:00+00:00"  # has an offset: as sent
    assert localize_time(1767225600, VN) == 1767225600
    assert quality_flag(1, {"1": "calibrating"}) == "calibrating"
    assert quality_flag("Error", {}) == "error"
    with pytest.raises(Rejected, match="unknown instrument status 'CAL'"):
        quality_flag("CAL", {"0": "normal"})
