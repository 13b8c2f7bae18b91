"""Deterministic synthetic sample of the energy domain: an energy company's heat meters
in its customers' buildings, the weather of their cities and the building registry.
numpy and pandas only, no network; every value (addresses included) is generated here.

Files (under the output folder; calendar default 2024-01-01 .. 2024-12-31, local time)
---------------------------------------------------------------------------------------
``readings/<device>/<device>_YYYY-MM.txt``
    One text file per metering device per local month, as the device sends it:
    semicolon-separated, a header ``device_id;timestamp;meter_kwh``, then one hourly
    reading per line, e.g. ``M4821;27.10.2024 02:00;48213,7``: the local wall-clock time
    (Europe/Paris: no 02:00 on the spring-forward day, two 02:00 on the fall-back day,
    the first in summer time) and the cumulative heat counter in kWh with a decimal comma.
``devices/devices.csv``
    The installers' list: device_id, building_ref (the registry number as they noted
    it, empty, or stale), address, postcode, city, installed_on, removed_on.
``registry/buildings.csv``
    The building registry: building_id (BLD-1234), address (as a clerk wrote it),
    postcode, city, floor_area_m2, construction_year, heating_type, use_type,
    updated_on (the row's last edit, before the calendar); also
    buildings without a device (some next door to a metered one).
``calendar/holidays.csv``
    Public holidays: date, name, scope.
``api/weather.jsonl``
    What the demo API serves for source ``weather``: one record per city and day: id,
    city, date, temperature, humidity (%), wind_speed (m/s), precipitation (mm),
    updated_at (the next day 06:00Z). Sorted by (updated_at, id).
``_truth/truth.json`` and ``_truth/device_building.csv``
    The ground truth: every planted defect (which device, which local time, which
    values) and the true building of each device with how its registry row differs.
``_generated.json``
    The :class:`Manifest`: records per file, rows per table, the count of each defect.

Planted defects (each at least once; exact list in the truth file)
------------------------------------------------------------------
DST gap and repeat (every device, natural), counter resets (to 0 after a technician's
visit), stuck values (the counter frozen for 8-30 hours, then catching up), gaps (a
device offline for 12-96 hours), duplicate readings (a line written twice, half of them
with a different value), a meter replaced mid-year (a new device id at the same
address, its counter starting near 0), one city's weather in degrees F, registry
addresses abbreviated, with a typo or on a renamed street, building refs missing or
stale, a registry floor area of 0 and a construction year after the first reading.

Heat use follows the weather (degree-days below 16 C, scaled by floor area and age),
hot water, the use type's daily profile (residential, office, school) and working
days, weekends, holidays and the school summer break, so a model and a load-profile
clustering have something to find.

Determinism: the same buildings, seed, start and months give byte-identical files::

    python -m utils.domains.energy.synthetic --buildings 20 --seed 5 --out data/energy
"""

from __future__ import annotations

from .layout import (DEFAULT_BUILDINGS, DEFAULT_MONTHS, DEFAULT_SEED, DEFAULT_START, HOLIDAYS_FILE, LOCAL_FORMAT,
                     LOCAL_ZONE, MANIFEST_FILE, MATCHES_FILE, REGISTRY_FILE, DEVICES_FILE, TRUTH_FILE, WEATHER_FILE,
                     readings_file)
from .write import Manifest, generate, main

__all__ = [
    "DEFAULT_BUILDINGS", "DEFAULT_MONTHS", "DEFAULT_SEED", "DEFAULT_START", "DEVICES_FILE", "HOLIDAYS_FILE",
    "LOCAL_FORMAT", "LOCAL_ZONE", "MANIFEST_FILE", "MATCHES_FILE", "Manifest", "REGISTRY_FILE", "TRUTH_FILE",
    "WEATHER_FILE", "generate", "main", "readings_file",
]  # fmt: skip
