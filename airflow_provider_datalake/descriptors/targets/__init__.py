"""Gold-zone targets of a descriptor, one module per store; `Target` is the union a descriptor lists,
told apart by `store`."""

from typing import Annotated, Any

from pydantic import Field

from airflow_provider_datalake.descriptors.targets.common import GoldTarget
from airflow_provider_datalake.descriptors.targets.influxdb import InfluxField, InfluxTarget
from airflow_provider_datalake.descriptors.targets.mongo import MongoIndex, MongoTarget
from airflow_provider_datalake.descriptors.targets.neo4j import GraphNode, GraphRelationship, Neo4jTarget
from airflow_provider_datalake.descriptors.targets.postgres import PostgresTarget

Target = Annotated[PostgresTarget | InfluxTarget | MongoTarget | Neo4jTarget, Field(discriminator="store")]

#: `store` value -> target model.
TARGET_MODELS: dict[Any, type[GoldTarget]] = {
    m.model_fields["store"].default: m for m in (PostgresTarget, InfluxTarget, MongoTarget, Neo4jTarget)
}

__all__ = [
    "TARGET_MODELS",
    "GoldTarget",
    "GraphNode",
    "GraphRelationship",
    "InfluxField",
    "InfluxTarget",
    "MongoIndex",
    "MongoTarget",
    "Neo4jTarget",
    "PostgresTarget",
    "Target",
]
