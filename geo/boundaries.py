"""Boundary layers and reference tables of a place, one cached accessor per layer.

Layers are returned in WGS84 (EPSG:4326); project with ``.to_crs(geo.projection.BNG)`` for metres. Each accessor
returns a shallow copy, so callers may add columns without touching the cache (pandas copy-on-write).
:func:`projected` gives a layer already in British National Grid, for joins, from a cache file kept between runs.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from numpy.typing import NDArray

from geo.filecache import CACHE_DIR, source_digest, write_atomically
from geo.place import Place, PlaceError, load_place
from geo.projection import BNG, WGS84

if TYPE_CHECKING:  # imported where a layer is read: a command that only tags points never needs geopandas
    import geopandas as gpd

__all__ = [
    "boundary",
    "wards",
    "neighbourhood_definition",
    "neighbourhoods",
    "lsoas",
    "pcn_footprints",
    "gp_practices",
    "practice_pcn",
    "local_authorities",
    "has_neighbourhoods",
    "ProjectedLayer",
    "projected",
]


def _place(place: Place | None) -> Place:
    return place if place is not None else load_place()


@lru_cache(maxsize=32)
def _layer(place: Place, key: str) -> gpd.GeoDataFrame:
    import geopandas as gpd

    path = place.path("layers", key)
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise PlaceError(f"cannot read {path}: {exc}") from None
    return frame.set_crs(WGS84) if frame.crs is None else frame.to_crs(WGS84)


@dataclass(frozen=True)
class ProjectedLayer:
    """A boundary layer in British National Grid: its features' properties and their geometries, same order."""

    attributes: pd.DataFrame
    geometry: NDArray[np.object_]  # shapely geometries, EPSG:27700


#: Bump when the cache file's layout changes, so old files are not read.
_PROJECTED_FORMAT = 1
_WKB = "__geometry_wkb__"


@lru_cache(maxsize=32)
def projected(place: Place, key: str) -> ProjectedLayer:
    """A layer's properties and geometries in British National Grid (metres), for point-in-polygon joins.

    Kept between runs as an Arrow IPC file in ``var/cache`` (:mod:`geo.filecache`): reading it back costs a few
    milliseconds where reading the GeoJSON with GDAL and projecting it costs a tenth of a second and the geopandas
    import, which is most of a small ``geocode`` command's fixed cost. Geometries travel as WKB, so they come back
    bit for bit; a damaged file is rebuilt.
    """
    path = place.path("layers", key)
    digest = source_digest([path], _PROJECTED_FORMAT, BNG, str(path.resolve()))
    cache = CACHE_DIR / f"{place.slug}-{key}-bng-{digest}.arrow"
    try:
        table = pa.ipc.open_file(pa.BufferReader(cache.read_bytes())).read_all()
        geometry = shapely.from_wkb(table.column(_WKB).to_numpy(zero_copy_only=False))
        return ProjectedLayer(table.drop_columns([_WKB]).to_pandas(), np.asarray(geometry, dtype=object))
    except (OSError, KeyError, pa.ArrowInvalid, shapely.errors.ShapelyError):
        pass  # absent or damaged: build it
    frame = _layer(place, key).to_crs(BNG)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    wkb = shapely.to_wkb(frame.geometry.to_numpy())
    table = pa.Table.from_pandas(attributes, preserve_index=False).append_column(_WKB, pa.array(wkb, pa.binary()))
    sink = io.BytesIO()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    with contextlib.suppress(OSError):  # a read-only checkout derives it again next time
        write_atomically(cache, sink.getvalue())
    return ProjectedLayer(attributes.reset_index(drop=True), np.asarray(shapely.from_wkb(wkb), dtype=object))


@lru_cache(maxsize=32)
def _table(place: Place, key: str) -> pd.DataFrame:
    return pd.read_csv(place.path("tables", key), dtype={"practice_code": str, "pcn_code": str})


def boundary(place: Place | None = None) -> gpd.GeoDataFrame:
    """The place's outer boundary (one row)."""
    return _layer(_place(place), "boundary").copy(deep=False)


def wards(place: Place | None = None, *, generalised: bool = False) -> gpd.GeoDataFrame:
    """Electoral wards (``ward_code``, ``ward_name``, ``neighbourhood``), sorted by ward code.

    Parameters
    ----------
    generalised
        The light version for display; joins use the full-resolution one.
    """
    place = _place(place)
    frame = _layer(place, "wards_generalised" if generalised else "wards")
    definition = neighbourhood_definition(place)[["ward_code", "neighbourhood"]]
    return frame.merge(definition, on="ward_code", how="left").sort_values("ward_code", ignore_index=True)


def has_neighbourhoods(place: Place | None = None) -> bool:
    """True when the place defines neighbourhoods (a ``neighbourhood_wards`` table); a place built without the
    council's grouping has none, and nothing invents one."""
    return "neighbourhood_wards" in _place(place).tables


def neighbourhood_definition(place: Place | None = None) -> pd.DataFrame:
    """The ward → neighbourhood table that defines the neighbourhoods (no rows when the place has none)."""
    place = _place(place)
    if not has_neighbourhoods(place):
        return pd.DataFrame({"ward_code": pd.Series(dtype=str), "ward_name": pd.Series(dtype=str),
                             "neighbourhood": pd.Series(dtype=str)})
    return _table(place, "neighbourhood_wards").copy(deep=False)


@lru_cache(maxsize=8)
def _neighbourhoods(place: Place, generalised: bool) -> gpd.GeoDataFrame:
    dissolved = wards(place, generalised=generalised).to_crs(BNG).dissolve(
        by="neighbourhood", aggfunc={"ward_code": "count"}).reset_index()
    dissolved = dissolved.rename(columns={"ward_code": "wards"})
    dissolved["area_ha"] = dissolved.area / 1e4
    return dissolved.to_crs(WGS84)


def neighbourhoods(place: Place | None = None, *, generalised: bool = False) -> gpd.GeoDataFrame:
    """Neighbourhood polygons, dissolved from the wards by :func:`neighbourhood_definition`."""
    return _neighbourhoods(_place(place), generalised).copy(deep=False)


def lsoas(place: Place | None = None) -> gpd.GeoDataFrame:
    """LSOA 2021 polygons with mid-2024 population and IMD 2019 ranks, deciles and domain scores."""
    return _layer(_place(place), "lsoas").copy(deep=False)


def pcn_footprints(place: Place | None = None) -> gpd.GeoDataFrame:
    """Primary care network footprints (``pcn_code``, ``pcn_name``); see docs/pcn_footprints.md."""
    return _layer(_place(place), "pcn_footprints").copy(deep=False)


def gp_practices(place: Place | None = None) -> pd.DataFrame:
    """GP practices with location and registered list size, joined to their PCN."""
    place = _place(place)
    members = practice_pcn(place)[["practice_code", "pcn_code", "pcn_name"]]
    return _table(place, "gp_practices").merge(members, on="practice_code", how="left")


def local_authorities(place: Place | None = None) -> gpd.GeoDataFrame:
    """The place's and its neighbours' local authorities (``la_code``, ``la_name``), for places that ship them."""
    return _layer(_place(place), "local_authorities").copy(deep=False)


def practice_pcn(place: Place | None = None) -> pd.DataFrame:
    """The practice → PCN membership file (replace the file when membership changes)."""
    return _table(_place(place), "practice_pcn").copy(deep=False)
