"""Data quality: rule results and row accounting (_meta/quality, _meta/accounting),
statistics fitted once (_meta/statistics), profiles (_meta/profile), the quality report.
May import utils.lake."""
