"""Make folium maps work with no network: every browser asset inlined from static/vendor.

folium and its plugins point their JavaScript and CSS at public CDNs. Offline those
requests fail, Leaflet never loads and the map is blank (inside ``st_folium`` the
iframe even collapses to 0 px, with no visible error). Streamlit's static serving
cannot host the files either: it answers ``.js`` as ``text/plain``, which browsers
refuse to run. So :func:`offline_map` swaps every CDN link for a ``data:`` URL built
from the files in ``static/vendor/`` (see ``static/vendor/VENDOR.md``); images and
fonts those stylesheets reference are inlined into the CSS the same way.

Both ways of showing a map read the rewritten links: ``m.get_root().render()`` /
``m._repr_html_()`` turn them into ``<script src="data:...">`` / ``<link href=...>``
tags, and ``streamlit_folium.st_folium`` loads them as its ``js_links``/``css_links``.
A map with every vendored asset carries about 1.5 MB of them inline (st_folium passes
them to its iframe as component arguments); the files are read and encoded once per
process.

Only the assets of folium's default set and of ``MarkerCluster``/``FastMarkerCluster``
are vendored. Any other CDN link raises :class:`OfflineAssetError` instead of
silently leaving a map that breaks offline.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from branca.colormap import ColorMap
from branca.element import Element
from folium.elements import JSCSSMixin

__all__ = [
    "VENDOR_DIR",
    "OfflineAssetError",
    "external_asset_urls",
    "offline_map",
    "vendor_data_url",
]

VENDOR_DIR: Path = Path(__file__).resolve().parents[2] / "static" / "vendor"
"""Folder holding the vendored assets and their licences."""

ElementT = TypeVar("ElementT", bound=Element)

_MIME_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".woff2": "font/woff2",
}

# url(...) in CSS, with optional quotes; group 2 is the reference.
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""")
# One fallback entry of an @font-face ``src`` list: ", url(x) format(y)".
_FONT_FALLBACK = re.compile(r""",\s*url\(\s*(['"]?)(.*?)\1\s*\)\s*format\(\s*['"][^'"]*['"]\s*\)""")


class OfflineAssetError(ValueError):
    """An asset a map needs has no vendored copy, so it would need the network."""


@dataclass(frozen=True)
class _Asset:
    """Vendored replacement for one CDN file.

    Attributes
    ----------
    pattern : re.Pattern
        Matches the CDN URLs this asset replaces. Major versions are pinned so an
        upgrade of folium to, say, Leaflet 2 fails loudly instead of mixing versions.
    files : tuple of str
        Files under ``VENDOR_DIR`` concatenated, in order, to make the asset.
    extra : callable or None
        Generated text appended after ``files``.
    """

    pattern: re.Pattern[str]
    files: tuple[str, ...]
    extra: Callable[[], str] | None = None


def _leaflet_icon_defaults() -> str:
    """JavaScript pointing Leaflet's default marker icon at inlined images.

    Leaflet finds its marker images by reading the path of ``marker-icon.png`` out
    of leaflet.css; once that CSS holds a ``data:`` URL the guess fails and every
    ``folium.Marker`` without an explicit icon would show a broken image. An empty
    ``imagePath`` (a string, so Leaflet skips the guess) plus full ``data:`` URLs
    fixes that.
    """
    urls = {
        "iconUrl": vendor_data_url("leaflet/images/marker-icon.png"),
        "iconRetinaUrl": vendor_data_url("leaflet/images/marker-icon-2x.png"),
        "shadowUrl": vendor_data_url("leaflet/images/marker-shadow.png"),
    }
    return f'\nL.Icon.Default.imagePath = "";\nL.Icon.Default.mergeOptions({json.dumps(urls)});\n'


def _awesome_rotate_css() -> str:
    """``.fa-rotate-N`` rules used by ``folium.Icon(angle=N)``.

    folium links a CDN copy of exactly these 361 one-line rules; generating them
    is simpler than vendoring a file.
    """
    return "".join(f".fa-rotate-{deg}{{transform:rotate({deg}deg)}}" for deg in range(361))


