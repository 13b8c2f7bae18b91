"""Sample queries of each domain's warehouse, shown with their results in docs/sql_warehouse.md.

A query runs only where its domain is built and every table it `needs` exists, so the
list may hold queries of domains that a datamart does not have yet (they are shown,
marked as not run). ``{entity}`` in a query is replaced by the domain's gold entity
(e.g. customer_id). Queries must give the same result on every build of the same data:
round floats, order every result, never show run ids, times or hashes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """One sample query: a title, the question it answers, the SQL, the tables it needs."""

    title: str
    question: str
    sql: str
    needs: tuple[str, ...] = ()


LOAN_DEFAULT = (
    Sample(
        "Default rate by application quarter",
        "How many loans reached month on book 6 per application quarter, and what share was 30+ days past due?",
        """SELECT CAST(date_trunc('quarter', feature_snapshot_date) AS DATE) AS application_quarter,
       count(*) AS loans,
       sum(label) AS defaults,
       round(avg(label), 4) AS default_rate
FROM label_store
WHERE label_def = '30dpd_6mob'
GROUP BY ALL
ORDER BY application_quarter""",
        ("gold.label_store",),
    ),
    Sample(
        "Training rows: labels joined to their point-in-time features",
        "Do defaulters differ at application time? (the join a training set makes: the feature row of the "
        "label's feature_snapshot_date)",
        """SELECT l.label,
       count(*) AS loans,
       round(avg(f.interest_rate), 2) AS avg_interest_rate,
       round(avg(f.debt_to_income), 4) AS avg_debt_to_income,
       round(avg(f.num_of_delayed_payment), 2) AS avg_delayed_payments
FROM label_store AS l
JOIN feature_store AS f
  ON f.customer_id = l.customer_id AND f.snapshot_date = l.feature_snapshot_date
WHERE l.label_def = '30dpd_6mob'
GROUP BY ALL
ORDER BY l.label""",
        ("gold.label_store", "gold.feature_store"),
    ),
    Sample(
        "Default rate by credit mix",
        "Which credit-mix segment defaults most?",
        """SELECT coalesce(f.credit_mix, '(unknown)') AS credit_mix,
       count(*) AS loans,
       round(avg(l.label), 4) AS default_rate
FROM label_store AS l
JOIN feature_store AS f
  ON f.customer_id = l.customer_id AND f.snapshot_date = l.feature_snapshot_date
GROUP BY ALL
ORDER BY default_rate DESC, credit_mix""",
        ("gold.label_store", "gold.feature_store"),
    ),
    Sample(
        "Feature coverage",
        "How complete are the feature rows? (rows with each source's data, and invalid raw values)",
        """SELECT count(*) AS feature_rows,
       sum(has_attributes) AS with_attributes,
       sum(has_financials) AS with_financials,
       sum(has_clickstream) AS with_clickstream,
       sum(age_invalid) AS invalid_age,
       round(avg(clickstream_months), 2) AS avg_clickstream_months
FROM feature_store""",
        ("gold.feature_store",),
    ),
    Sample(
        "Loans overdue by month on book (silver)",
        "How does the share of loans with an overdue amount grow with months on book?",
        """SELECT installment_num AS month_on_book,
       count(*) AS loans,
       round(avg(CASE WHEN overdue_amt > 0 THEN 1 ELSE 0 END), 4) AS share_overdue,
       round(sum(overdue_amt), 2) AS total_overdue
FROM silver.loan_daily
GROUP BY ALL
ORDER BY month_on_book""",
        ("silver.loan_daily",),
    ),
    Sample(
        "Column documentation from the warehouse itself",
        "What does a column mean? The comments of the DDL are on the views too.",
        """SELECT column_name, data_type, comment
FROM duckdb_columns()
WHERE schema_name = 'gold' AND table_name = 'label_store'
ORDER BY column_index""",
        ("gold.label_store",),
    ),
)

CHURN = (
    Sample(
        "Churn rate by decision month",
        "What share of the active customers at each month end bought nothing in the label's window?",
        """SELECT feature_snapshot_date AS decision_date,
       label_def,
       count(*) AS customers,
       sum(label) AS churned,
       round(avg(label), 4) AS churn_rate
FROM label_store
GROUP BY ALL
ORDER BY decision_date, label_def""",
        ("gold.label_store",),
    ),
    Sample(
        "Churn by orders in the 90 days before the decision",
        "Do customers who ordered less recently churn more? (completed orders counted point in time, up to the "
        "decision day, straight from silver)",
        """WITH recent AS (
    SELECT l.{entity}, l.feature_snapshot_date, l.label,
           count(o.{entity}) AS orders_90d
    FROM label_store AS l
    LEFT JOIN silver.orders AS o
      ON o.{entity} = l.{entity}
     AND CAST(o.ordered_at AS DATE) <= l.feature_snapshot_date
     AND CAST(o.ordered_at AS DATE) > l.feature_snapshot_date - INTERVAL 90 DAY
     AND o.status = 'completed'
    GROUP BY ALL
)
SELECT CASE WHEN orders_90d = 0 THEN '0' WHEN orders_90d <= 2 THEN '1-2' ELSE '3+' END AS orders_90d,
       count(*) AS customers,
       round(avg(label), 4) AS churn_rate
FROM recent
GROUP BY ALL
ORDER BY orders_90d""",
        ("gold.label_store", "silver.orders"),
    ),
    Sample(
        "Top churn-risk segments",
        "Which plan and acquisition-channel segments lose the largest share of their active customers? "
        "(segments of at least 200 labelled rows; features as of the decision date)",
        """SELECT f.plan,
       f.acquisition_channel,
       count(*) AS labelled_rows,
       round(avg(l.label), 4) AS churn_rate,
       round(avg(f.days_since_order), 1) AS avg_days_since_order
FROM label_store AS l
JOIN feature_store AS f
  ON f.{entity} = l.{entity} AND f.snapshot_date = l.feature_snapshot_date
GROUP BY ALL
HAVING count(*) >= 200
ORDER BY churn_rate DESC, f.plan, f.acquisition_channel
LIMIT 10""",
        ("gold.label_store", "gold.feature_store"),
    ),
    Sample(
        "Label windows",
        "Which observation windows do the labels cover? (rows whose window runs past the data are not labelled)",
        """SELECT label_def,
       min(window_start) AS first_window_start,
       max(window_end) AS last_window_end,
       count(DISTINCT feature_snapshot_date) AS decision_dates,
       count(*) AS labelled_rows
FROM label_store
GROUP BY ALL
ORDER BY label_def""",
        ("gold.label_store",),
    ),
)

#: domain -> its sample queries, in the order the documentation shows them.
SAMPLES: dict[str, tuple[Sample, ...]] = {"loan_default": LOAN_DEFAULT, "churn": CHURN}
