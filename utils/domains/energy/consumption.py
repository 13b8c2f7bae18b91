"""Exploitation zone, consumption: daily heat use per device and per building from the
cumulative counters of silver/readings (resets handled, gaps and stuck hours marked, never
filled), and the daily table of buildings joined with weather, calendar and registry.

Pure functions, DataFrames in and out (DESIGN principle 1); :mod:`.exploitation` reads
and writes the tables."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: A counter under this share of its previous reading restarted from 0 (the silver rule
#: counter_reset uses the same share).
RESET_SHARE = 0.5
#: A reading equal to the device's reading this many hours before is stuck (every
#: building uses hot water; the silver rule stuck_counter uses the same lag).
STUCK_HOURS = 8
HEATING_BASE_C = 16.0  # degree-days below this temperature


def _local_day(stamp: Column, zone: str) -> Column:
    return F.to_date(F.from_utc_timestamp(stamp, zone))


def _hours_of_day(day: Column, zone: str) -> Column:
    """Hours in a local day: 23 when the clocks go forward, 25 when they go back."""
    start = F.to_utc_timestamp(day.cast("timestamp"), zone)
    end = F.to_utc_timestamp(F.date_add(day, 1).cast("timestamp"), zone)
    return ((F.unix_timestamp(end) - F.unix_timestamp(start)) / 3600).cast("int")


def build_device_days(readings: DataFrame, *, zone: str) -> DataFrame:
    """One row per device and local day of its readings (key device_id, day): the heat
    used from each reading of the day to the device's next one (so a day runs from its
    00:00 reading to the next day's), with what makes it incomplete:

    - consumption_kwh: the sum of the hourly steps; a step down to under half the
      previous reading is a counter reset, whose step is the new reading (counted from 0);
    - resets: counter resets in the day; negative_steps: other falls (counted as 0 kWh);
    - gap_hours: hours without a reading after one of the day; the step across a gap is
      NOT spread over the missing hours: it is left out (gap_kwh holds it);
    - stuck_hours: readings equal to the reading STUCK_HOURS hours before (a frozen
      counter, which catches up in one step later);
    - readings, expected_hours (23, 24 or 25 in local time), complete (every hour read,
      every step known, no gap, no stuck reading).
    """
    w = Window.partitionBy("device_id").orderBy("read_at")
    nxt, nxt_at = F.lead("meter_kwh").over(w), F.lead("read_at").over(w)
    steps = readings.select(
        "device_id", "read_at", "meter_kwh",
        nxt.alias("next_kwh"),
        (F.col("meter_kwh") == F.lag("meter_kwh", STUCK_HOURS).over(w)).alias("stuck"),
        ((F.unix_timestamp(nxt_at) - F.unix_timestamp("read_at")) / 3600).alias("hours"),
    )
    reset = F.col("next_kwh") < F.lit(RESET_SHARE) * F.col("meter_kwh")
    step = F.when(reset, F.col("next_kwh")).otherwise(F.col("next_kwh") - F.col("meter_kwh"))
    hourly = F.col("hours") == 1
    steps = steps.select(
        "device_id", _local_day(F.col("read_at"), zone).alias("day"),
        F.when(hourly & (step >= 0), step).alias("step"),
        F.when(F.col("hours") > 1, step).alias("gap_step"),
        F.coalesce(reset, F.lit(False)).alias("reset"),
        F.coalesce(~reset & (step < 0), F.lit(False)).alias("negative"),
        F.greatest(F.col("hours") - 1, F.lit(0)).alias("gap_hours"),
        F.col("next_kwh").isNull().alias("last"),
        F.coalesce("stuck", F.lit(False)).alias("stuck"),
    )
    days = steps.groupBy("device_id", "day").agg(
        F.round(F.sum(F.coalesce("step", F.lit(0.0))), 1).alias("consumption_kwh"),
        F.count(F.lit(1)).cast("int").alias("readings"),
        F.sum(F.col("reset").cast("int")).alias("resets"),
        F.sum(F.col("negative").cast("int")).alias("negative_steps"),
        F.sum(F.coalesce("gap_hours", F.lit(0))).cast("int").alias("gap_hours"),
        F.round(F.sum("gap_step"), 1).alias("gap_kwh"),
        F.sum(F.col("stuck").cast("int")).alias("stuck_hours"),
        F.sum(F.col("last").cast("int")).alias("open_steps"),
    )
    days = days.withColumn("expected_hours", _hours_of_day(F.col("day"), zone))
    complete = ((F.col("readings") == F.col("expected_hours")) & (F.col("gap_hours") == 0)
                & (F.col("open_steps") == 0) & (F.col("negative_steps") == 0)
                & (F.col("stuck_hours") == 0))
    return days.withColumn("complete", complete).drop("open_steps")


def build_building_days(device_days: DataFrame, matches: DataFrame) -> DataFrame:
    """One row per building and local day (key building_id, day): the sum over its
    matched devices (a replaced meter: both on the day of the swap), complete only
    when every device-day is; the devices' markers summed."""
    linked = device_days.join(matches.select("device_id", "building_id"), "device_id")
    return linked.groupBy("building_id", "day").agg(
        F.round(F.sum("consumption_kwh"), 1).alias("consumption_kwh"),
        F.countDistinct("device_id").cast("int").alias("devices"),
        F.sum("readings").cast("int").alias("readings"),
        F.sum("resets").cast("int").alias("resets"),
        F.sum("gap_hours").cast("int").alias("gap_hours"),
        F.sum("stuck_hours").cast("int").alias("stuck_hours"),
        F.min(F.col("complete").cast("int")).cast("boolean").alias("complete"),
    )


