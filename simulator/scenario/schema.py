"""The JSON Schema of scenario files, for editors (autocompletion, checking as you type)."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from simulator import __version__
from simulator.scenario.model import Scenario


def _yaml_form(value: Any) -> Any:
    """A default as it would be written in a scenario file.

    Uncertain values, schedules and mixes are small objects in the model; their defaults are
    shown in the form a file uses (``0.1``, ``{schedule: ...}``), the form their serializers
    write, not as the objects' fields.
    """
    to_yaml = getattr(value, "to_yaml", None)
    if callable(to_yaml):
        return to_yaml()
    if isinstance(value, dict):
        return {key: _yaml_form(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_yaml_form(item) for item in value]
    return value


class _ScenarioSchema(GenerateJsonSchema):
    def generate(self, schema, mode="validation"):
        out = super().generate(schema, mode=mode)
        out["$schema"] = self.schema_dialect
        return out

    def encode_default(self, dft: Any) -> Any:
        # pydantic applies a field's plain serializer to its default only in serialization
        # mode; a scenario schema is a validation schema, so the YAML form is made here.
        return super().encode_default(_yaml_form(dft))


def json_schema() -> dict[str, Any]:
    """The scenario format as a JSON Schema (draft 2020-12)."""
    schema = Scenario.model_json_schema(schema_generator=_ScenarioSchema)
    schema["title"] = f"saas-sim scenario (version {__version__})"
    return schema
