"""The Neo4j target: rows -> a property graph, each row merging its nodes (by key) and the relationships
between them."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from airflow_provider_datalake.asset_uris import CONNECTION_DEFAULT, GoldAsset, gold_uri
from airflow_provider_datalake.descriptors.base import GraphName, Identifier, Strict, repeated
from airflow_provider_datalake.descriptors.targets.common import FieldRef, GoldTarget


class GraphNode(Strict):
    """A node per distinct key: MERGE on `keys` (unique together), then SET `properties`."""

    label: GraphName
    keys: list[Identifier] = Field(min_length=1, description="fields identifying the node (its MERGE key)")
    properties: list[Identifier] = Field(default_factory=list, description="other fields set on the node")

    @field_validator("properties")
    @classmethod
    def _distinct(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # A field validator, not a model one: it runs even when the label is wrong.
        duplicates = repeated([*info.data.get("keys", []), *value])
        if duplicates:
            raise ValueError(f"{', '.join(duplicates)} listed twice (keys and properties)")
        return value


class GraphRelationship(Strict):
    """(from)-[:type]->(to) between two nodes of the same row, merged once, with `properties` set on it."""

    type: GraphName
    from_: GraphName = Field(alias="from", description="label of the start node (declared in `nodes`)")
    to: GraphName = Field(description="label of the end node (declared in `nodes`)")
    properties: list[Identifier] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Neo4jTarget(GoldTarget):
    """Rows -> a property graph: each row merges its nodes (by key) and the relationships between them."""

    store: Literal["neo4j"] = "neo4j"
    conn_id: str = "neo4j_default"
    database: str | None = Field(None, description="default: the connection's schema, else the server's")
    graph: Identifier = Field("graph", description="names this target (task `neo4j_<graph>`)")
    nodes: list[GraphNode] = Field(min_length=1)
    relationships: list[GraphRelationship] = Field(default_factory=list)
    batch_size: int = Field(5_000, ge=1, le=100_000, description="rows per UNWIND transaction")

    @field_validator("nodes")
    @classmethod
    def _labels_unique(cls, value: list[GraphNode]) -> list[GraphNode]:
        duplicates = repeated([n.label for n in value])
        if duplicates:
            raise ValueError(
                f"node labels must be unique in a graph target; repeated: {', '.join(duplicates)}"
            )
        return value

    @field_validator("relationships")
    @classmethod
    def _ends_are_nodes(cls, value: list[GraphRelationship], info: ValidationInfo) -> list[GraphRelationship]:
        if "nodes" not in info.data:  # the nodes are invalid: already reported
            return value
        labels = [n.label for n in info.data["nodes"]]
        for rel in value:
            for end in (rel.from_, rel.to):
                if end not in labels:
                    raise ValueError(
                        f"relationship {rel.type}: {end!r} is not a node label of this target "
                        f"(declared: {', '.join(labels)})"
                    )
        return value

    @property
    def name(self) -> str:
        return f"neo4j_{self.graph}"

    def field_refs(self) -> list[FieldRef]:
        refs: list[FieldRef] = []
        for i, node in enumerate(self.nodes):
            refs += [(("nodes", i, "keys", j), k) for j, k in enumerate(node.keys)]
            refs += [(("nodes", i, "properties", j), p) for j, p in enumerate(node.properties)]
        for i, rel in enumerate(self.relationships):
            refs += [(("relationships", i, "properties", j), p) for j, p in enumerate(rel.properties)]
        return refs

    def assets(self) -> list[GoldAsset]:
        """One asset per node label and one per relationship type: what a graph's readers query by."""
        db = self.database or CONNECTION_DEFAULT
        named = [("node", n.label, f"(:{n.label})") for n in self.nodes]
        # two relationships of one type (between other labels) are one asset
        named += [("relationship", t, f"[:{t}]") for t in dict.fromkeys(r.type for r in self.relationships)]
        return [
            GoldAsset(
                target=self.name,
                uri=gold_uri(self.store, self.conn_id, db, kind, name),
                name=f"neo4j:{db}/{shown}@{self.conn_id}",
                store=self.store,
                kind=kind,
            )
            for kind, name, shown in named
        ]
