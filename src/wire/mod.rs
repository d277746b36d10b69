//! Pure renderings of the model for clients: the server-side Table printers `kubectl get`
//! shows, the OpenAPI v3 documents `kubectl explain` and validation read, and the decoder of
//! the Kubernetes protobuf bodies typed clients send. Built from
//! `model` alone; no I/O, no HTTP types (the handlers in `http` serve what these build).

pub mod openapi;
pub mod printers;
pub mod protobuf;