# CDN URL (pattern) -> vendored files, and generated text to append. One row per asset folium can link.
_ASSET_TABLE: tuple[tuple[str, tuple[str, ...], Callable[[], str] | None], ...] = (
    (r"/leaflet@1\.[\d.]+/dist/leaflet\.js$", ("leaflet/leaflet.js",), _leaflet_icon_defaults),
    (r"/leaflet@1\.[\d.]+/dist/leaflet\.css$", ("leaflet/leaflet.css",), None),
    (r"/jquery[-/@]3\.[\d.]+(/jquery)?\.min\.js$", ("jquery/jquery.min.js",), None),
    (r"/bootstrap@5\.[\d.]+/dist/js/bootstrap\.bundle\.min\.js$", ("bootstrap/bootstrap.bundle.min.js",), None),
    (r"/bootstrap@5\.[\d.]+/dist/css/bootstrap\.min\.css$", ("bootstrap/bootstrap.min.css",), None),
    (r"/bootstrap/3\.[\d.]+/css/bootstrap-glyphicons\.css$", ("glyphicons/glyphicons.css",), None),
    # folium links all.min.css; we keep the same icons minus the brand font.
    (r"/fontawesome-free@6\.[\d.]+/css/all\.min\.css$",
     ("fontawesome/css/fontawesome.min.css", "fontawesome/css/solid.min.css", "fontawesome/css/regular.min.css"),
     None),
    (r"/Leaflet\.awesome-markers/2\.[\d.]+/leaflet\.awesome-markers\.js$",
     ("leaflet.awesome-markers/leaflet.awesome-markers.js",), None),
    (r"/Leaflet\.awesome-markers/2\.[\d.]+/leaflet\.awesome-markers\.css$",
     ("leaflet.awesome-markers/leaflet.awesome-markers.css",), None),
    (r"/folium/templates/leaflet\.awesome\.rotate\.min\.css$", (), _awesome_rotate_css),
    (r"/leaflet\.markercluster/1\.[\d.]+/leaflet\.markercluster\.js$",
     ("leaflet.markercluster/leaflet.markercluster.js",), None),
    (r"/leaflet\.markercluster/1\.[\d.]+/MarkerCluster\.css$", ("leaflet.markercluster/MarkerCluster.css",), None),
    (r"/leaflet\.markercluster/1\.[\d.]+/MarkerCluster\.Default\.css$",
     ("leaflet.markercluster/MarkerCluster.Default.css",), None),
)

_ASSETS: tuple[_Asset, ...] = tuple(_Asset(re.compile(pattern), files, extra) for pattern, files, extra in _ASSET_TABLE)


def _vendor_path(relative: str) -> Path:
    """Resolve ``relative`` under ``VENDOR_DIR``, refusing paths that leave it."""
    path = (VENDOR_DIR / relative).resolve()
    if not path.is_relative_to(VENDOR_DIR) or not path.is_file():
        raise OfflineAssetError(f"no vendored file {relative!r} in {VENDOR_DIR}")
    return path


def _mime_type(path: Path) -> str:
    try:
        return _MIME_TYPES[path.suffix]
    except KeyError:
        raise OfflineAssetError(f"unknown MIME type for vendored file {path}") from None


def _inline_css_urls(css: str, css_path: Path) -> str:
    """Replace every ``url(...)`` in ``css`` by a ``data:`` URL of the vendored file.

    References resolve relative to ``css_path`` like a browser would. An ``@font-face``
    fallback format we do not vendor (e.g. ``.ttf`` after ``.woff2``) is dropped:
    browsers only fetch the first format they support, and every current one reads
    woff2. Any other reference to a file we do not have raises.
    """

    def vendored(reference: str) -> Path | None:
        path = (css_path.parent / reference).resolve()
        return path if path.is_relative_to(VENDOR_DIR) and path.is_file() else None

    def drop_missing_fallback(match: re.Match[str]) -> str:
        return match.group(0) if vendored(match.group(2)) else ""

    def inline(match: re.Match[str]) -> str:
        reference = match.group(2)
        # Already inline, or a fragment naming something in the page (old IE's
        # "#default#VML" in leaflet.css): neither makes the browser fetch anything.
        if reference.startswith(("data:", "#")):
            return match.group(0)
        path = vendored(reference)
        if path is None:
            raise OfflineAssetError(
                f"{css_path.relative_to(VENDOR_DIR)} references {reference!r}, which is not vendored"
            )
        return f'url("{_file_data_url(path)}")'

    return _CSS_URL.sub(inline, _FONT_FALLBACK.sub(drop_missing_fallback, css))


def _data_url(mime: str, text: str) -> str:
    """Encode text as a ``data:`` URL that is safe inside an HTML attribute.

    Stylesheets are mostly base64 blobs already (their inlined fonts and images);
    percent-encoding leaves those characters as they are, where a second base64
    pass would grow them by a third. Scripts are base64-encoded, which is smaller
    for minified code full of punctuation.
    """
    if mime == "text/css":
        return f"data:text/css;charset=utf-8,{quote(text, safe='/+=')}"
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"data:{mime};charset=utf-8;base64,{encoded}"


@functools.cache
def _file_data_url(path: Path) -> str:
    mime = _mime_type(path)
    if mime == "text/css":
        return _data_url(mime, _inline_css_urls(path.read_text("utf-8"), path))
    if mime == "text/javascript":
        return _data_url(mime, path.read_text("utf-8"))
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{mime};base64,{encoded}"


