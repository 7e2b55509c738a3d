"""Running the model: keyed random streams, batches, executors (serial, process pool, Dask),
the one submission loop, the locked streaming store and resume, sequential stopping, the
result Dataset and the files written for it.

Every command that simulates goes through :func:`~valuecapture.run.simulate.simulate` or
:func:`~valuecapture.run.simulate.simulate_variants`.
"""
