//! Errors of the cluster side. Each names the object and the API's reason.

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No usable kubeconfig / in-cluster configuration.
    #[error("cluster configuration: {0}")]
    Config(String),
    /// The render failed: nothing was applied or pruned.
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    /// A kind the server does not serve (e.g. a CRD not installed), found before applying.
    #[error(
        "{kind} (apiVersion {api_version}) of {object} is not served by the cluster (is its CustomResourceDefinition installed?); nothing was applied"
    )]
    KindNotServed {
        api_version: String,
        kind: String,
        object: String,
    },
    /// An object of the render is not valid as such (no name, no kind).
    #[error("invalid object {object}: {message}")]
    InvalidObject { object: String, message: String },
    /// Where the inventory lives cannot be decided.
    #[error("inventory: {0}")]
    Inventory(String),
    /// A safety guard refused the operation; nothing was changed.
    #[error("refused: {0}")]
    Refused(String),
    /// Another field manager owns fields this apply sets (409 Conflict).
    #[error(
        "{object}: conflict with field manager(s) {managers} on {fields} (the API's message: {message}); re-run with --force-conflicts to take them over"
    )]
    Conflict {
        object: String,
        managers: String,
        fields: String,
        message: String,
    },
    /// An API call failed after the retries the policy allows.
    #[error("{context}: {reason}")]
    Api { context: String, reason: String },
}

impl ClusterError {
    pub(crate) fn api(context: impl Into<String>, err: &kube::Error) -> ClusterError {
        ClusterError::Api {
            context: context.into(),
            reason: describe(err),
        }
    }
}

/// The API's reason and message for an error response, or the transport error.
pub fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(s) => {
            let reason = if s.reason.is_empty() {
                "error".to_string()
            } else {
                s.reason.clone()
            };
            format!("{} {reason}: {}", s.code, s.message.trim())
        }
        other => other.to_string(),
    }
}

/// HTTP status of an API error response (0 for transport errors). kube-rs' `is_not_found()`
/// tests only the Status reason; an API server answers an unserved path with a plain-text
/// `404 page not found`, so the code is what to test.
pub fn code(err: &kube::Error) -> u16 {
    match err {
        kube::Error::Api(s) => s.code,
        _ => 0,
    }
}
