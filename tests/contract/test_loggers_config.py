"""streams.yaml for the province's loggers: stations, station parameters, ChirpStack devices,
local-time and decimal-comma payloads; mistakes are reported with file, line and key path."""

from __future__ import annotations

import textwrap

import pytest

from contract.config import ConfigError, parse_config
from contract.config.sensors import ChirpStackPayload, JsonPathPayload

BASE = """\
sites:
  - {id: long-phu, name: Long Phú}
stations:
  - id: st-1
    name: Trạm 1
    site: long-phu
    ftp: {username: st1, password: "${ST1_PASS}"}
sensors:
  - {id: cl, name: Cl, kind: other, unit: mg/L, site: long-phu, station: st-1, parameter: Cl}
  - id: lora
    name: LoRa salinity
    kind: salinity
    unit: "‰"
    site: long-phu
    payload: {format: chirpstack, application_id: app-1, dev_eui: 0102030405060708, value_path: $.salinity}
  - id: tasmota
    name: Tasmota
    kind: temperature
    unit: "°C"
    site: long-phu
    topic: tele/t1/SENSOR
    payload:
      {format: json, value_path: $.DS18B20.Temperature, time_path: $.Time, timezone: Asia/Bangkok, decimal_comma: true}
"""
ENV = {"ST1_PASS": "long-enough-pass"}


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), filename="streams.yaml", env=ENV)
    return [issue.render("streams.yaml") for issue in caught.value.issues]


def test_the_loggers_of_a_province_validate() -> None:
    config = parse_config(BASE, env=ENV)
    station = config.station("st-1")
    assert station is not None and station.ftp is not None
    assert station.ftp.password.get_secret_value() == "long-enough-pass"
    assert "long-enough-pass" not in repr(config)
    lora, tasmota = config.sensor("lora"), config.sensor("tasmota")
    assert lora is not None and isinstance(lora.payload, ChirpStackPayload)
    assert lora.payload.uplink_topic == "application/app-1/device/0102030405060708/event/up"
    assert tasmota is not None and isinstance(tasmota.payload, JsonPathPayload)
    assert tasmota.payload.timezone == "Asia/Bangkok" and tasmota.payload.decimal_comma


def test_a_parameter_of_an_unknown_station_is_refused_with_its_location() -> None:
    text = BASE.replace("station: st-1, parameter: Cl", "station: st-9, parameter: Cl")
    assert _errors(text) == ["streams.yaml:9: sensors[0].station: unknown station 'st-9' (known: st-1)"]


def test_station_and_parameter_go_together() -> None:
    errors = _errors(BASE.replace("station: st-1, parameter: Cl", "parameter: Cl"))
    assert len(errors) == 1 and "'station' and 'parameter' go together" in errors[0] and "sensors[0]" in errors[0]


def test_one_parameter_maps_to_one_sensor() -> None:
    second = "  - {id: cl-2, name: Cl 2, kind: other, unit: mg/L, site: long-phu, station: st-1, parameter: Cl}\n"
    text = BASE.replace("  - id: lora\n", second + "  - id: lora\n")
    assert _errors(text) == [
        "streams.yaml:10: sensors[1].parameter: parameter 'Cl' of station 'st-1' maps to two sensors"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("dev_eui: 0102030405060708", "dev_eui: 01020304", "dev_eui"),
        ("timezone: Asia/Bangkok", "timezone: Mars/Olympus", "timezone"),
        ('password: "${ST1_PASS}"', "password: short", "at least 8 characters"),
    ],
)
def test_bad_logger_settings_are_refused(old: str, new: str, message: str) -> None:
    errors = _errors(BASE.replace(old, new))
    assert len(errors) == 1 and message in errors[0]
