"""Real Peruvian agro-export chains: crops, farming areas, packhouses, plants, ports and buyers.

Identifiers use a GS1 Peru company prefix (775...) for Chasqui's demo exporters; buyers abroad use
their own countries' prefixes. SENASA production-site codes follow the ``<region>-<crop>-<number>``
shape SENASA uses for registered export sites (lugares de producción).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

COMPANY_PREFIX = "7750321"  # demo exporter under GS1 Perú (775)


@dataclass(frozen=True)
class Site:
    key: str
    name: str
    kind: str  # farm | packhouse | cold_store | plant | port | buyer
    region: str  # ISO 3166-2:PE, or a country code for buyers abroad
    lat: float
    lon: float
    loc_ref: str  # 5-digit location reference under COMPANY_PREFIX (GLN = prefix + ref + check)


@dataclass(frozen=True)
class Crop:
    key: str
    name_es: str
    name_en: str
    item_ref: str  # 5-digit item reference (GTIN-14 = 0 + prefix + item_ref + check)
    perishable: bool
    temp_min_c: float | None  # cold-chain band; readings outside it are excursions
    temp_max_c: float | None
    farms: tuple[str, ...]
    packhouse: dict[str, str]  # farm region -> packhouse / plant site key
    port: dict[str, str]  # farm region -> port key
    lot_kg: tuple[int, int]
    pallet_kg: int
    transform: str | None = None  # e.g. "roasting": lots are merged into a processed lot
    transform_plant: str | None = None
    transform_yield: float = 1.0
    output_item_ref: str | None = None
    output_name_es: str | None = None
    output_name_en: str | None = None


SITES: dict[str, Site] = {s.key: s for s in (
    # farms (fundos) and cooperatives
    Site("F-VIRU", "Fundo Chavimochic, Virú", "farm", "PE-LAL", -8.41, -78.75, "10001"),
    Site("F-CHAO", "Fundo Chao", "farm", "PE-LAL", -8.54, -78.68, "10002"),
    Site("F-OLMOS", "Fundo Olmos", "farm", "PE-LAM", -5.98, -79.75, "10003"),
    Site("F-MOTUPE", "Fundo Motupe", "farm", "PE-LAM", -6.15, -79.71, "10004"),
    Site("F-ICA", "Fundo Santa Rita, Ica", "farm", "PE-ICA", -14.05, -75.73, "10005"),
    Site("F-VILLACURI", "Fundo Villacurí", "farm", "PE-ICA", -13.95, -75.85, "10006"),
    Site("F-TAMBOGRANDE", "Fundo Tambogrande", "farm", "PE-PIU", -4.93, -80.34, "10007"),
    Site("F-CHULUCANAS", "Fundo Chulucanas", "farm", "PE-PIU", -5.09, -80.16, "10008"),
    Site("F-CHANCHAMAYO", "Cooperativa Chanchamayo", "farm", "PE-JUN", -11.06, -75.33, "10009"),
    Site("F-JAEN", "Cooperativa Jaén", "farm", "PE-CAJ", -5.71, -78.81, "10010"),
    Site("F-MOYOBAMBA", "Cooperativa Moyobamba", "farm", "PE-SAM", -6.03, -76.97, "10011"),
    Site("F-TOCACHE", "Cooperativa Tocache", "farm", "PE-SAM", -8.19, -76.51, "10012"),
    Site("F-QUILLABAMBA", "Cooperativa La Convención, Quillabamba", "farm", "PE-CUS", -12.86, -72.69, "10013"),
    Site("F-ILAVE", "Cooperativa Ilave", "farm", "PE-PUN", -16.09, -69.64, "10014"),
    Site("F-JULIACA", "Cooperativa Juliaca", "farm", "PE-PUN", -15.50, -70.13, "10015"),
    # packhouses, cold stores and plants
    Site("P-TRUJILLO", "Planta empacadora Trujillo", "packhouse", "PE-LAL", -8.11, -79.03, "20001"),
    Site("P-CHICLAYO", "Planta empacadora Chiclayo", "packhouse", "PE-LAM", -6.77, -79.84, "20002"),
    Site("P-ICA", "Planta empacadora Ica", "packhouse", "PE-ICA", -14.07, -75.73, "20003"),
    Site("P-PIURA", "Planta empacadora Piura", "packhouse", "PE-PIU", -5.19, -80.63, "20004"),
    Site("P-LACOOP", "Centro de acopio La Merced", "packhouse", "PE-JUN", -11.05, -75.32, "20005"),
    Site("P-JAEN", "Centro de acopio Jaén", "packhouse", "PE-CAJ", -5.70, -78.80, "20006"),
    Site("P-TARAPOTO", "Centro de acopio Tarapoto", "packhouse", "PE-SAM", -6.49, -76.36, "20007"),
    Site("P-CUSCO", "Centro de acopio Cusco", "packhouse", "PE-CUS", -13.53, -71.97, "20008"),
    Site("P-JULIACA", "Planta de beneficio de quinua Juliaca", "plant", "PE-PUN", -15.49, -70.14, "20009"),
    Site("T-LIMA-ROAST", "Tostaduría Lima (Ate)", "plant", "PE-LIM", -12.03, -76.92, "30001"),
    Site("T-LIMA-CHOC", "Planta de chocolate Lima (Lurín)", "plant", "PE-LIM", -12.27, -76.87, "30002"),
    Site("C-CALLAO", "Frigorífico portuario Callao", "cold_store", "PE-CAL", -12.05, -77.12, "40001"),
    Site("C-PAITA", "Frigorífico portuario Paita", "cold_store", "PE-PIU", -5.08, -81.10, "40002"),
    Site("PORT-CALLAO", "Terminal portuario del Callao", "port", "PE-CAL", -12.05, -77.15, "50001"),
    Site("PORT-PAITA", "Terminal portuario de Paita", "port", "PE-PIU", -5.09, -81.11, "50002"),
)}

# Buyers abroad: (name, country, GLN with the buyer's own national prefix, lat, lon)
BUYERS: tuple[tuple[str, str, str, float, float], ...] = (
    ("Fresh Import Rotterdam B.V.", "NL", "8712345000018", 51.92, 4.48),
    ("Philly Produce Co.", "US", "0614141000418", 39.95, -75.17),
    ("Pacific Fruits LA", "US", "0614141000425", 33.74, -118.27),
    ("Shanghai Fresh Trading", "CN", "6901234000014", 31.23, 121.47),
    ("Hamburg Kaffee Import GmbH", "DE", "4012345000092", 53.55, 9.99),
    ("Chocolatier de Bruxelles", "BE", "5412345000013", 50.85, 4.35),
    ("Tokyo Superfoods K.K.", "JP", "4912345000019", 35.68, 139.76),
)

# Arrival ports abroad: UN/LOCODE -> (terminal name, country, GLN under that country's prefix, lat, lon).
# The demo reefer voyages end there (``arriving``) before the pallets are received at the buyer.
DEST_PORTS: dict[str, tuple[str, str, str, float, float]] = {
    "NLRTM": ("Port of Rotterdam, Maasvlakte reefer terminal", "NL", "8712345900014", 51.95, 4.05),
    "USPHL": ("Port of Philadelphia, Packer Avenue terminal", "US", "0614141900015", 39.91, -75.14),
    "USLAX": ("Port of Los Angeles, reefer terminal", "US", "0614141900022", 33.74, -118.26),
    "CNSHA": ("Port of Shanghai, Yangshan terminal", "CN", "6901234900019", 30.63, 122.07),
    "DEHAM": ("Port of Hamburg, Burchardkai", "DE", "4012345900019", 53.53, 9.92),
    "BEANR": ("Port of Antwerp-Bruges, reefer terminal", "BE", "5412345900016", 51.28, 4.32),
    "JPTYO": ("Port of Tokyo, Oi terminal", "JP", "4912345900012", 35.59, 139.76),
}
# buyer GLN -> UN/LOCODE of the port it receives at
BUYER_PORT: dict[str, str] = {"8712345000018": "NLRTM", "0614141000418": "USPHL", "0614141000425": "USLAX",
                              "6901234000014": "CNSHA", "4012345000092": "DEHAM", "5412345000013": "BEANR",
                              "4912345000019": "JPTYO"}

CROPS: dict[str, Crop] = {c.key: c for c in (
    Crop("blueberry", "Arándano", "Blueberries", "01001", True, 0.0, 2.0,
         ("F-VIRU", "F-OLMOS", "F-ICA"),
         {"PE-LAL": "P-TRUJILLO", "PE-LAM": "P-CHICLAYO", "PE-ICA": "P-ICA"},
         {"PE-LAL": "C-CALLAO", "PE-LAM": "C-PAITA", "PE-ICA": "C-CALLAO"}, (4000, 12000), 1200),
    Crop("avocado", "Palta Hass", "Hass avocados", "01002", True, 5.0, 8.0,
         ("F-CHAO", "F-MOTUPE", "F-ICA"),
         {"PE-LAL": "P-TRUJILLO", "PE-LAM": "P-CHICLAYO", "PE-ICA": "P-ICA"},
         {"PE-LAL": "C-CALLAO", "PE-LAM": "C-PAITA", "PE-ICA": "C-CALLAO"}, (8000, 20000), 1000),
    Crop("grape", "Uva de mesa", "Table grapes", "01003", True, -1.0, 1.0,
         ("F-ICA", "F-TAMBOGRANDE"),
         {"PE-ICA": "P-ICA", "PE-PIU": "P-PIURA"},
         {"PE-ICA": "C-CALLAO", "PE-PIU": "C-PAITA"}, (6000, 18000), 900),
    Crop("asparagus", "Espárrago verde", "Green asparagus", "01004", True, 1.0, 3.0,
         ("F-VILLACURI", "F-VIRU"),
         {"PE-ICA": "P-ICA", "PE-LAL": "P-TRUJILLO"},
         {"PE-ICA": "C-CALLAO", "PE-LAL": "C-CALLAO"}, (3000, 9000), 800),
    Crop("mango", "Mango Kent", "Kent mangoes", "01005", True, 9.0, 13.0,
         ("F-TAMBOGRANDE", "F-CHULUCANAS"),
         {"PE-PIU": "P-PIURA"}, {"PE-PIU": "C-PAITA"}, (8000, 20000), 1100),
    Crop("coffee", "Café pergamino", "Parchment coffee", "02001", False, None, None,
         ("F-CHANCHAMAYO", "F-JAEN", "F-MOYOBAMBA"),
         {"PE-JUN": "P-LACOOP", "PE-CAJ": "P-JAEN", "PE-SAM": "P-TARAPOTO"},
         {"PE-JUN": "PORT-CALLAO", "PE-CAJ": "PORT-PAITA", "PE-SAM": "PORT-PAITA"}, (2000, 6000), 690,
         transform="roasting", transform_plant="T-LIMA-ROAST", transform_yield=0.82,
         output_item_ref="02002", output_name_es="Café tostado", output_name_en="Roasted coffee"),
    Crop("cacao", "Cacao en grano", "Cacao beans", "03001", False, None, None,
         ("F-TOCACHE", "F-QUILLABAMBA"),
         {"PE-SAM": "P-TARAPOTO", "PE-CUS": "P-CUSCO"},
         {"PE-SAM": "PORT-CALLAO", "PE-CUS": "PORT-CALLAO"}, (2000, 5000), 640,
         transform="chocolate", transform_plant="T-LIMA-CHOC", transform_yield=0.9,
         output_item_ref="03002", output_name_es="Chocolate 70 % cacao", output_name_en="70 % dark chocolate"),
    Crop("quinoa", "Quinua", "Quinoa", "04001", False, None, None,
         ("F-ILAVE", "F-JULIACA"),
         {"PE-PUN": "P-JULIACA"}, {"PE-PUN": "PORT-CALLAO"}, (3000, 8000), 1000,
         transform="washing", transform_plant="P-JULIACA", transform_yield=0.93,
         output_item_ref="04002", output_name_es="Quinua lavada", output_name_en="Washed quinoa"),
)}

CROP_CODE = {"blueberry": "AR", "avocado": "PA", "grape": "UV", "asparagus": "ES", "mango": "MG",
             "coffee": "CF", "cacao": "CC", "quinoa": "QN"}
REGION_SHORT = {"PE-LAL": "LAL", "PE-LAM": "LAM", "PE-ICA": "ICA", "PE-PIU": "PIU", "PE-JUN": "JUN",
                "PE-CAJ": "CAJ", "PE-SAM": "SAM", "PE-CUS": "CUS", "PE-PUN": "PUN", "PE-LIM": "LIM"}


@functools.cache
def site_by_gln() -> Mapping[str, Site]:
    """The demo sites by GLN (computed once: every place on a lot's page looks one up)."""
    from ledger_client.gs1 import gln

    return MappingProxyType({gln(COMPANY_PREFIX, s.loc_ref): s for s in SITES.values()})
