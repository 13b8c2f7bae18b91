"""What the energy sample looks like: calendar, cities, file names, columns, the rates
of behaviour and of the planted defects. Constants only; every other module reads them
here."""

from __future__ import annotations

import datetime as dt

DEFAULT_BUILDINGS = 20
DEFAULT_SEED = 5
DEFAULT_START = dt.date(2024, 1, 1)
DEFAULT_MONTHS = 12  # 2024-01-01 .. 2024-12-31 (local calendar)
MANIFEST_FILE = "_generated.json"
LOCAL_ZONE = "Europe/Paris"  # the meters' clocks: local time, daylight saving included

# --------------------------------------------------------------------------- files

READINGS_DIR, DEVICES_DIR, REGISTRY_DIR, CALENDAR_DIR, API_DIR, TRUTH_DIR = (
    "readings", "devices", "registry", "calendar", "api", "_truth")
DEVICES_FILE = f"{DEVICES_DIR}/devices.csv"
REGISTRY_FILE = f"{REGISTRY_DIR}/buildings.csv"
HOLIDAYS_FILE = f"{CALENDAR_DIR}/holidays.csv"
WEATHER_FILE = f"{API_DIR}/weather.jsonl"
TRUTH_FILE = f"{TRUTH_DIR}/truth.json"
MATCHES_FILE = f"{TRUTH_DIR}/device_building.csv"


def readings_file(device_id: str, month: dt.date) -> str:
    """One text file per device per (local) month."""
    return f"{READINGS_DIR}/{device_id}/{device_id}_{month:%Y-%m}.txt"


#: Readings files: semicolon-separated, decimal commas, local wall-clock time.
READING_COLUMNS = ["device_id", "timestamp", "meter_kwh"]
READING_SEPARATOR = ";"
#: Python and Spark patterns of the readings' local timestamps.
LOCAL_FORMAT_PY = "%d.%m.%Y %H:%M"
LOCAL_FORMAT = "dd.MM.yyyy HH:mm"
DEVICE_COLUMNS = ["device_id", "building_ref", "address", "postcode", "city", "installed_on", "removed_on"]
REGISTRY_COLUMNS = ["building_id", "address", "postcode", "city", "floor_area_m2", "construction_year",
                    "heating_type", "use_type", "updated_on"]
HOLIDAY_COLUMNS = ["date", "name", "scope"]
WEATHER_FIELDS = ["id", "city", "date", "temperature", "humidity", "wind_speed", "precipitation", "updated_at"]

# --------------------------------------------------------------------------- places

#: City -> (postcode prefix, mean temperature, seasonal amplitude in degrees C).
CITIES = {
    "Lyon": ("690", 12.5, 9.5),
    "Lille": ("590", 11.0, 7.5),
    "Strasbourg": ("670", 11.2, 9.8),
    "Bordeaux": ("330", 13.8, 8.0),
    "Grenoble": ("380", 11.8, 10.0),
}
FAHRENHEIT_CITY = "Strasbourg"  # its weather feed reports temperatures in degrees F
STREET_KINDS = ("Rue", "Avenue", "Boulevard", "Place", "Chemin", "Impasse", "Allee")
STREET_NAMES = (
    "des Lilas", "Victor Hugo", "Jean Jaures", "de la Republique", "Pasteur", "des Tanneurs", "du Moulin",
    "Saint-Exupery", "de la Gare", "des Acacias", "Voltaire", "Gambetta", "des Ecoles", "du Marche",
    "Sainte-Catherine", "de la Liberte", "des Peupliers", "Emile Zola", "du Chateau", "des Vignes",
    "Jules Ferry", "des Cerisiers", "Saint-Martin", "du Port", "de Belfort",
)
#: What a registry clerk writes instead (the devices' installers write the full word).
ABBREVIATIONS = {"Rue": "R.", "Avenue": "Av.", "Boulevard": "Bd", "Place": "Pl.", "Chemin": "Ch.",
                 "Impasse": "Imp.", "Allee": "All.", "Saint-": "St-", "Sainte-": "Ste-"}
#: The street renamed before the devices were installed: the registry keeps the old name.
RENAMED_STREET = ("Rue de Verdun", "Rue Simone Veil")  # (registry, devices)

# --------------------------------------------------------------------------- buildings

USE_TYPES = ("residential", "office", "school")
USE_WEIGHTS = (0.55, 0.3, 0.15)
HEATING_TYPES = ("district", "gas", "heat_pump", "oil")
HEATING_WEIGHTS = (0.45, 0.3, 0.15, 0.1)
FLOOR_AREA = (400.0, 6000.0)  # log-uniform, m2
CONSTRUCTION_YEARS = (1900, 2020)
#: Registry rows without a device (buildings of other suppliers), some on a device's street.
EXTRA_REGISTRY_SHARE = 0.35
#: Heat (kWh per m2 and day): hot water, plus per degree-day below the heating base.
HOT_WATER = {"residential": 0.035, "office": 0.012, "school": 0.01}
PER_DEGREE_DAY = 0.012
HEATING_BASE = 16.0  # degrees C
#: Activity on weekends and holidays relative to working days.
WEEKEND_FACTOR = {"residential": 1.08, "office": 0.35, "school": 0.3}
SUMMER_BREAK = (dt.date(2024, 7, 6), dt.date(2024, 9, 1))  # schools closed
NOISE_SIGMA = 0.08  # log-normal day-to-day noise
#: Heat lost every hour by the building's circulation (kWh per m2 and day), so that a
#: working counter always moves: 8 hours without a change are a stuck counter.
STANDING_LOSS = 0.008

# --------------------------------------------------------------------------- defects
# Each kind is recorded in the truth file; every sample has at least one of each.

COUNTER_RESETS = 2  # devices whose counter restarts at 0 once (a technician's reset)
STUCK_EPISODES = 3  # a counter frozen for STUCK_HOURS, then catching up in one step
STUCK_HOURS = (8, 30)
GAP_EPISODES = 3  # no readings for GAP_HOURS (the device was offline; nothing resent)
GAP_HOURS = (12, 96)
DUPLICATE_SHARE = 0.0008  # readings written twice, next to each other
CONFLICT_SHARE = 0.5  # of the duplicates: the second copy holds a different value
REPLACED_DEVICES = 1  # buildings whose meter is replaced mid-year (a new device id)
WRONG_REF_SHARE = 0.15  # devices whose building_ref is stale (another building's id)
MISSING_REF_SHARE = 0.2  # devices without a building_ref
ABBREVIATED_SHARE = 0.35
TYPO_SHARE = 0.2
BAD_FLOOR_AREAS = 1  # registry rows with floor area 0
LATE_CONSTRUCTION = 1  # registry rows built (on paper) after the first reading
