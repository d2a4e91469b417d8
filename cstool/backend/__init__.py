"""The Backend implementations: ``local`` (in-process, over the data file) and ``remote``
(HTTP to ``cstool serve``). The contract they implement is ``cstool.api``."""
