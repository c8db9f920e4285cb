"""Engine layer: scenario inputs -> monthly flows, per plan and path.

``driver.run_chunks`` runs every plan chunk by chunk with the numba engine (``kernel_nb``);
``reference`` is the plain NumPy implementation the tests hold it to. ``docs/engine.md`` is the
contract of both.
"""

from simulator.engine.driver import Chunk, PlanChunk, path_seeds, run_chunks
from simulator.engine.layout import FLOWS, SERIES, SOURCE_ROWS, SOURCE_STAGE_ROW, EngineOutput

__all__ = ["FLOWS", "SERIES", "SOURCE_ROWS", "SOURCE_STAGE_ROW", "Chunk", "EngineOutput",
           "PlanChunk", "path_seeds", "run_chunks"]
