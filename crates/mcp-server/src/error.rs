//! The crate's error enum and the one table from JSON-RPC error code to HTTP status.

use http::StatusCode;
use mcp_core::ErrorKind;
use mcp_protocol::{Era, codes};

/// Errors that stop the server from starting or running. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A tool, resource or prompt was registered wrongly.
    #[error("registration error: {0}")]
    Registration(String),
    /// The configuration is invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// The transport failed.
    #[error(transparent)]
    Transport(#[from] mcp_transport::TransportError),
}

impl ServerError {
    /// The shared error kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Registration(_) | Self::Config(_) => ErrorKind::InvalidRequest,
            Self::Transport(_) => ErrorKind::Unavailable,
        }
    }
}

/// The HTTP status that carries a JSON-RPC error with `code` on the given era.
///
/// Legacy sessions answer request-level errors with 200 so the session survives (clients of the
/// 2025 revisions treat a 4xx on a request as a dead transport); the stateless era uses the
/// statuses its specification prescribes.
///
/// ```
/// use mcp_server::http_status_for;
/// use mcp_protocol::{codes, Era};
/// assert_eq!(http_status_for(codes::METHOD_NOT_FOUND, Era::Modern).as_u16(), 404);
/// assert_eq!(http_status_for(codes::METHOD_NOT_FOUND, Era::Legacy).as_u16(), 200);
/// ```
pub fn http_status_for(code: i64, era: Era) -> StatusCode {
    match (era, code) {
        (_, codes::PARSE_ERROR) => StatusCode::BAD_REQUEST,
        (_, codes::CAPACITY_EXCEEDED | codes::AUDIT_UNAVAILABLE) => StatusCode::SERVICE_UNAVAILABLE,
        // The step-up challenge must reach the client's OAuth layer whatever the era.
        (_, codes::INSUFFICIENT_SCOPE) => StatusCode::FORBIDDEN,
        (Era::Legacy, _) => StatusCode::OK,
        (Era::Modern, codes::RATE_LIMITED) => StatusCode::TOO_MANY_REQUESTS,
        (Era::Modern, codes::METHOD_NOT_FOUND) => StatusCode::NOT_FOUND,
        (
            Era::Modern,
            codes::INVALID_REQUEST
            | codes::INVALID_PARAMS
            | codes::HEADER_MISMATCH
            | codes::MISSING_CLIENT_CAPABILITY
            | codes::UNSUPPORTED_PROTOCOL_VERSION,
        ) => StatusCode::BAD_REQUEST,
        (Era::Modern, codes::SECURITY_REJECTED) => StatusCode::FORBIDDEN,
        (Era::Modern, codes::INTERNAL_ERROR) => StatusCode::INTERNAL_SERVER_ERROR,
        (Era::Modern, _) => StatusCode::OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, so a change to it is a visible diff.
    #[test]
    fn wire_table_snapshot() {
        let all = [
            codes::PARSE_ERROR,
            codes::INVALID_REQUEST,
            codes::METHOD_NOT_FOUND,
            codes::INVALID_PARAMS,
            codes::INTERNAL_ERROR,
            codes::RESOURCE_NOT_FOUND,
            codes::HEADER_MISMATCH,
            codes::MISSING_CLIENT_CAPABILITY,
            codes::UNSUPPORTED_PROTOCOL_VERSION,
            codes::SECURITY_REJECTED,
            codes::REQUEST_TIMEOUT,
            codes::CAPACITY_EXCEEDED,
            codes::SESSION_NOT_FOUND,
            codes::REQUEST_CANCELLED,
            codes::INSUFFICIENT_SCOPE,
            codes::RATE_LIMITED,
            codes::AUDIT_UNAVAILABLE,
        ];
        let table: Vec<String> = all
            .iter()
            .map(|&c| {
                format!(
                    "{c}: legacy {} modern {}",
                    http_status_for(c, Era::Legacy).as_u16(),
                    http_status_for(c, Era::Modern).as_u16()
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                "-32700: legacy 400 modern 400",
                "-32600: legacy 200 modern 400",
                "-32601: legacy 200 modern 404",
                "-32602: legacy 200 modern 400",
                "-32603: legacy 200 modern 500",
                "-32002: legacy 200 modern 200",
                "-32020: legacy 200 modern 400",
                "-32021: legacy 200 modern 400",
                "-32022: legacy 200 modern 400",
                "-32050: legacy 200 modern 403",
                "-32051: legacy 200 modern 200",
                "-32052: legacy 503 modern 503",
                "-32053: legacy 200 modern 200",
                "-32054: legacy 200 modern 200",
                "-32055: legacy 403 modern 403",
                "-32056: legacy 200 modern 429",
                "-32057: legacy 503 modern 503",
            ]
        );
    }
}
