"""Rebuild ``static/vendor/`` from the npm registry and regenerate ``VENDOR.md``.

Run by hand when an asset version changes (needs ``npm`` and the npm registry)::

    .venv/bin/python static/vendor/update_vendor.py

Every asset is taken from the tarball that ``npm pack <name>@<version>`` downloads,
so each file can be traced to one registry package and checked by its sha256.
Files are copied byte for byte, except ``glyphicons/glyphicons.css``, which is cut
out of Bootstrap 3's stylesheet (see ``_write_glyphicons_css``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PACKAGES", "Package", "main"]

VENDOR_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Package:
    """One npm package and the files we keep from it.

    Attributes
    ----------
    spec : str
        ``name@version`` as given to ``npm pack``.
    licence : str
        SPDX licence expression of the files we keep.
    dest : str
        Folder under ``static/vendor/``.
    files : tuple of tuple of str
        ``(path inside the package, path under dest)`` pairs; licence texts included.
    """

    spec: str
    licence: str
    dest: str
    files: tuple[tuple[str, str], ...]


_LEAFLET_IMAGES = (
    "layers.png",
    "layers-2x.png",
    "marker-icon.png",
    "marker-icon-2x.png",
    "marker-shadow.png",
)
_AWESOME_IMAGES = (
    "markers-soft.png",
    "markers-soft@2x.png",
    "markers-shadow.png",
    "markers-shadow@2x.png",
)

PACKAGES: tuple[Package, ...] = (
    Package(
        "leaflet@1.9.4",
        "BSD-2-Clause",
        "leaflet",
        (
            ("dist/leaflet.js", "leaflet.js"),
            ("dist/leaflet.css", "leaflet.css"),
            *((f"dist/images/{name}", f"images/{name}") for name in _LEAFLET_IMAGES),
            ("LICENSE", "LICENSE"),
        ),
    ),
    Package(
        "jquery@3.7.1",
        "MIT",
        "jquery",
        (("dist/jquery.min.js", "jquery.min.js"), ("LICENSE.txt", "LICENSE.txt")),
    ),
    Package(
        "bootstrap@5.2.2",
        "MIT",
        "bootstrap",
        (
            ("dist/js/bootstrap.bundle.min.js", "bootstrap.bundle.min.js"),
            ("dist/css/bootstrap.min.css", "bootstrap.min.css"),
            ("LICENSE", "LICENSE"),
        ),
    ),
    # folium's default icon prefix is "glyphicon", which Bootstrap 5 no longer ships;
    # folium loads Bootstrap 3's glyphicons for it, so we keep just those rules and the font.
    Package(
        "bootstrap@3.4.1",
        "MIT",
        "glyphicons",
        (
            (
                "dist/fonts/glyphicons-halflings-regular.woff2",
                "fonts/glyphicons-halflings-regular.woff2",
            ),
            ("LICENSE", "LICENSE"),
        ),
    ),
    # Only the solid and regular styles: brand icons are not used and cost 107 kB more per map.
    Package(
        "@fortawesome/fontawesome-free@6.2.0",
        "CC-BY-4.0 AND OFL-1.1 AND MIT",
        "fontawesome",
        (
            ("css/fontawesome.min.css", "css/fontawesome.min.css"),
            ("css/solid.min.css", "css/solid.min.css"),
            ("css/regular.min.css", "css/regular.min.css"),
            ("webfonts/fa-solid-900.woff2", "webfonts/fa-solid-900.woff2"),
            ("webfonts/fa-regular-400.woff2", "webfonts/fa-regular-400.woff2"),
            ("LICENSE.txt", "LICENSE.txt"),
        ),
    ),
    # folium references 2.0.2 on a CDN; npm has the same plugin as 2.0.5 (adds square markers).
    Package(
        "leaflet.awesome-markers@2.0.5",
        "MIT",
        "leaflet.awesome-markers",
        (
            ("dist/leaflet.awesome-markers.js", "leaflet.awesome-markers.js"),
            ("dist/leaflet.awesome-markers.css", "leaflet.awesome-markers.css"),
            *((f"dist/images/{name}", f"images/{name}") for name in _AWESOME_IMAGES),
            ("LICENSE", "LICENSE"),
        ),
    ),
    Package(
        "leaflet.markercluster@1.5.3",
        "MIT",
        "leaflet.markercluster",
        (
            ("dist/leaflet.markercluster.js", "leaflet.markercluster.js"),
            ("dist/MarkerCluster.css", "MarkerCluster.css"),
            ("dist/MarkerCluster.Default.css", "MarkerCluster.Default.css"),
            ("MIT-LICENCE.txt", "MIT-LICENCE.txt"),
        ),
    ),
)

_GLYPHICONS_SOURCE = "dist/css/bootstrap.css"
_GLYPHICONS_FONT_SRC = '  src: url("fonts/glyphicons-halflings-regular.woff2") format("woff2");'


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm_pack(spec: str, workdir: Path) -> Path:
    """Download and unpack one package; return its ``package/`` folder."""
    out = subprocess.run(
        ["npm", "pack", spec, "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / out.stdout.strip().splitlines()[-1]
    target = workdir / tarball.stem
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    return target / "package"


def _write_glyphicons_css(bootstrap3: Path, dest: Path) -> None:
    """Cut the Glyphicons rules out of Bootstrap 3's stylesheet.

    Keeps the banner, the ``@font-face`` and every ``.glyphicon*`` rule that follows it,
    and points the font at the single woff2 file we vendor (every browser we support
    reads woff2, so the eot/woff/ttf/svg fallbacks would only be dead weight).
    """
    lines = (bootstrap3 / _GLYPHICONS_SOURCE).read_text(encoding="utf-8").splitlines()
    banner = lines[: lines.index(" */") + 1]
    start = lines.index("@font-face {")
    end = lines.index("* {", start)
    section = lines[start:end]
    if "Glyphicons Halflings" not in section[1]:
        raise RuntimeError("Bootstrap 3 stylesheet layout changed; update _write_glyphicons_css")
    font_face_end = section.index("}")
    font_face = [line for line in section[:font_face_end] if not line.startswith("  src:")]
    section = [*font_face, _GLYPHICONS_FONT_SRC, *section[font_face_end:]]
    text = "\n".join(
        [
            *banner,
            "/* Glyphicons rules extracted from Bootstrap 3.4.1 dist/css/bootstrap.css */",
            *section,
        ]
    )
    (dest / "glyphicons.css").write_text(text + "\n", encoding="utf-8")


def _vendor_md(rows: list[tuple[str, str, str, str, str]]) -> str:
    head = [
        "# Vendored front-end assets",
        "",
        "Everything folium needs in the browser, kept here so maps work with no network.",
        "`estates/maps/_offline.py` inlines these files into each map as `data:` URLs; nothing is",
        "served from this folder at run time. Files come from the npm registry (`npm pack`)",
        "and are copied unchanged, except `glyphicons/glyphicons.css` (derived, see its note).",
        "Rebuild with `.venv/bin/python static/vendor/update_vendor.py`; never edit by hand.",
        "",
        "| file | package | licence | original path | sha256 |",
        "|---|---|---|---|---|",
    ]
    body = [f"| `{a}` | {p} | {lic} | `{o}` | `{s}` |" for a, p, lic, o, s in rows]
    notes = [
        "",
        "Notes",
        "",
        "- `glyphicons/glyphicons.css` is derived: the `@font-face` and `.glyphicon*` rules of",
        "  Bootstrap 3.4.1 `dist/css/bootstrap.css`, with the font `src` cut down to the woff2",
        "  file. The Glyphicons Halflings font is distributed with Bootstrap under its MIT licence.",
        "- Font Awesome: only the solid and regular styles are kept (no brand icons).",
        "- folium's `leaflet.awesome.rotate.css` (`.fa-rotate-N` rules for `folium.Icon(angle=N)`)",
        "  is generated in `estates/maps/_offline.py` rather than vendored.",
        "- Versions differing from folium 0.20's CDN links: Leaflet 1.9.4 (folium: 1.9.3),",
        "  leaflet.markercluster 1.5.3 (folium: 1.1.0), leaflet.awesome-markers 2.0.5 (folium: 2.0.2).",
        "",
    ]
    return "\n".join(head + body + notes)


def main() -> None:
    """Fetch every package, copy the kept files and rewrite ``VENDOR.md``."""
    rows: list[tuple[str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for package in PACKAGES:
            source = _npm_pack(package.spec, workdir)
            dest = VENDOR_DIR / package.dest
            shutil.rmtree(dest, ignore_errors=True)
            for inner, outer in package.files:
                target = dest / outer
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source / inner, target)
                rows.append(
                    (
                        f"{package.dest}/{outer}",
                        package.spec,
                        package.licence,
                        inner,
                        _sha256(target),
                    )
                )
            if package.dest == "glyphicons":
                _write_glyphicons_css(source, dest)
                rows.append(
                    (
                        "glyphicons/glyphicons.css",
                        package.spec,
                        package.licence,
                        f"{_GLYPHICONS_SOURCE} (extract)",
                        _sha256(dest / "glyphicons.css"),
                    )
                )
    (VENDOR_DIR / "VENDOR.md").write_text(_vendor_md(rows), encoding="utf-8")


if __name__ == "__main__":
    main()
