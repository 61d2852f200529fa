"""A case exported as one zip: the clips and snapshots, and `manifest.json` naming for each file its
camera, site, time range (UTC and the site's time zone) and SHA-256, and who exported it and when.

`verify(path)` checks an export: every file listed is there with its SHA-256 and size, nothing is
there that is not listed. The manifest's own SHA-256 is written to the audit log at export time,
so the server can also tell an export it made from one whose manifest was rewritten.
Run `python -m server.evidence.export verify FILE.zip` anywhere (standard library only).
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO
from zoneinfo import ZoneInfo

MANIFEST = "manifest.json"
FORMAT = "ioc-evidence-export/1"


@dataclass(frozen=True)
class ExportItem:
    name: str  # the file's name inside the zip, e.g. clips/<camera>_<start>.mp4
    kind: str  # "clip" or "snapshot"
    camera_id: str
    camera_name: str
    site_id: str
    site_name: str
    timezone: str
    start: datetime  # UTC
    end: datetime
    event_ids: list[str] = field(default_factory=list)
    source_id: str = ""  # the clip id or the event id


def local_time(ts: datetime, timezone: str) -> str:
    return ts.astimezone(ZoneInfo(timezone)).isoformat()


def _entry(item: ExportItem, sha256: str, size: int) -> dict[str, Any]:
    return {
        "name": item.name,
        "kind": item.kind,
        "source_id": item.source_id,
        "camera_id": item.camera_id,
        "camera_name": item.camera_name,
        "site_id": item.site_id,
        "site_name": item.site_name,
        "timezone": item.timezone,
        "start_local": local_time(item.start, item.timezone),
        "end_local": local_time(item.end, item.timezone),
        "start_utc": item.start.isoformat(),
        "end_utc": item.end.isoformat(),
        "event_ids": item.event_ids,
        "sha256": sha256,
        "bytes": size,
    }


def write_export(
    out: Path,
    case: dict[str, Any],
    files: list[tuple[ExportItem, BinaryIO]],
    exported_by: str,
    exported_at: datetime,
) -> str:
    """Write the zip to `out`; returns the SHA-256 of its manifest."""
    entries = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for item, source in files:
            with archive.open(item.name, "w", force_zip64=True) as target:
                sha256, size = _copy(source, target)
            entries.append(_entry(item, sha256, size))
        manifest = {
            "format": FORMAT,
            "case": case,
            "exported_by": exported_by,
            "exported_at": exported_at.isoformat(),
            "files": entries,
        }
        body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
        archive.writestr(MANIFEST, body)
    return hashlib.sha256(body).hexdigest()


def _copy(source: BinaryIO, target: IO[bytes]) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
        target.write(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: list[str]
    manifest_sha256: str | None
    files: int


def verify(path: Path) -> Verification:
    """Check an export against its manifest (see the module docstring)."""
    problems: list[str] = []
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return Verification(False, [f"not a readable zip: {exc}"], None, 0)
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            return Verification(False, [f"{MANIFEST} is missing"], None, 0)
        body = archive.read(MANIFEST)
        try:
            manifest = json.loads(body)
            listed = list(manifest["files"])
        except (ValueError, KeyError, TypeError) as exc:
            return Verification(False, [f"{MANIFEST} is not a manifest: {exc}"], None, 0)
        if manifest.get("format") != FORMAT:
            problems.append(f"unknown format {manifest.get('format')!r}")
        for entry in listed:
            problems.extend(_check_entry(archive, names, entry))
        extra = names - {MANIFEST} - {str(e.get("name")) for e in listed}
        problems.extend(f"{name}: in the zip but not in the manifest" for name in sorted(extra))
    return Verification(not problems, problems, hashlib.sha256(body).hexdigest(), len(listed))


def _check_entry(archive: zipfile.ZipFile, names: set[str], entry: dict[str, Any]) -> list[str]:
    name = str(entry.get("name"))
    if name not in names:
        return [f"{name}: listed in the manifest but missing"]
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as member:
        for chunk in iter(lambda: member.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    found = []
    if digest.hexdigest() != entry.get("sha256"):
        found.append(f"{name}: SHA-256 {digest.hexdigest()} does not match the manifest's {entry.get('sha256')}")
    if size != entry.get("bytes"):
        found.append(f"{name}: {size} bytes, the manifest says {entry.get('bytes')}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "verify":
        print("usage: python -m server.evidence.export verify FILE.zip", file=sys.stderr)
        return 2
    result = verify(Path(argv[1]))
    for problem in result.problems:
        print(f"FAIL {problem}")
    if result.ok:
        print(f"OK {result.files} file(s), manifest SHA-256 {result.manifest_sha256}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
