"""Evidence: ensembles with intervals, the article's claims as experiments,
stylized facts, and calibration.
"""
