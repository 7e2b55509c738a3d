"""The model: customer population and network, the batch state, the sub-models that step it,
business models and portfolio models, policies, and the domain-free engine that schedules
the sub-models.

It takes a validated :class:`~valuecapture.scenario.Scenario` (through
:class:`~valuecapture.model.params.ModelParams`) and random streams handed in by the run
layer; it knows nothing of batches, executors, stores or results.
"""
