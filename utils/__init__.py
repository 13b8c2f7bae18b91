"""The lakehouse package. Sub-packages, each one concern, imports pointing down:

lake      config, Spark session, Delta I/O, run ledger, paths, logs, personal-data key
ingest    landing zone, collectors (files, REST), raw record readers, the demo API
layers    bronze, silver (cleaning, rules), gold (features, labels, leakage), the build
quality   rule results and accounting, fitted statistics, profile, quality report
ml        training sets from the feature store, models
present   deck, docs, notebook helpers, JupyterLab launcher
domains   per-domain sample-data generators and pure functions a YAML cannot say

``cli`` (the command line of main.py) sits on top and may import any of them.
"""
