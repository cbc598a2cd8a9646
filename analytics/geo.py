"""Real geography of Peru used by the demo generator, the pages and the scenario engine.

Facts (not synthetic): ISO 3166-2:PE codes, department capitals and their coordinates,
natural region (costa / sierra / selva, by where most of the department's population lives),
2017 census population, altitude of the capital. Distribution centres sit in real cities.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    capital: str
    lat: float
    lon: float
    natural_region: str  # costa | sierra | selva
    population: int  # 2017 national census (INEI)
    altitude_m: int  # altitude of the capital


REGIONS: tuple[Region, ...] = (
    Region("PE-AMA", "Amazonas", "Chachapoyas", -6.2317, -77.8690, "selva", 379_384, 2335),
    Region("PE-ANC", "Áncash", "Huaraz", -9.5278, -77.5278, "sierra", 1_083_519, 3052),
    Region("PE-APU", "Apurímac", "Abancay", -13.6339, -72.8814, "sierra", 405_759, 2378),
    Region("PE-ARE", "Arequipa", "Arequipa", -16.3989, -71.5350, "sierra", 1_382_730, 2335),
    Region("PE-AYA", "Ayacucho", "Ayacucho", -13.1588, -74.2239, "sierra", 616_176, 2761),
    Region("PE-CAJ", "Cajamarca", "Cajamarca", -7.1638, -78.5003, "sierra", 1_341_012, 2750),
    Region("PE-CAL", "Callao", "Callao", -12.0566, -77.1181, "costa", 994_494, 5),
    Region("PE-CUS", "Cusco", "Cusco", -13.5320, -71.9675, "sierra", 1_205_527, 3399),
    Region("PE-HUV", "Huancavelica", "Huancavelica", -12.7864, -74.9760, "sierra", 347_639, 3676),
    Region("PE-HUC", "Huánuco", "Huánuco", -9.9306, -76.2422, "sierra", 721_047, 1894),
    Region("PE-ICA", "Ica", "Ica", -14.0678, -75.7286, "costa", 850_765, 406),
    Region("PE-JUN", "Junín", "Huancayo", -12.0651, -75.2049, "sierra", 1_246_038, 3259),
    Region("PE-LAL", "La Libertad", "Trujillo", -8.1091, -79.0215, "costa", 1_778_080, 34),
    Region("PE-LAM", "Lambayeque", "Chiclayo", -6.7714, -79.8409, "costa", 1_197_260, 29),
    Region("PE-LIM", "Lima", "Lima", -12.0464, -77.0428, "costa", 9_485_405, 154),
    Region("PE-LOR", "Loreto", "Iquitos", -3.7491, -73.2538, "selva", 883_510, 106),
    Region("PE-MDD", "Madre de Dios", "Puerto Maldonado", -12.5933, -69.1891, "selva", 141_070, 183),
    Region("PE-MOQ", "Moquegua", "Moquegua", -17.1956, -70.9353, "costa", 174_863, 1410),
    Region("PE-PAS", "Pasco", "Cerro de Pasco", -10.6675, -76.2567, "sierra", 254_065, 4338),
    Region("PE-PIU", "Piura", "Piura", -5.1945, -80.6328, "costa", 1_856_809, 29),
    Region("PE-PUN", "Puno", "Puno", -15.8402, -70.0219, "sierra", 1_172_697, 3827),
    Region("PE-SAM", "San Martín", "Moyobamba", -6.0342, -76.9717, "selva", 813_381, 860),
    Region("PE-TAC", "Tacna", "Tacna", -18.0066, -70.2463, "costa", 329_332, 562),
    Region("PE-TUM", "Tumbes", "Tumbes", -3.5669, -80.4515, "costa", 224_863, 7),
    Region("PE-UCA", "Ucayali", "Pucallpa", -8.3791, -74.5539, "selva", 496_459, 154),
)

REGION_BY_CODE: dict[str, Region] = {r.code: r for r in REGIONS}
REGION_CODES: tuple[str, ...] = tuple(r.code for r in REGIONS)

# The regions' outlines (GeoJSON, one feature per region, ``id`` = ISO code), shipped in the product under
# MPL-2.0 (see geodata/README.md); rebuilt from the source with ``python -m analytics.geodata.build``.
OUTLINES_PATH = Path(__file__).resolve().parent / "geodata" / "peru_regions.geojson"


def _plain(text: str) -> str:
    """Upper case without accents, as INEI spells department names (``Áncash`` → ``ANCASH``)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn").upper()


