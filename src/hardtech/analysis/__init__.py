"""Analysis of simulation results: summaries, plots and HTML reports."""
