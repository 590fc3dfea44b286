"""Cross-partner matching: find the records of different partners that are the same site.

The council's asset register lists schools and libraries that also appear in the schools and libraries lists;
NHS trusts share buildings. Pairs of records from *different* partners are scored in three ways:

1. **same UPRN** — score 100;
2. **same full postcode** and similar names (rapidfuzz; a name is also compared with the other record's
   address, since "Dermatology Trafford, Trafford General Hospital" names its building in the address);
3. **within** :data:`DISTANCE_M` metres (both located from coordinates or a full postcode) and similar names;
4. **the same name** within :data:`SAME_NAME_RADIUS_M` metres (proposed only).

A pair scoring at least :data:`CONFIDENT` is applied; from :data:`PROPOSE` up to that it is *proposed* — shown
for a person to confirm or reject, not applied. People's decisions are kept in the store, keyed by the two stable
building ids, so they survive re-ingests (:func:`estates.service.decide_match`); a partner list's decisions CSV
(:func:`load_decisions`) is imported once when the registers are first loaded. Applied pairs join records into
**sites** (connected groups); every record not rejected is in exactly one site, alone or shared. Method and
thresholds are documented in ``docs/schema.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

__all__ = [
    "CONFIDENT",
    "PROPOSE",
    "DISTANCE_M",
    "SAME_NAME_RADIUS_M",
    "SAME_NAME_SIMILARITY",
    "MARGIN",
    "DECISION_COLUMNS",
    "MATCH_COLUMNS",
    "SiteMatches",
    "name_similarity",
    "name_variants",
    "best_similarity",
    "clean_name",
    "RELATION_WORDS",
    "RELATION_CAP",
    "candidate_pairs",
    "match_sites",
    "undecided_proposals",
    "load_decisions",
]

#: Score from which a match is applied without review.
CONFIDENT = 90.0
#: Score from which a match is proposed for review.
PROPOSE = 70.0
#: Records within this many metres are compared by name (full score up to 25 m, then 0.4 points less per metre,
#: so identical names are applied up to 50 m and proposed up to 100 m).
DISTANCE_M = 100.0
#: Records further apart than :data:`DISTANCE_M` but within this radius are *proposed* when their names are
#: (nearly) the same and at least two words long — a partner's postcode or point may be off (the council's St
#: Ann's RC Primary School). One-word names ("Stretford") are place names, not building names.
SAME_NAME_RADIUS_M = 500.0
#: Name similarity needed for the same-name route.
SAME_NAME_SIMILARITY = 95.0
#: A record's match with another partner must be within this many points of its best match with that partner
#: (so "Heyes Lane Infant School" does not also match the junior school next door).
MARGIN = 5.0

DECISION_COLUMNS: tuple[str, ...] = ("building_id_a", "building_id_b", "decision", "decided_at", "decided_by",
                                     "note")
MATCH_COLUMNS: tuple[str, ...] = ("building_id_a", "building_id_b", "partner_a", "partner_b", "name_a", "name_b",
                                  "score", "method", "reason", "distance_m", "status")

_STOPWORDS = frozenset({"the", "and", "of", "ltd", "limited", "nhs", "a", "at", "in", "for", "aided", "controlled",
                        "voluntary"})
_SYNONYMS = {"ctr": "centre", "center": "centre", "cntr": "centre", "hosp": "hospital", "hse": "house",
             "rd": "road", "mc": "medical centre", "hc": "health centre", "gp": "", "lib": "library",
             "sch": "school", "prim": "primary", "jnr": "junior", "inf": "infant", "infants": "infant",
             "juniors": "junior", "cofe": "ce", "coe": "ce", "rc": "catholic"}
_NON_WORD = re.compile(r"[^a-z0-9]+")
_PRECISE = ("high", "medium")


def clean_name(text: object) -> str:
    """Normalise a name or address for comparison: lower case, words only, common abbreviations expanded.

    Examples
    --------
    >>> clean_name("St. Hugh's RC Primary Sch.")
    'st hughs rc primary school'
    >>> clean_name("Church of England")
    'ce'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    value = str(text).lower().replace("&", " and ").replace("'", "").replace("’", "")
    value = re.sub(r"\bc\.?\s*of\s*e\b|\bchurch of england\b", " ce ", value)
    value = re.sub(r"\broman catholic\b", " catholic ", value)
    words = []
    for word in _NON_WORD.sub(" ", value).split():
        word = _SYNONYMS.get(word, word)
        words.extend(w for w in word.split() if w not in _STOPWORDS)
    return " ".join(words)


