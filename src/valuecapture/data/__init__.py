"""A firm's own customer data: reading and checking its customer table and revenue panel, and
estimating the scenario's uncertain inputs from them (``valuecapture calibrate``).

:mod:`~valuecapture.data.read` reads and validates the files (every problem is one
:class:`~valuecapture.data.read.DataError` naming file, row and column);
:mod:`~valuecapture.data.marginals`, :mod:`~valuecapture.data.copula`,
:mod:`~valuecapture.data.churn` and :mod:`~valuecapture.data.panel` are the estimators (pure
functions of arrays); :mod:`~valuecapture.data.calibrate` maps their estimates onto a base
scenario's fields and writes the calibrated scenario with its sidecar JSON.  This layer sits
between ``scenario`` (which it uses) and ``model``; it knows nothing of runs.
"""
