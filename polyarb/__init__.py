"""polyarb: shared code of the polyarb services (generated stubs in polyarb.v1, runtime in polyarb.runtime)."""

__version__ = "0.1.0"
