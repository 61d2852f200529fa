"""The operator console's deployment settings: its title, colour bands, and the base map."""

from __future__ import annotations

from pydantic import Field, field_validator

from contract.config.types import Identifier, LocalText, StrictModel


class ColourBand(StrictModel):
    """One band of a sensor kind's scale, drawn behind its charts and used for its list colour."""

    below: float | None = None
    """upper bound of the band (none: the last band)"""
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    """CSS hex colour, `#rrggbb`"""
    label: LocalText


def _salinity_bands() -> dict[str, list[ColourBand]]:
    def band(below: float | None, colour: str, vi: str, en: str) -> ColourBand:
        return ColourBand(below=below, colour=colour, label=LocalText(vi=vi, en=en))

    return {
        "salinity": [
            band(1, "#2ea043", "Ngọt (<1‰)", "Fresh (<1‰)"),
            band(2, "#d4c21a", "Lúa chịu được (1-2‰)", "Rice tolerates (1-2‰)"),
            band(4, "#e3771b", "Cây ăn trái bị hại (2-4‰)", "Orchards harmed (2-4‰)"),
            band(None, "#da3633", "Xâm nhập mặn (>4‰)", "Salt intrusion (>4‰)"),
        ]
    }


class MapSettings(StrictModel):
    """The console's base map."""

    tile_url: str | None = Field(
        default=None,
        description="XYZ tile URL with {z}/{x}/{y} (the province's tile server or a public one); none: an offline grid",
    )
    attribution: str = ""
    """credit shown on the map (required by most tile servers' licences)"""
    max_zoom: int = Field(default=18, ge=1, le=22)
    outlines: dict[Identifier, str] = Field(default_factory=dict)
    """site id → GeoJSON file (Polygon / MultiPolygon features) drawn as its outline; a site without one is a circle"""

    @field_validator("tile_url")
    @classmethod
    def _placeholders(cls, url: str | None) -> str | None:
        if url is not None and not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise ValueError("a tile URL needs {z}, {x} and {y}")
        if url is not None and not url.startswith(("http://", "https://", "/")):
            raise ValueError("a tile URL is http(s):// or a path on this server")
        return url


class ConsoleSettings(StrictModel):
    title: LocalText = Field(default_factory=lambda: LocalText(vi="IOC Monitor", en="IOC Monitor"))
    """the console's title, e.g. `{vi: IOC Sóc Trăng, en: Sóc Trăng IOC}`"""
    bands: dict[str, list[ColourBand]] = Field(default_factory=_salinity_bands)
    """sensor kind → colour bands, lowest first (PM2.5 always uses VN_AQI)"""
    map: MapSettings = Field(default_factory=MapSettings)
    """the base map"""