def vendor_data_url(relative: str) -> str:
    """Return a vendored file as a self-contained ``data:`` URL.

    Stylesheets come back with the images and fonts they reference inlined too,
    so the result works with no network and no file server. Use it wherever a map
    needs a vendored image, e.g. ``folium.CustomIcon(vendor_data_url(
    "leaflet/images/marker-icon.png"))``.

    Parameters
    ----------
    relative : str
        Path under ``static/vendor/``, e.g. ``"leaflet/leaflet.css"``.

    Returns
    -------
    str
        The ``data:`` URL (cached per process).

    Raises
    ------
    OfflineAssetError
        If the file is not vendored, has an unknown type, or is a stylesheet that
        references a file that is not vendored.
    """
    return _file_data_url(_vendor_path(relative))


@functools.cache
def _asset_data_url(asset: _Asset, mime: str) -> str:
    parts = []
    for relative in asset.files:
        path = _vendor_path(relative)
        text = path.read_text("utf-8")
        parts.append(_inline_css_urls(text, path) if mime == "text/css" else text)
    if asset.extra is not None:
        parts.append(asset.extra())
    return _data_url(mime, "\n".join(parts))


def _inline_link(url: str, mime: str, owner: Element) -> str:
    if url.startswith("data:"):
        return url
    for asset in _ASSETS:
        if asset.pattern.search(url):
            return _asset_data_url(asset, mime)
    raise OfflineAssetError(
        f"{type(owner).__name__} needs {url}, which has no vendored copy. Vendor it "
        "(static/vendor/update_vendor.py and _ASSETS in estates/maps/_offline.py) or do "
        "not use this element in offline maps."
    )


def _walk(root: Element) -> Iterator[Element]:
    stack = [root]
    while stack:
        element = stack.pop()
        yield element
        stack.extend(element._children.values())


def offline_map(m: ElementT) -> ElementT:
    """Inline every JavaScript/CSS asset of a map so it renders with no network.

    Rewrites, on the instances only (folium's class-level lists stay untouched),
    the ``default_js``/``default_css`` links of the map's whole element tree
    (map, layers, plugins, and anything else in its figure) to ``data:`` URLs of the
    files in ``static/vendor/``. Call it after adding every layer and plugin and
    just before rendering or ``st_folium``; calling it again after adding more
    layers is safe (links already inlined are left alone). Feature groups given to
    ``st_folium(feature_group_to_add=...)`` are not in the map yet: pass each of
    them through ``offline_map`` as well.

    Parameters
    ----------
    m : branca.element.Element
        Usually a ``folium.Map``; any element works, and its whole figure is
        processed.

    Returns
    -------
    branca.element.Element
        ``m`` itself, changed in place, for chaining:
        ``st_folium(offline_map(m), ...)``.

    Raises
    ------
    OfflineAssetError
        If an element needs an asset that is not vendored (a plugin outside
        folium's default set and MarkerCluster/FastMarkerCluster), or is a branca
        colormap, whose legend loads d3 from a CDN in a way no link rewrite reaches.
    """
    for element in _walk(m.get_root()):
        if isinstance(element, ColorMap):
            raise OfflineAssetError(
                f"{type(element).__name__} (branca colormap legend) loads d3 from a "
                "CDN when rendered and cannot work offline; draw the legend as HTML "
                "(e.g. a folium.Element) instead"
            )
        if isinstance(element, JSCSSMixin):
            element.default_js = [
                (name, _inline_link(url, "text/javascript", element)) for name, url in element.default_js or ()
            ]
            element.default_css = [
                (name, _inline_link(url, "text/css", element)) for name, url in element.default_css or ()
            ]
    return m


# The attribute through which each tag makes the browser fetch a URL.
_FETCHING_ATTRIBUTES = {"script": "src", "link": "href", "img": "src", "iframe": "src"}


class _AssetLinkParser(HTMLParser):
    """Collect the ``src``/``href`` of the tags that make a browser fetch them."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = _FETCHING_ATTRIBUTES.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value.strip())


def external_asset_urls(html: str) -> list[str]:
    """List the assets an HTML page would fetch from another host.

    Parameters
    ----------
    html : str
        A rendered page, e.g. ``m.get_root().render()``.

    Returns
    -------
    list of str
        ``src``/``href`` values of ``<script>``, ``<link>``, ``<img>`` and
        ``<iframe>`` tags that are absolute ``http(s)`` or protocol-relative
        (``//host/...``) URLs, in document order; empty for an offline map.
    """
    parser = _AssetLinkParser()
    parser.feed(html)
    parser.close()
    return [url for url in parser.urls if re.match(r"(?i)(https?:)?//", url)]
