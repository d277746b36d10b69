//! Names shared by the server, its workers and its clients: the log's own API group, the
//! header and annotations kubetrail defines, the actors it writes as (`actors`) and the labels
//! on the containers it runs (`containers`). Imports nothing else from the crate, so every
//! layer may use it.

pub mod actors;
pub mod containers;

/// The API group of the log's own resources (`logentries`, `history`, `why`).
pub const GROUP: &str = "kubetrail.dev";
/// The one version of [`GROUP`].
pub const VERSION: &str = "v1alpha1";
/// [`GROUP`]/[`VERSION`], as `apiVersion` carries it.
pub const GROUP_VERSION: &str = "kubetrail.dev/v1alpha1";

/// The header a remote worker sends with a write: the seq of the event that made it act, which
/// the server records as the event's `caused_by`.
pub const CAUSED_BY_HEADER: &str = "kubetrail-caused-by";

/// The header a remote worker sends with a write to name every cause with what about it
/// mattered: a JSON array of `{"resourceVersion", "reason"}`, the first the one
/// [`CAUSED_BY_HEADER`] names.
pub const CAUSES_HEADER: &str = "kubetrail-causes";
/// The most causes one request records.
pub const MAX_CAUSES: usize = 16;
/// The longest reason one cause records, in bytes.
pub const MAX_CAUSE_REASON: usize = 512;

/// Annotation that marks a node as simulated.
pub const SIMULATED_ANNOTATION: &str = "kubetrail.dev/simulated";
/// Annotation that pauses a simulated node: it stops heartbeating and acting, like a dead node.
pub const PAUSED_ANNOTATION: &str = "kubetrail.dev/paused";
