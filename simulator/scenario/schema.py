"""The JSON Schema of scenario files, for editors (autocompletion, checking as you type)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from simulator import __version__
from simulator.scenario.model import Scenario


class _ScenarioSchema(GenerateJsonSchema):
    def generate(self, schema, mode="validation"):
        out = super().generate(schema, mode=mode)
        out["$schema"] = self.schema_dialect
        return out


def json_schema() -> dict[str, Any]:
    """The scenario format as a JSON Schema (draft 2020-12)."""
    schema = Scenario.model_json_schema(schema_generator=_ScenarioSchema)
    schema["title"] = f"saas-sim scenario (version {__version__})"
    return schema
