"""Exploitation zone, entity resolution: which registry building each metering device
is in. Addresses are normalised (case, accents, abbreviations, punctuation), candidate
pairs are blocked on the postcode, scored (street similarity, house number, the
installer's building_ref) and decided by named rules into match, review or non-match.

Pure functions, DataFrames in and out."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

ACCENTS = ("àâäáéèêëîïíôöóùûüúçñ", "aaaaeeeeiiioooouuuucn")
#: Abbreviation (a whole word, optional dot) -> the word, applied in this order.
ABBREVIATIONS = (("bd", "boulevard"), ("av", "avenue"), ("r", "rue"), ("pl", "place"), ("ch", "chemin"),
                 ("imp", "impasse"), ("all", "allee"), ("ste", "sainte"), ("st", "saint"))
#: A street at least this similar (1 - edit distance / length) is the same street.
SAME_STREET = 0.8
#: Score weights: street similarity, same house number, building_ref naming the building.
WEIGHTS = (0.6, 0.25, 0.15)


def normalise_address(address: Column) -> Column:
    """`12 Av. St-Martin` -> `12 avenue saint martin`: lower case, no accents,
    abbreviations spelt out, punctuation as single spaces."""
    text = F.translate(F.lower(F.trim(address)), *ACCENTS)
    for short, word in ABBREVIATIONS:
        text = F.regexp_replace(text, rf"\b{short}\b\.?", word)
    return F.trim(F.regexp_replace(text, r"[^a-z0-9]+", " "))


def _parts(df: DataFrame, key: str) -> DataFrame:
    norm = normalise_address(F.col("address"))
    return df.select(
        key, "address", "postcode", "city", norm.alias("normalised"),
        F.regexp_extract(norm, r"^(\d+)", 1).alias("number"),
        F.regexp_replace(norm, r"^\d+\s*", "").alias("street"),
        *([F.col("building_ref")] if "building_ref" in df.columns else []),
    )


def score_candidates(devices: DataFrame, registry: DataFrame) -> DataFrame:
    """Every (device, registry building) pair in the same postcode block (key device_id,
    building_id): both addresses normalised, street_similarity (1 - Levenshtein distance
    / the longer street), same_number, ref_agrees, score (weighted sum in [0, 1]) and the
    rule that decides it:

    - ``address`` (match): same number, streets at least SAME_STREET similar;
    - ``ref_and_number`` (match): same number and the building_ref names the building
      (a renamed street);
    - ``number_only`` (review): same number, another street, no reference;
    - ``ref_only`` (review): the building_ref names the building, the number differs;
    - ``different_address`` (non_match): anything else.
    """
    d = _parts(devices, "device_id").alias("d")
    r = _parts(registry, "building_id").alias("r")
    pairs = d.join(r, (F.col("d.postcode") == F.col("r.postcode")) & (F.col("d.city") == F.col("r.city")))
    longest = F.greatest(F.length("d.street"), F.length("r.street"), F.lit(1))
    similarity = F.round(1 - F.levenshtein(F.col("d.street"), F.col("r.street")) / longest, 3)
    same_number = (F.col("d.number") == F.col("r.number")) & (F.col("d.number") != "")
    ref = F.coalesce(F.concat(F.lit("BLD-"), F.trim(F.col("d.building_ref"))) == F.col("r.building_id"), F.lit(False))
    scored = pairs.select(
        F.col("d.device_id").alias("device_id"), F.col("r.building_id").alias("building_id"),
        F.col("d.address").alias("device_address"), F.col("r.address").alias("registry_address"),
        F.col("d.normalised").alias("device_normalised"), F.col("r.normalised").alias("registry_normalised"),
        F.col("d.postcode").alias("postcode"), similarity.alias("street_similarity"),
        same_number.alias("same_number"), ref.alias("ref_agrees"),
    )
    a, b, c = WEIGHTS
    score = (F.lit(a) * F.col("street_similarity") + F.lit(b) * F.col("same_number").cast("double")
             + F.lit(c) * F.col("ref_agrees").cast("double"))
    same_street = F.col("street_similarity") >= SAME_STREET
    rule = (F.when(F.col("same_number") & same_street, "address")
            .when(F.col("same_number") & F.col("ref_agrees"), "ref_and_number")
            .when(F.col("same_number"), "number_only")
            .when(F.col("ref_agrees"), "ref_only")
            .otherwise("different_address"))
    decision = (F.when(rule.isin("address", "ref_and_number"), "match")
                .when(rule.isin("number_only", "ref_only"), "review").otherwise("non_match"))
    return scored.withColumns({"score": F.round(score, 3), "rule": rule, "decision": decision})


def resolve_devices(candidates: DataFrame) -> DataFrame:
    """The match table (key device_id, building_id): every scored pair, with `best`
    true for each device's highest-scoring pair (ties: the lower building_id); a device
    is linked to a building by its best pair when that pair's decision is match."""
    w = Window.partitionBy("device_id").orderBy(F.desc("score"), "building_id")
    return candidates.withColumn("best", F.row_number().over(w) == 1)


def linked(matches: DataFrame) -> DataFrame:
    """device_id -> building_id of the accepted matches (one building per device)."""
    return matches.where(F.col("best") & (F.col("decision") == "match")).select("device_id", "building_id")


def evaluate(matches: DataFrame, truth: DataFrame) -> dict:
    """Precision and recall of the accepted matches against `truth` (device_id,
    building_id), and with the reviews counted as matches; counts by decision."""
    best = matches.where("best").select("device_id", "building_id", "decision").collect()
    true = {(r["device_id"], r["building_id"]) for r in truth.select("device_id", "building_id").collect()}
    out: dict = {"devices": len(true), "pairs_scored": matches.count()}
    for name, decisions in (("matches", {"match"}), ("matches_and_reviews", {"match", "review"})):
        found = {(r["device_id"], r["building_id"]) for r in best if r["decision"] in decisions}
        hits = len(found & true)
        out[name] = {"predicted": len(found), "correct": hits,
                     "precision": round(hits / len(found), 4) if found else None,
                     "recall": round(hits / len(true), 4) if true else None}
    out["best_by_decision"] = {d: sum(r["decision"] == d for r in best) for d in ("match", "review", "non_match")}
    return out
