"""Facts behind the sourcing generator and score: ingredients a Lima tasting menu uses, their real
Peruvian origins, the certification and practice vocabularies, and the transport emission factors.

What is real here: the ingredients, the regions and localities they come from (with approximate
coordinates of the locality), and which Peruvian protected designations of origin (denominaciones de
origen, INDECOPI) exist for them. Suppliers, prices and audits are synthetic (see demo_suppliers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

LIMA_LAT, LIMA_LON = -12.0464, -77.0428  # Lima (Plaza Mayor); deliveries go to a Miraflores kitchen


@dataclass(frozen=True)
class Origin:
    region: str  # ISO 3166-2:PE
    locality: str
    lat: float
    lon: float
    variety: str
    weight: float = 1.0  # share of the ingredient's suppliers that come from here
    dop: bool = False  # a real denominación de origen covers this origin


@dataclass(frozen=True)
class Ingredient:
    ingredient_id: str
    name_es: str
    name_en: str
    category: str  # grain, tuber, chili, fruit, cacao, coffee, fish, seafood, root, salt, legume, algae, seed
    price_pen_kg: float  # median farm-gate-to-Lima price for chef-grade product (S/ per kg, synthetic)
    perishable: bool  # needs the cold chain (reefer truck or air)
    origins: tuple[Origin, ...]
    certifications: tuple[str, ...]  # certifications a supplier of this ingredient can plausibly hold
    practices: tuple[str, ...]  # practices a supplier of this ingredient can plausibly follow


# Certification vocabulary and points (certifications component, capped at CERT_CAP).
CERTIFICATIONS: dict[str, float] = {
    "organic": 10.0,  # organic (SENASA-registered certifier; EU / USDA NOP equivalents)
    "fairtrade": 8.0,  # Fairtrade International (FLO-CERT)
    "rainforest_alliance": 8.0,
    "msc": 10.0,  # Marine Stewardship Council (wild-caught seafood)
    "asc": 9.0,  # Aquaculture Stewardship Council (farmed fish and shellfish)
    "dop": 5.0,  # protected designation of origin (denominación de origen, INDECOPI)
    "senasa": 3.0,  # SENASA registration (producer / processing plant); the legal baseline
}
CERT_CAP = 25.0

# Practice vocabulary and points (practices component: best practice + 2 per extra practice, cap 12).
PRACTICES: dict[str, float] = {
    "agroforestry": 12.0,
    "traditional_andean": 11.0,  # chacra, terraces (andenes), waru waru, crop rotation with fallow
    "wild_harvest_managed": 10.0,  # wild harvest under a management plan (e.g. Pacaya-Samiria paiche)
    "smallholder_coop": 9.0,
    "solar_evaporation": 10.0,  # Maras salt pans: gravity-fed spring water and sun
    "bottom_culture": 8.0,  # scallop bottom culture in bays (Paracas, Sechura)
    "aquaculture": 6.0,  # ponds / cages
    "wild_harvest": 5.0,  # wild harvest without a management plan
    "conventional": 2.0,
}
PRACTICE_CAP = 12.0

# Transport emission factors, kg CO2e per tonne-km, well-to-wheel, in the style of the GLEC Framework
# (v3) / ISO 14083 default intensities. Approximations for Peruvian conditions, not certified values:
#   road: articulated diesel truck, average load and empty running (GLEC default order ~0.08-0.10)
#   road_reefer: the same truck with a diesel-powered reefer unit (+ about 20 %)
#   air: short-haul (< 1,500 km) domestic air cargo, belly/freighter mix, no radiative-forcing uplift
#   river: Amazon inland-waterway cargo boat (lancha / barge)
EMISSION_FACTORS_KG_PER_TKM: dict[str, float] = {
    "road": 0.090,
    "road_reefer": 0.110,
    "air": 1.130,
    "river": 0.040,
}
# A supplier's transport mode to Lima and the legs it is made of.
MODES: tuple[str, ...] = ("road", "road_reefer", "air", "river_road")

SOCIAL_COMPONENT_MAX = 20.0
TRANSPORT_COMPONENT_MAX = 20.0
CO2E_REFERENCE_KG_PER_KG = 1.2  # at or above this transport footprint the transport component is 0
RELIABILITY_COMPONENT_MAX = 15.0
PRACTICES_COMPONENT_MAX = 20.0
AUDIT_SECTIONS: tuple[str, ...] = ("audit_environment", "audit_labour", "audit_traceability")

_DRY = ("organic", "fairtrade", "rainforest_alliance", "senasa")


def _o(region: str, locality: str, lat: float, lon: float, variety: str, weight: float = 1.0,
       dop: bool = False) -> Origin:
    return Origin(region, locality, lat, lon, variety, weight, dop)


INGREDIENTS: tuple[Ingredient, ...] = (
    Ingredient("cacao", "Cacao fino de aroma", "Fine-flavour cacao", "cacao", 38.0, False, (
        _o("PE-CUS", "Quillabamba (La Convención)", -12.8633, -72.6919, "chuncho", 3.0),
        _o("PE-CUS", "Echarati (La Convención)", -12.7700, -72.5800, "chuncho", 2.0),
        _o("PE-AMA", "Bagua / Imaza", -5.6400, -78.5300, "nativo fino de aroma", 2.0, dop=True),
        _o("PE-PIU", "Buenos Aires (Morropón)", -5.1800, -79.9700, "blanco de Piura", 1.5),
        _o("PE-SAM", "Tocache", -8.1900, -76.5100, "CCN-51 / trinitario", 1.5),
    ), _DRY + ("dop",), ("agroforestry", "smallholder_coop", "conventional")),
    Ingredient("quinoa", "Quinua real", "Royal quinoa", "grain", 14.0, False, (
        _o("PE-PUN", "Juli (Chucuito)", -16.2100, -69.4600, "blanca de Juli", 3.0),
        _o("PE-PUN", "Cabana (San Román)", -15.6500, -70.3200, "real / negra collana", 2.0),
        _o("PE-PUN", "Ilave (El Collao)", -16.0900, -69.6400, "pasankalla", 1.5),
        _o("PE-AYA", "Vilcas Huamán", -13.6500, -73.9500, "blanca", 1.0),
        _o("PE-JUN", "Jauja", -11.7750, -75.5000, "Hualhuas", 1.0),
    ), _DRY, ("traditional_andean", "smallholder_coop", "conventional")),
    Ingredient("papa_nativa", "Papas nativas", "Native potatoes", "tuber", 6.5, False, (
        _o("PE-HUV", "Pazos (Tayacaja)", -12.2500, -74.9000, "huayro / peruanita", 3.0),
        _o("PE-HUV", "Acobamba", -12.8400, -74.5700, "amarilla tumbay", 2.0),
        _o("PE-CUS", "Parque de la Papa (Pisac)", -13.4200, -71.8500, "nativas mixtas", 1.5),
        _o("PE-PUN", "Puno", -15.8402, -70.0219, "imilla / chuño", 1.0),
        _o("PE-JUN", "Comas (Concepción)", -11.7200, -75.1300, "nativas mixtas", 1.0),
    ), ("organic", "senasa"), ("traditional_andean", "smallholder_coop", "conventional")),
    Ingredient("aji_amarillo", "Ají amarillo", "Ají amarillo pepper", "chili", 7.0, True, (
        _o("PE-LIM", "Huaral", -11.4950, -77.2070, "amarillo", 2.0),
        _o("PE-LIM", "Barranca", -10.7500, -77.7600, "amarillo", 1.5),
        _o("PE-LAL", "Virú", -8.4100, -78.7500, "amarillo", 2.0),
        _o("PE-ARE", "Majes", -16.3600, -72.1900, "amarillo", 1.0),
        _o("PE-TAC", "Tacna", -18.0066, -70.2463, "amarillo", 0.8),
    ), ("organic", "rainforest_alliance", "senasa"), ("smallholder_coop", "conventional")),
    Ingredient("maca", "Maca", "Maca", "root", 32.0, False, (
        _o("PE-JUN", "Junín (meseta de Bombón)", -11.1600, -75.9900, "amarilla / roja / negra", 3.0, dop=True),
        _o("PE-JUN", "Carhuamayo", -10.9200, -76.0300, "amarilla / negra", 2.0, dop=True),
        _o("PE-PAS", "Ninacaca", -10.8600, -76.1100, "roja", 2.0, dop=True),
    ), _DRY + ("dop",), ("traditional_andean", "smallholder_coop", "conventional")),
    Ingredient("camu_camu", "Camu camu (pulpa)", "Camu camu (pulp)", "fruit", 16.0, True, (
        _o("PE-LOR", "Tamshiyacu", -4.0000, -73.1600, "silvestre de cocha", 2.0),
        _o("PE-LOR", "Requena", -5.0600, -73.8500, "cultivado en restinga", 1.5),
        _o("PE-UCA", "Yarinacocha", -8.3500, -74.5800, "cultivado", 1.5),
    ), ("organic", "senasa"), ("wild_harvest_managed", "wild_harvest", "agroforestry", "smallholder_coop")),
    Ingredient("paiche", "Paiche", "Paiche (arapaima)", "fish", 42.0, True, (
        _o("PE-LOR", "Nauta (Pacaya-Samiria)", -4.5100, -73.5800, "manejo comunal", 1.5),
        _o("PE-LOR", "Iquitos", -3.7491, -73.2538, "acuicultura", 2.0),
        _o("PE-UCA", "Pucallpa", -8.3791, -74.5539, "acuicultura", 2.5),
        _o("PE-SAM", "Tarapoto", -6.4825, -76.3731, "acuicultura", 1.0),
        _o("PE-MDD", "Puerto Maldonado", -12.5933, -69.1891, "acuicultura", 0.8),
    ), ("asc", "organic", "senasa"), ("aquaculture", "wild_harvest_managed")),
    Ingredient("concha_abanico", "Conchas de abanico", "Peruvian scallops", "seafood", 55.0, True, (
        _o("PE-ICA", "Paracas (bahía)", -13.8300, -76.2500, "Argopecten purpuratus", 3.0),
        _o("PE-PIU", "Sechura (bahía)", -5.5600, -80.8200, "Argopecten purpuratus", 2.0),
        _o("PE-ANC", "Samanco", -9.2600, -78.5000, "Argopecten purpuratus", 1.0),
    ), ("asc", "msc", "senasa"), ("bottom_culture", "aquaculture", "wild_harvest")),
    Ingredient("cafe", "Café de especialidad", "Specialty coffee", "coffee", 48.0, False, (
        _o("PE-PAS", "Villa Rica (Oxapampa)", -10.7400, -75.2700, "Villa Rica", 3.0, dop=True),
        _o("PE-JUN", "Chanchamayo (La Merced)", -11.0600, -75.3300, "Chanchamayo", 2.5),
        _o("PE-CAJ", "Jaén", -5.7089, -78.8083, "Jaén / San Ignacio", 2.0),
        _o("PE-CUS", "Huadquiña (Santa Teresa)", -13.1300, -72.5900, "Machu Picchu-Huadquiña", 1.0, dop=True),
        _o("PE-PUN", "Sandia", -14.3200, -69.4700, "Tunki / Sandia", 1.0),
        _o("PE-AMA", "Rodríguez de Mendoza", -6.3900, -77.4800, "Amazonas", 1.0),
    ), _DRY, ("agroforestry", "smallholder_coop", "conventional")),
    Ingredient("lucuma", "Lúcuma (pulpa)", "Lúcuma (pulp)", "fruit", 12.0, True, (
        _o("PE-AYA", "Huanta", -12.9400, -74.2500, "seda", 2.0),
        _o("PE-LIM", "Huaura", -11.0700, -77.6000, "seda / palo", 1.5),
        _o("PE-APU", "Abancay", -13.6339, -72.8814, "seda", 1.0),
        _o("PE-CAJ", "Cajamarca", -7.1638, -78.5003, "palo", 0.7),
    ), ("organic", "senasa"), ("smallholder_coop", "agroforestry", "conventional")),
    Ingredient("sal_maras", "Sal de Maras", "Maras salt", "salt", 18.0, False, (
        _o("PE-CUS", "Salineras de Maras", -13.3000, -72.1600, "sal rosada / flor de sal", 1.0),
    ), ("organic", "senasa"), ("solar_evaporation", "smallholder_coop")),
    Ingredient("kiwicha", "Kiwicha", "Amaranth (kiwicha)", "grain", 11.0, False, (
        _o("PE-CUS", "Urubamba", -13.3040, -72.1160, "Oscar Blanco", 1.5),
        _o("PE-APU", "Andahuaylas", -13.6560, -73.3870, "Centenario", 1.5),
        _o("PE-ANC", "Caraz", -9.0490, -77.8100, "criolla", 1.0),
        _o("PE-ARE", "Arequipa", -16.3989, -71.5350, "criolla", 0.7),
    ), _DRY, ("traditional_andean", "smallholder_coop", "conventional")),
    Ingredient("tarwi", "Tarwi (chocho)", "Andean lupin (tarwi)", "legume", 12.5, False, (
        _o("PE-CUS", "Chinchero", -13.3920, -72.0480, "tarwi", 1.0),
        _o("PE-PUN", "Puno", -15.8402, -70.0219, "tarwi", 1.0),
        _o("PE-LAL", "Otuzco", -7.9000, -78.5700, "chocho", 1.2),
        _o("PE-ANC", "Huaraz", -9.5278, -77.5278, "chocho", 1.0),
    ), ("organic", "senasa"), ("traditional_andean", "smallholder_coop")),
    Ingredient("maiz_gigante", "Maíz blanco gigante del Cusco", "Cusco giant white corn", "grain", 9.0, False, (
        _o("PE-CUS", "Urubamba", -13.3040, -72.1160, "blanco gigante", 2.0, dop=True),
        _o("PE-CUS", "Calca", -13.3220, -71.9560, "blanco gigante", 1.5, dop=True),
    ), ("organic", "senasa", "dop"), ("traditional_andean", "smallholder_coop", "conventional")),
    Ingredient("pallar", "Pallar de Ica", "Ica lima beans", "legume", 13.0, False, (
        _o("PE-ICA", "Ica (valle)", -14.0678, -75.7286, "pallar de Ica", 2.0, dop=True),
        _o("PE-ICA", "Pisco (valle)", -13.7100, -76.2000, "pallar de Ica", 1.0, dop=True),
    ), ("organic", "senasa", "dop"), ("smallholder_coop", "conventional")),
    Ingredient("chirimoya", "Chirimoya Cumbe", "Cumbe cherimoya", "fruit", 9.5, True, (
        _o("PE-CAJ", "Valle de Cumbe (Chetilla / Magdalena)", -7.2300, -78.6800, "Cumbe", 2.0, dop=True),
        _o("PE-LIM", "Callahuanca (Huarochirí)", -11.8300, -76.6200, "criolla", 1.0),
    ), ("organic", "senasa", "dop"), ("smallholder_coop", "traditional_andean", "conventional")),
    Ingredient("loche", "Loche de Lambayeque", "Lambayeque loche squash", "fruit", 8.0, False, (
        _o("PE-LAM", "Íllimo / Túcume", -6.4700, -79.8500, "loche", 2.0, dop=True),
        _o("PE-LAM", "Ferreñafe", -6.6389, -79.7889, "loche", 1.0, dop=True),
    ), ("organic", "senasa", "dop"), ("smallholder_coop", "conventional")),
    Ingredient("limon_sutil", "Limón sutil", "Key lime (limón sutil)", "fruit", 5.0, True, (
        _o("PE-PIU", "Chulucanas", -5.0900, -80.1600, "sutil", 3.0, dop=True),
        _o("PE-LAM", "Olmos", -5.9800, -79.7500, "sutil", 1.5),
        _o("PE-TUM", "Tumbes", -3.5669, -80.4515, "sutil", 1.0),
    ), ("organic", "rainforest_alliance", "senasa", "dop"), ("smallholder_coop", "conventional")),
    Ingredient("trucha", "Trucha arcoíris", "Rainbow trout", "fish", 24.0, True, (
        _o("PE-PUN", "Chucuito (lago Titicaca)", -15.8900, -69.8900, "jaulas flotantes", 3.0),
        _o("PE-JUN", "Ingenio (Huancayo)", -11.8800, -75.2700, "estanques", 1.5),
        _o("PE-HUV", "Huancavelica", -12.7864, -74.9760, "estanques", 1.0),
    ), ("asc", "senasa"), ("aquaculture",)),
    Ingredient("cushuro", "Cushuro", "Cushuro (Andean cyanobacteria)", "algae", 60.0, True, (
        _o("PE-ANC", "Conococha", -10.1200, -77.2800, "Nostoc sphaericum", 1.5),
        _o("PE-CUS", "Chinchero (lagunas)", -13.3920, -72.0480, "Nostoc sphaericum", 1.0),
        _o("PE-JUN", "Junín (lagunas)", -11.1600, -75.9900, "Nostoc sphaericum", 1.0),
    ), ("organic", "senasa"), ("wild_harvest_managed", "wild_harvest", "smallholder_coop")),
    Ingredient("aguaymanto", "Aguaymanto", "Goldenberry", "fruit", 11.0, True, (
        _o("PE-CAJ", "Cajamarca", -7.1638, -78.5003, "aguaymanto", 2.0),
        _o("PE-ANC", "Huaraz", -9.5278, -77.5278, "aguaymanto", 1.0),
        _o("PE-HUC", "Huánuco", -9.9306, -76.2422, "aguaymanto", 1.0),
    ), ("organic", "fairtrade", "senasa"), ("smallholder_coop", "agroforestry", "conventional")),
    Ingredient("sacha_inchi", "Sacha inchi", "Sacha inchi", "seed", 35.0, False, (
        _o("PE-SAM", "Lamas", -6.4200, -76.5200, "Plukenetia volubilis", 2.0),
        _o("PE-SAM", "Tarapoto", -6.4825, -76.3731, "Plukenetia volubilis", 1.0),
        _o("PE-UCA", "Pucallpa", -8.3791, -74.5539, "Plukenetia volubilis", 1.0),
    ), _DRY, ("agroforestry", "smallholder_coop", "conventional")),
    Ingredient("rocoto", "Rocoto", "Rocoto pepper", "chili", 6.0, True, (
        _o("PE-ARE", "Arequipa (campiña)", -16.3989, -71.5350, "rocoto arequipeño", 2.0),
        _o("PE-PAS", "Oxapampa", -10.5800, -75.4000, "rocoto de selva central", 1.5),
        _o("PE-HUC", "Huánuco", -9.9306, -76.2422, "rocoto", 1.0),
    ), ("organic", "senasa"), ("smallholder_coop", "conventional")),
)

INGREDIENT_BY_ID: dict[str, Ingredient] = {i.ingredient_id: i for i in INGREDIENTS}
INGREDIENT_IDS: tuple[str, ...] = tuple(i.ingredient_id for i in INGREDIENTS)
CERTIFICATION_IDS: tuple[str, ...] = tuple(CERTIFICATIONS)
PRACTICE_IDS: tuple[str, ...] = tuple(PRACTICES)
