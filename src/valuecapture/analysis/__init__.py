"""Analysis of results: Monte Carlo statistics, heterogeneity of relationship value, paired
comparison of policies, Shapley attribution, designed experiments and sensitivity.

Functions here take result Datasets (and, for designed experiments, run variants through
the run layer); none of them draws figures or writes files.
"""
