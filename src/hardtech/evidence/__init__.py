"""Evidence: ensembles with intervals, claims as experiments, stylized facts, calibration.

The claims are the article's, each run as an experiment.
"""