#: Weather of a day D is published the next morning (the feed's updated_at is D+1 06:00Z), so
#: at the issue time of a next-day forecast for T (00:00 local of T, when the reading that
#: closes T-1 arrives) the weather of T-1 is not yet known: the latest known day is T-2.
WEATHER_KNOWN_LAG_DAYS = 2
#: The weather columns of a day (the observed ones of T are kept for ex-post analysis only).
WEATHER = ("temperature_c", "humidity", "wind_speed", "precipitation")
#: The earliest UTC instant 00:00 local of T can be (UTC+14): a weather row published before
#: it is known at the issue time in every zone.
_EARLIEST_MIDNIGHT_HOURS = 14


def _day_number(day: Column) -> Column:
    """Days since 1970-01-01 (a window's order that does not depend on the session time zone)."""
    return F.datediff(day, F.lit("1970-01-01").cast("date"))


def build_daily_features(building_days: DataFrame, registry: DataFrame, weather: DataFrame,
                         holidays: DataFrame) -> DataFrame:
    """One row per building and day T (key building_id, snapshot_date = T): its
    consumption (the target of a next-day forecast issued at 00:00 of T; use it only when
    complete) and markers, the registry's attributes, calendar features, and what is known
    at that issue time:

    - kwh_lag_1d (the consumption of T-1, closed by T's 00:00 reading) and kwh_lag_7d (of
      T-7, the seasonal-naive forecast), null when that day is incomplete;
    - the latest published weather of its city: the observed weather of T-2
      (``*_lag_2d``, published on the morning of T-1) and the temperature of T-3, with
      heating degree-days of both; null when the row was not published before the issue
      time (checked on ``updated_at`` when the weather has it).

    The observed weather of T itself (temperature_c, humidity, wind_speed, precipitation,
    heating_degree_days; degrees C) is published on the morning of T+1: it is NOT known at
    the issue time and stays in the table only for ex-post analysis (what a perfect
    day-ahead weather forecast would add)."""
    reg = registry.select("building_id", "city", "floor_area_m2", "construction_year", "heating_type", "use_type")
    wx = weather.select("city", F.col("weather_date").alias("day"), *WEATHER)
    lag = WEATHER_KNOWN_LAG_DAYS

    def known(n: int, columns) -> DataFrame:
        """The weather of T-n keyed by T, kept only when published before 00:00 of T."""
        issue = _day_number(F.date_add("weather_date", n)) * 86400 - _EARLIEST_MIDNIGHT_HOURS * 3600  # UTC seconds
        published = (F.unix_timestamp("updated_at") < issue) if "updated_at" in weather.columns else F.lit(True)
        return weather.where(published).select(
            "city", F.date_add("weather_date", n).alias("day"), *[F.col(c).alias(f"{c}_lag_{n}d") for c in columns])

    hol = holidays.select(F.col("holiday_date").alias("day"), F.lit(True).alias("is_holiday")).distinct()
    usable = F.when(F.col("complete"), F.col("consumption_kwh"))
    out = (building_days.join(reg, "building_id", "left").join(wx, ["city", "day"], "left")
           .join(known(lag, WEATHER), ["city", "day"], "left")
           .join(known(lag + 1, ("temperature_c",)), ["city", "day"], "left")
           .join(hol, "day", "left")
           .withColumn("is_holiday", F.coalesce("is_holiday", F.lit(False))))
    by_day = Window.partitionBy("building_id").orderBy(_day_number(F.col("day")))

    def days_back(n: int) -> Window:
        return by_day.rangeBetween(-n, -n)

    def degree_days(column: str) -> Column:
        return F.greatest(F.lit(HEATING_BASE_C) - F.col(column), F.lit(0.0))

    return out.select(
        "building_id", "day", "consumption_kwh", "complete", "devices", "readings", "resets", "gap_hours",
        "stuck_hours", "city", "floor_area_m2", "construction_year", "heating_type", "use_type",
        *WEATHER, degree_days("temperature_c").alias("heating_degree_days"),
        *[f"{c}_lag_{lag}d" for c in WEATHER],
        degree_days(f"temperature_c_lag_{lag}d").alias(f"heating_degree_days_lag_{lag}d"),
        f"temperature_c_lag_{lag + 1}d",
        degree_days(f"temperature_c_lag_{lag + 1}d").alias(f"heating_degree_days_lag_{lag + 1}d"),
        F.dayofweek("day").alias("day_of_week"), F.month("day").alias("month"),
        F.dayofweek("day").isin(1, 7).alias("is_weekend"), "is_holiday",
        F.first(usable).over(days_back(1)).alias("kwh_lag_1d"),
        F.first(usable).over(days_back(7)).alias("kwh_lag_7d"),
        F.col("day").alias("snapshot_date"),
    )