#: Words saying a record is *next to* or *was* a building, not the building: such a name never matches the
#: building's own name confidently ("Former Lostock Library" is not today's Lostock Library).
RELATION_WORDS = frozenset({"adj", "adjacent", "adjoining", "rear", "behind", "former", "formerly", "land", "fields",
                            "site", "plot", "part", "opposite", "near", "between"})
#: Highest score a pair can get when only one side's name has a relation word.
RELATION_CAP = 85.0


def name_variants(text: object) -> list[str]:
    """Cleaned forms of a name to compare: in full, without bracketed asides, and before the first comma.

    Examples
    --------
    >>> name_variants("Sale Library (Integrated Facility in Sale Waterside)")
    ['sale library integrated facility sale waterside', 'sale library']
    >>> name_variants("Urmston Library, Golden Way")
    ['urmston library golden way', 'urmston library']
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    raw = str(text)
    forms = [raw, re.sub(r"\([^)]*\)", " ", raw), re.split(r",| - ", raw)[0]]
    out: list[str] = []
    for form in forms:
        cleaned = clean_name(form)
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def _has_relation(variants: list[str]) -> bool:
    return bool(variants) and bool(RELATION_WORDS & set(variants[0].split()))


def best_similarity(a: list[str], b: list[str]) -> float:
    """Highest :func:`name_similarity` between any variant of ``a`` and any of ``b`` (0 when either is empty)."""
    return max((name_similarity(x, y) for x in a for y in b), default=0.0)


def name_similarity(a: str, b: str) -> float:
    """Similarity (0–100) of two cleaned names.

    The mean of rapidfuzz's token-set ratio (word order and extra words forgiven) and token-sort ratio
    (extra words cost): "Coppice Avenue Library" / "Coppice Library" scores about 90, a one-word name inside
    a longer one ("Stretford" / "Stretford Library") about 80.
    """
    if not a or not b:
        return 0.0
    return 0.5 * fuzz.token_set_ratio(a, b) + 0.5 * fuzz.token_sort_ratio(a, b)


@dataclass
class SiteMatches:
    """Result of :func:`match_sites`.

    Attributes
    ----------
    matches
        Scored cross-partner pairs (:data:`MATCH_COLUMNS`); ``status`` is ``matched`` (applied, score ≥
        :data:`CONFIDENT`), ``proposed`` (awaiting a decision), ``confirmed`` / ``rejected`` (a person decided).
    sites
        One row per site: site_id, name, partners, partner_count, building_count, building_ids, lon, lat,
        easting, northing, match_score (weakest applied link, NaN for a lone record), match_reason, proposed
        (pairs touching the site still awaiting a decision).
    membership
        ``building_id`` → ``site_id`` for every record that is not rejected.
    """

    matches: pd.DataFrame
    sites: pd.DataFrame
    membership: pd.DataFrame


def _column(frame: pd.DataFrame, name: str, default: object = None) -> pd.Series:
    return frame[name] if name in frame else pd.Series(default, index=frame.index, dtype=object)


def _prepared(records: pd.DataFrame) -> pd.DataFrame:
    keep = records
    if "outcome" in keep:
        keep = keep[keep["outcome"] != "rejected"]
    postcode = _column(keep, "postcode_normalised").fillna("").astype(str)
    full = postcode.str.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}")
    precision = _column(keep, "geocode_precision").fillna("none").astype(str)
    return pd.DataFrame({
        "building_id": keep["building_id"].astype(str).to_numpy(),
        "partner": keep["partner"].astype(str).to_numpy(),
        "name": _column(keep, "name").to_numpy(dtype=object),
        "address": (_column(keep, "address_line_1").fillna("").astype(str)).to_numpy(dtype=object),
        "names": [name_variants(v) for v in _column(keep, "name")],
        "addresses": [name_variants(v) for v in _column(keep, "address_line_1")],
        "footprint": _column(keep, "footprint_wkt").astype(object).where(_column(keep, "footprint_wkt").notna(),
                                                                          None).to_numpy(),
        "uprn": _column(keep, "uprn").astype(object).where(_column(keep, "uprn").notna(), None).to_numpy(),
        "postcode": postcode.where(full, "").to_numpy(dtype=object),
        "easting": pd.to_numeric(_column(keep, "easting", np.nan), errors="coerce").to_numpy(dtype=float),
        "northing": pd.to_numeric(_column(keep, "northing", np.nan), errors="coerce").to_numpy(dtype=float),
        "precise": precision.isin(_PRECISE).to_numpy(),
        "precision": precision.to_numpy(dtype=object),
    })


def _pairs_within_groups(keys: np.ndarray, partners: np.ndarray, valid: np.ndarray) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    positions = np.flatnonzero(valid)
    if not len(positions):
        return pairs
    groups = pd.Series(positions).groupby(keys[positions]).agg(list)
    for members in groups:
        if len(members) < 2 or len({partners[m] for m in members}) < 2:  # one partner's rows: nothing to pair
            continue
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if partners[a] != partners[b]:
                    pairs.add((min(a, b), max(a, b)))
    return pairs


def _pairs_nearby(east: np.ndarray, north: np.ndarray, partners: np.ndarray, valid: np.ndarray,
                  distance: float) -> set[tuple[int, int]]:
    """Cross-partner pairs within ``distance`` metres: each partner's points against the later partners' only.

    Same-partner pairs are never built (a 200,000-row register of one partner has none to score), so memory follows
    the cross-partner answer (:func:`geo.proximity.pairs_between`).
    """
    from geo.proximity import pairs_between

    found: set[tuple[int, int]] = set()
    names = sorted(set(partners[valid].tolist()))
    for k, name in enumerate(names[:-1]):
        mine = np.flatnonzero(valid & (partners == name))
        others = np.flatnonzero(valid & np.isin(partners, names[k + 1:]))
        i, j = pairs_between(east[mine], north[mine], east[others], north[others], distance)
        a, b = mine[i], others[j]
        found.update(zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True))
    return found


def _footprint_pairs(table: pd.DataFrame, distance: float) -> dict[tuple[int, int], float]:
    """Pairs within ``distance`` metres of a footprint, measured to the polygon (0 inside it).

    Cross-partner pairs of any record with a footprinted one; same-partner pairs only between footprints with
    the same name (OS splits one hospital into a dozen polygons).
    """
    import shapely

    from geo.projection import to_bng

    wkts = table["footprint"].to_numpy(dtype=object)
    has = np.flatnonzero(pd.notna(wkts))
    if not len(has):
        return {}
    east, north = table["easting"].to_numpy(), table["northing"].to_numpy()
    located = np.isfinite(east) & np.isfinite(north)
    polygons = shapely.transform(shapely.from_wkt(wkts[has].astype(str)),
                                 lambda xy: np.column_stack(to_bng(xy[:, 0], xy[:, 1])))
    polygon_of = dict(zip(has.tolist(), polygons, strict=True))
    points = shapely.points(np.where(located, east, 0.0), np.where(located, north, 0.0))
    partners = table["partner"].to_numpy(dtype=object)
    first_name = [v[0] if v else "" for v in table["names"]]
    precise = table["precise"].to_numpy()
    found: dict[tuple[int, int], float] = {}
    for f, polygon in polygon_of.items():
        if not located[f]:
            continue
        reach = distance + float(shapely.hausdorff_distance(points[f], polygon))
        near = np.flatnonzero(located & precise & (np.hypot(east - east[f], north - north[f]) <= reach))
        near = near[near != f]
        for other in near:
            same_partner = partners[other] == partners[f]
            if same_partner and (other not in polygon_of or not first_name[f] or first_name[f] != first_name[other]):
                continue
            target = polygon_of.get(other, points[other])
            gap = float(shapely.distance(polygon, target))
            if gap <= distance:
                key = (min(f, other), max(f, other))
                found[key] = min(gap, found.get(key, np.inf))
    return found


def candidate_pairs(records: pd.DataFrame, *, distance_m: float = DISTANCE_M) -> pd.DataFrame:
    """Score every cross-partner pair sharing a UPRN, a full postcode, or lying within ``distance_m``.

    Parameters
    ----------
    records
        Canonical records with geocode columns (``postcode_normalised``, ``easting``, ``northing``,
        ``geocode_precision``) and ``footprint_wkt`` when known; rejected records are ignored.
    distance_m
        Search radius for the distance route (to a footprint's outline when a record has one).

    Returns
    -------
    pandas.DataFrame
        :data:`MATCH_COLUMNS` without ``status``, one row per pair scoring at least :data:`PROPOSE`, best first.
    """
    table = _prepared(records)
    partners = table["partner"].to_numpy(dtype=object)
    uprn = table["uprn"].to_numpy(dtype=object)
    postcode = table["postcode"].to_numpy(dtype=object)
    east, north = table["easting"].to_numpy(), table["northing"].to_numpy()
    precise = table["precise"].to_numpy()
    by_uprn = _pairs_within_groups(uprn, partners, pd.notna(uprn))
    by_postcode = _pairs_within_groups(postcode, partners, postcode != "")
    nearby = _pairs_nearby(east, north, partners, precise, max(distance_m, SAME_NAME_RADIUS_M))
    by_footprint = _footprint_pairs(table, distance_m)
    names, addresses = table["names"].to_list(), table["addresses"].to_list()
    ids, shown = table["building_id"].to_numpy(dtype=object), table["name"].to_numpy(dtype=object)
    rows = []
    for a, b in sorted(by_uprn | by_postcode | nearby | set(by_footprint)):
        gap = by_footprint.get((a, b), float(np.hypot(east[a] - east[b], north[a] - north[b])))
        name_score = best_similarity(names[a], names[b])
        # A name can be written as the other's address ("Trafford General Hospital") — a bit weaker evidence.
        cross = 0.95 * max(best_similarity(names[a], addresses[b]), best_similarity(addresses[a], names[b]))
        text = max(name_score, cross)
        via = "name" if name_score >= cross else "name and address"
        if _has_relation(names[a]) != _has_relation(names[b]):
            text = min(text, RELATION_CAP)
            via += " (one is land next to, or a former, building)"
        if partners[a] == partners[b]:
            score, method = 100.0, "footprint"
            reason = f"parts of one building complex with the same name, {gap:.0f} m apart"
        elif (a, b) in by_uprn:
            score, method, reason = 100.0, "uprn", f"same UPRN {uprn[a]}"
        elif (a, b) in by_postcode:
            score, method = text, "postcode"
            reason = f"same postcode {postcode[a]}, {via} {text:.0f}% similar"
        elif gap <= distance_m:
            # Beyond 25 m each further metre costs 0.4 points (10 points at 50 m).
            score = text - max(0.0, gap - 25.0) * 0.4
            method = "distance"
            where = "inside or at the edge of the footprint" if gap < 1 else f"{gap:.0f} m apart"
            reason = f"{where}, {via} {text:.0f}% similar"
        elif name_score >= SAME_NAME_SIMILARITY and min(len(names[a][0].split()), len(names[b][0].split())) >= 2:
            # Far for one building, but the same name: worth a person's look, never applied on its own.
            score = min(name_score, CONFIDENT) - 10.0
            method = "same_name"
            reason = f"same name ({name_score:.0f}% similar) but {gap:.0f} m apart"
        else:
            continue
        if score < PROPOSE:
            continue
        rows.append((ids[a], ids[b], partners[a], partners[b], shown[a], shown[b], round(score, 1), method, reason,
                     round(gap, 1) if np.isfinite(gap) else np.nan))
    pairs = pd.DataFrame(rows, columns=list(MATCH_COLUMNS[:-1]))
    return pairs.sort_values(["score", "building_id_a", "building_id_b"], ascending=[False, True, True],
                             ignore_index=True)


def _best_only(pairs: pd.DataFrame) -> pd.DataFrame:
    """Keep pairs within :data:`MARGIN` of each side's best match with the other partner (UPRN pairs always)."""
    if not len(pairs):
        return pairs
    best_a = pairs.groupby(["building_id_a", "partner_b"])["score"].transform("max")
    best_b = pairs.groupby(["building_id_b", "partner_a"])["score"].transform("max")
    keep = (pairs["score"] >= best_a - MARGIN) & (pairs["score"] >= best_b - MARGIN)
    return pairs[keep | pairs["method"].isin(["uprn", "footprint"])]


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _apply_decisions(pairs: pd.DataFrame, decisions: pd.DataFrame | None, known: pd.DataFrame) -> pd.DataFrame:
    status = np.where(pairs["score"] >= CONFIDENT, "matched", "proposed").astype(object)
    pairs = pairs.assign(status=status)
    if decisions is None or not len(decisions):
        return pairs
    latest = {}
    for row in decisions.itertuples(index=False):
        latest[_key(str(row.building_id_a), str(row.building_id_b))] = str(row.decision).strip().lower()
    keys = [_key(a, b) for a, b in zip(pairs["building_id_a"], pairs["building_id_b"], strict=True)]
    decided = [latest.get(k) for k in keys]
    pairs.loc[[d == "confirm" for d in decided], "status"] = "confirmed"
    pairs.loc[[d == "reject" for d in decided], "status"] = "rejected"
    # A person may link two records the matcher never paired: add them as confirmed.
    present = set(keys)
    by_id = known.set_index("building_id")
    extra = []
    for (a, b), decision in latest.items():
        if decision == "confirm" and (a, b) not in present and a in by_id.index and b in by_id.index:
            extra.append({"building_id_a": a, "building_id_b": b, "partner_a": by_id.at[a, "partner"],
                          "partner_b": by_id.at[b, "partner"], "name_a": by_id.at[a, "name"],
                          "name_b": by_id.at[b, "name"], "score": np.nan, "method": "decision",
                          "reason": "linked by a person", "distance_m": np.nan, "status": "confirmed"})
    if extra:
        pairs = pd.concat([pairs, pd.DataFrame(extra)], ignore_index=True)
    return pairs


def _components(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in ids}


def match_sites(records: pd.DataFrame, *, decisions: pd.DataFrame | None = None,
                distance_m: float = DISTANCE_M) -> SiteMatches:
    """Match records across partners and group them into sites.

    Parameters
    ----------
    records
        Records of all partners (:attr:`estates.ingest.PipelineResult.records` before ``site_id``); rejected
        records are left out of sites.
    decisions
        Confirm/reject decisions (:func:`load_decisions`); the latest decision for a pair wins.
    distance_m
        Search radius for the distance route.

    Returns
    -------
    SiteMatches
    """
    live = records[records["outcome"] != "rejected"] if "outcome" in records else records
    known = pd.DataFrame({"building_id": live["building_id"].astype(str), "partner": live["partner"],
                          "name": _column(live, "name")})
    pairs = _best_only(candidate_pairs(live, distance_m=distance_m))
    pairs = _apply_decisions(pairs, decisions, known).reset_index(drop=True)
    applied = pairs[pairs["status"].isin(["matched", "confirmed"])]
    ids = known["building_id"].tolist()
    root = _components(ids, list(zip(applied["building_id_a"], applied["building_id_b"], strict=True)))
    membership = pd.DataFrame({"building_id": ids, "site_id": ["site:" + root[i] for i in ids]})
    sites = _site_table(live, membership, pairs)
    return SiteMatches(matches=pairs[list(MATCH_COLUMNS)], sites=sites, membership=membership)


def _site_table(live: pd.DataFrame, membership: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    if not len(membership):
        return pd.DataFrame(columns=["site_id", "name", "partners", "partner_count", "building_count",
                                     "building_ids", "lon", "lat", "easting", "northing", "match_score",
                                     "match_reason", "proposed"])
    frame = live.assign(building_id=live["building_id"].astype(str)).merge(membership, on="building_id")
    rank = {"high": 0, "medium": 1, "low": 2, "none": 3}
    frame = frame.assign(_rank=_column(frame, "geocode_precision").map(rank).fillna(3),
                         _named=_column(frame, "name").isna())
    for name in ("lon", "lat", "easting", "northing"):
        if name not in frame:
            frame[name] = np.nan
    best = frame.sort_values(["site_id", "_rank", "_named", "building_id"]).groupby("site_id", sort=False)
    # The site's point is the best-located member's; its name the first named member in that order.
    head = best.first()
    site_of = dict(zip(membership["building_id"], membership["site_id"], strict=True))
    applied = pairs[pairs["status"].isin(["matched", "confirmed"])]
    applied_site = applied["building_id_a"].map(site_of)
    score = applied.groupby(applied_site)["score"].min()
    reasons = applied.groupby(applied_site)["reason"].agg(lambda r: "; ".join(dict.fromkeys(r)))
    proposed = pairs[pairs["status"] == "proposed"]
    touching = pd.concat([proposed["building_id_a"].map(site_of), proposed["building_id_b"].map(site_of)])
    proposed_count = touching.value_counts()
    from estates.sites import organisations

    frame = frame.assign(_org=organisations(frame).to_numpy())
    grouped = frame.groupby("site_id")
    sites = pd.DataFrame({
        "name": head["name"],
        # Occupants are organisations: several registers of one organisation count once.
        "partners": grouped["_org"].agg(lambda p: "; ".join(sorted(set(p)))),
        "partner_count": grouped["_org"].nunique(),
        "building_count": grouped.size(),
        "building_ids": grouped["building_id"].agg(lambda b: "; ".join(sorted(b))),
        "lon": head["lon"], "lat": head["lat"], "easting": head["easting"], "northing": head["northing"],
    })
    sites["match_score"] = score.reindex(sites.index)
    sites["match_reason"] = reasons.reindex(sites.index)
    sites["proposed"] = proposed_count.reindex(sites.index).fillna(0).astype(int)
    return sites.rename_axis("site_id").reset_index()


# ---------------------------------------------------------------------------------------------- decisions


def load_decisions(path: str | Path | None) -> pd.DataFrame:
    """Read the match decisions file (missing file: no decisions).

    Returns
    -------
    pandas.DataFrame
        :data:`DECISION_COLUMNS`, in file order (later rows override earlier ones for the same pair).
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    if path is None or not Path(path).exists():
        return empty
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in ("building_id_a", "building_id_b", "decision") if c not in table]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = ~table["decision"].str.strip().str.lower().isin(["confirm", "reject"])
    if bad.any():
        raise ValueError(f"{path}: decision must be 'confirm' or 'reject' (row {int(np.flatnonzero(bad)[0]) + 2})")
    for column in DECISION_COLUMNS:
        if column not in table:
            table[column] = ""
    return table[list(DECISION_COLUMNS)]


def undecided_proposals(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs a person still has to decide: proposed (score from :data:`PROPOSE` up to :data:`CONFIDENT`), not
    decided, and produced by the latest matching run; highest score first.

    Parameters
    ----------
    pairs
        ``Store.site_matches()`` (``status``, ``decision``, ``current``, ``score`` …).
    """
    waiting = (pairs["status"].astype("str") == "proposed") & pairs["decision"].isna() & pairs["current"].astype(bool)
    return pairs[waiting.to_numpy()].sort_values("score", ascending=False, kind="stable", ignore_index=True)