_CODE_BY_PLAIN_NAME = {_plain(r.name): r.code for r in REGIONS}


def outline_code(department: str) -> str:
    """The ISO 3166-2:PE code of a department named as INEI names it (``MADRE DE DIOS`` → ``PE-MDD``)."""
    try:
        return _CODE_BY_PLAIN_NAME[_plain(department.strip())]
    except KeyError:
        raise ValueError(f"not a region of Peru: {department!r}") from None


@cache
def region_outlines() -> dict[str, Any]:
    """Peru's 25 regions as a GeoJSON FeatureCollection keyed by ISO code (read once; do not modify it)."""
    data = json.loads(OUTLINES_PATH.read_text(encoding="utf-8"))
    ids = [f.get("id") for f in data.get("features", [])]
    if sorted(ids) != sorted(REGION_CODES):
        raise ValueError(f"{OUTLINES_PATH.name} does not hold each region of Peru once")
    return data

# Second cities that customers live in, by region (real cities, real coordinates).
SECOND_CITIES: dict[str, tuple[str, float, float]] = {
    "PE-LIM": ("Huacho", -11.1067, -77.6050),
    "PE-ARE": ("Camaná", -16.6228, -72.7111),
    "PE-LAL": ("Pacasmayo", -7.4006, -79.5714),
    "PE-PIU": ("Sullana", -4.9039, -80.6853),
    "PE-CUS": ("Quillabamba", -12.8633, -72.6919),
    "PE-JUN": ("Tarma", -11.4197, -75.6900),
    "PE-PUN": ("Juliaca", -15.5000, -70.1333),
    "PE-ICA": ("Chincha Alta", -13.4099, -76.1323),
    "PE-ANC": ("Chimbote", -9.0745, -78.5936),
    "PE-CAJ": ("Jaén", -5.7089, -78.8083),
    "PE-SAM": ("Tarapoto", -6.4825, -76.3731),
    "PE-LAM": ("Ferreñafe", -6.6389, -79.7889),
}


@dataclass(frozen=True)
class DistributionCentre:
    dc_id: str
    city: str
    region: str
    lat: float
    lon: float
    road_link: bool  # Iquitos has no road connection: river or air only


DCS: tuple[DistributionCentre, ...] = (
    DistributionCentre("DC-LIM", "Lima / Callao", "PE-CAL", -12.0219, -77.1143, True),
    DistributionCentre("DC-AQP", "Arequipa", "PE-ARE", -16.3989, -71.5350, True),
    DistributionCentre("DC-TRU", "Trujillo", "PE-LAL", -8.1091, -79.0215, True),
    DistributionCentre("DC-CIX", "Chiclayo", "PE-LAM", -6.7714, -79.8409, True),
    DistributionCentre("DC-PIU", "Piura", "PE-PIU", -5.1945, -80.6328, True),
    DistributionCentre("DC-CUZ", "Cusco", "PE-CUS", -13.5320, -71.9675, True),
    DistributionCentre("DC-HYO", "Huancayo", "PE-JUN", -12.0651, -75.2049, True),
    DistributionCentre("DC-PCL", "Pucallpa", "PE-UCA", -8.3791, -74.5539, True),
    DistributionCentre("DC-IQT", "Iquitos", "PE-LOR", -3.7491, -73.2538, False),
)
DC_BY_ID: dict[str, DistributionCentre] = {d.dc_id: d for d in DCS}

