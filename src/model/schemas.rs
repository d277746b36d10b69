//! k8s-openapi's schemas of the served kinds' types, as schemars generates them with OpenAPI 3
//! settings: one generator and one kind -> type table, which admission's unknown-fields walk
//! follows as they are and the OpenAPI documents (`wire::openapi`) start from. Pure.

use crate::model::ResourceKind;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, Namespace, Node, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};

/// Where definitions live in a generated document; every `$ref` starts with this.
pub const REF_PREFIX: &str = "#/components/schemas/";

/// A generator with the settings every kubetrail schema is made with.
pub fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator()
}

/// Register `T` (and what it holds) with `generator`; the name of its definition.
pub fn name_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    let _: Schema = generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// Register the type of a served kind; the name of its definition. Exhaustive, so a new kind
/// does not compile until it has a schema.
pub fn register(kind: ResourceKind, generator: &mut SchemaGenerator) -> String {
    match kind {
        ResourceKind::Namespace => name_of::<Namespace>(generator),
        ResourceKind::Node => name_of::<Node>(generator),
        ResourceKind::Pod => name_of::<Pod>(generator),
        ResourceKind::ReplicaSet => name_of::<ReplicaSet>(generator),
        ResourceKind::Deployment => name_of::<Deployment>(generator),
        ResourceKind::Event => name_of::<Event>(generator),
        ResourceKind::Service => name_of::<Service>(generator),
        ResourceKind::Endpoints => name_of::<Endpoints>(generator),
        ResourceKind::EndpointSlice => name_of::<EndpointSlice>(generator),
        ResourceKind::ConfigMap => name_of::<ConfigMap>(generator),
        ResourceKind::Secret => name_of::<Secret>(generator),
        ResourceKind::ServiceAccount => name_of::<ServiceAccount>(generator),
        ResourceKind::Lease => name_of::<Lease>(generator),
    }
}