# Which DC normally serves each region (the nearest one by road; Loreto by its own DC).
PRIMARY_DC: dict[str, str] = {
    "PE-LIM": "DC-LIM", "PE-CAL": "DC-LIM", "PE-ICA": "DC-LIM",
    "PE-ARE": "DC-AQP", "PE-MOQ": "DC-AQP", "PE-TAC": "DC-AQP", "PE-PUN": "DC-AQP",
    "PE-LAL": "DC-TRU", "PE-ANC": "DC-TRU",
    "PE-LAM": "DC-CIX", "PE-CAJ": "DC-CIX", "PE-AMA": "DC-CIX", "PE-SAM": "DC-CIX",
    "PE-PIU": "DC-PIU", "PE-TUM": "DC-PIU",
    "PE-CUS": "DC-CUZ", "PE-APU": "DC-CUZ", "PE-MDD": "DC-CUZ",
    "PE-JUN": "DC-HYO", "PE-HUV": "DC-HYO", "PE-PAS": "DC-HYO", "PE-HUC": "DC-HYO",
    "PE-AYA": "DC-HYO",
    "PE-UCA": "DC-PCL",
    "PE-LOR": "DC-IQT",
}

# Road circuity (road km per straight-line km) by the destination's natural region.
ROAD_CIRCUITY = {"costa": 1.25, "sierra": 1.65, "selva": 1.55}
RIVER_CIRCUITY = 1.9  # Ucayali / Amazon meanders between Pucallpa and Iquitos

SHIPPING_MODES: tuple[str, ...] = ("standard", "express", "air", "river")

# Main national roads and the regions they serve, for scenarios (real corridors).
CORRIDORS: dict[str, tuple[str, ...]] = {
    "panamericana_norte": ("PE-LAL", "PE-LAM", "PE-PIU", "PE-TUM", "PE-ANC"),
    "panamericana_sur": ("PE-ICA", "PE-ARE", "PE-MOQ", "PE-TAC"),
    "carretera_central": ("PE-JUN", "PE-PAS", "PE-HUC", "PE-HUV", "PE-UCA"),
    "interoceanica_sur": ("PE-CUS", "PE-MDD", "PE-PUN", "PE-APU"),
}

# Where those roads run: towns along each corridor from Lima (or the coast) inland, real coordinates
# (drawn on the Logistics map). Carretera Central forks at La Oroya: to Huancayo, and north to Pucallpa.
CORRIDOR_ROUTES: dict[str, tuple[tuple[tuple[str, float, float], ...], ...]] = {
    "panamericana_norte": ((
        ("Lima", -12.0464, -77.0428), ("Huacho", -11.1067, -77.6050), ("Barranca", -10.7539, -77.7611),
        ("Chimbote", -9.0745, -78.5936), ("Trujillo", -8.1091, -79.0215), ("Pacasmayo", -7.4006, -79.5714),
        ("Chiclayo", -6.7714, -79.8409), ("Piura", -5.1945, -80.6328), ("Sullana", -4.9039, -80.6853),
        ("Máncora", -4.1078, -81.0475), ("Tumbes", -3.5669, -80.4515)),),
    "panamericana_sur": ((
        ("Lima", -12.0464, -77.0428), ("Cañete", -13.0775, -76.3872), ("Chincha Alta", -13.4099, -76.1323),
        ("Ica", -14.0678, -75.7286), ("Nazca", -14.8309, -74.9389), ("Chala", -15.8664, -74.2456),
        ("Camaná", -16.6228, -72.7111), ("Arequipa", -16.3989, -71.5350), ("Moquegua", -17.1956, -70.9353),
        ("Tacna", -18.0066, -70.2463)),),
    "carretera_central": (
        (("Lima", -12.0464, -77.0428), ("Chosica", -11.9431, -76.7078), ("La Oroya", -11.5189, -75.8997),
         ("Jauja", -11.7758, -75.4997), ("Huancayo", -12.0651, -75.2049), ("Huancavelica", -12.7864, -74.9760)),
        (("La Oroya", -11.5189, -75.8997), ("Cerro de Pasco", -10.6675, -76.2567), ("Huánuco", -9.9306, -76.2422),
         ("Tingo María", -9.2950, -75.9975), ("Aguaytía", -9.0367, -75.5086), ("Pucallpa", -8.3791, -74.5539)),
    ),
    "interoceanica_sur": (
        (("Nazca", -14.8309, -74.9389), ("Puquio", -14.6978, -74.1242), ("Abancay", -13.6339, -72.8814),
         ("Cusco", -13.5320, -71.9675), ("Urcos", -13.6861, -71.6228), ("Quincemil", -13.2333, -70.7500),
         ("Puerto Maldonado", -12.5933, -69.1891), ("Iñapari", -10.9481, -69.5908)),
        (("Arequipa", -16.3989, -71.5350), ("Juliaca", -15.5000, -70.1333), ("Azángaro", -14.9083, -70.1964),
         ("San Gabán", -13.4397, -70.3994), ("Puerto Maldonado", -12.5933, -69.1891)),
    ),
}

# Real disruption episodes (public record). Intensities are NOT here: only what happened where.
DISRUPTIONS: tuple[dict, ...] = (
    {
        "episode": "blockade-south-2022",
        "kind": "road_blockade",
        "start": "2022-12-10",
        "end": "2023-02-28",
        "regions": ("PE-PUN", "PE-CUS", "PE-APU", "PE-ARE", "PE-ICA"),
        "description": "Road blockades in southern Peru after the December 2022 political crisis",
    },
    {
        "episode": "yaku-2023",
        "kind": "flood",
        "start": "2023-03-06",
        "end": "2023-03-31",
        "regions": ("PE-TUM", "PE-PIU", "PE-LAM", "PE-LAL"),
        "description": "Cyclone Yaku: floods and cut roads on the north coast, March 2023",
    },
    {
        "episode": "callao-congestion-2022",
        "kind": "port_congestion",
        "start": "2022-01-10",
        "end": "2022-02-20",
        "regions": ("PE-CAL", "PE-LIM"),
        "description": "Callao port congestion spell (global container crunch)",
    },
    {
        "episode": "callao-congestion-2024",
        "kind": "port_congestion",
        "start": "2024-05-15",
        "end": "2024-06-20",
        "regions": ("PE-CAL", "PE-LIM"),
        "description": "Callao port congestion spell",
    },
)

# Cyber Wow editions (Peru's online sales event; public record, first and last day): the one copy the demo
# generator, the delivery-days features, the scenario engine and the demand calendar read.
CYBER_WOW: tuple[tuple[str, str], ...] = (
    ("2022-04-04", "2022-04-07"), ("2022-07-18", "2022-07-21"), ("2022-11-07", "2022-11-10"),
    ("2023-04-17", "2023-04-20"), ("2023-07-10", "2023-07-13"), ("2023-11-06", "2023-11-09"),
    ("2024-04-15", "2024-04-18"), ("2024-07-15", "2024-07-18"), ("2024-11-04", "2024-11-07"),
)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


# The Panama Canal's Pacific entrance (Balboa): ships from Peru to the Atlantic side leave towards it.
PANAMA_CANAL = (8.95, -79.57)
# Bearings (degrees from north) of the open sea off Peru's coast, which runs north-west to south-east.
OPEN_SEA_BEARINGS = (200.0, 310.0)


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from the first point to the second, 0–360 degrees from north."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360


def sea_heading(lat: float, lon: float, to_lat: float, to_lon: float) -> float:
    """The heading of a ship leaving a Peruvian port at (lat, lon) for a place abroad: towards the Panama Canal
    when the place lies on the Atlantic side (Europe, Africa, the Americas' east coast), along the great circle
    across the Pacific otherwise; kept within the open sea off the coast (:data:`OPEN_SEA_BEARINGS`)."""
    atlantic = -100.0 < to_lon < 60.0 and to_lat > PANAMA_CANAL[0]
    target = PANAMA_CANAL if atlantic else (to_lat, to_lon)
    b = bearing_deg(lat, lon, *target)
    lo, hi = OPEN_SEA_BEARINGS
    if lo <= b <= hi:
        return b
    return hi if (b - hi) % 360 < (lo - b) % 360 else lo


def is_peru_region(code: str) -> bool:
    return code in REGION_BY_CODE
