//! Why a request was refused, worded for the person who set the webhook up, with its HTTP status.

use berth_model::webhook::Provider;

/// Why a request was refused. The messages are lowercase and say what to change; none echoes
/// more than 80 characters of the request.
///
/// Every authentication problem, including a signature that is not even well-formed, answers
/// 401: a sender cannot tell a malformed signature from a wrong one by the status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The signature header is absent.
    #[error(
        "missing {header} header (set the webhook's secret on {})",
        host_of(header)
    )]
    MissingSignature { header: &'static str },
    /// The signature header is there but not `sha256=<64 hex digits>` (GitHub) or
    /// `<64 hex digits>` (Gitea).
    #[error("malformed {header} header (expected {})", signature_format(header))]
    MalformedSignature { header: &'static str },
    /// A well-formed signature made with another secret, or over another body.
    #[error("signature does not match the webhook's secret")]
    BadSignature,
    /// The token header is absent.
    #[error("missing {header} header ({})", token_hint(header))]
    MissingToken { header: &'static str },
    /// `Authorization` is there but not `Bearer <secret>`.
    #[error("malformed {header} header (expected `Bearer <secret>`)")]
    MalformedToken { header: &'static str },
    /// The token is not the webhook's secret.
    #[error("token does not match the webhook's secret")]
    BadToken,
    /// The request carries another provider's headers and none of the expected one's.
    #[error(
        "this looks like a {detected} delivery but the hook expects {expected} \
         (set the hook's provider to {detected})"
    )]
    WrongProvider {
        expected: Provider,
        detected: Provider,
    },
    /// The event header is absent (GitHub, GitLab, Gitea).
    #[error(
        "missing {header} header (is this request really from {}?)",
        host_of(header)
    )]
    MissingEvent { header: &'static str },
    /// The body is not the JSON the event needs.
    #[error("malformed body: {reason}")]
    MalformedBody { reason: String },
    /// The body is clearly not JSON (XML, HTML, multipart …).
    #[error("unsupported content type `{content_type}` (send application/json)")]
    UnsupportedContentType { content_type: String },
}

impl Rejection {
    /// The HTTP status to answer with: 401 for authentication problems, 415 for a content
    /// type that is not JSON, 400 for anything else that is malformed.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::MissingSignature { .. }
            | Rejection::MalformedSignature { .. }
            | Rejection::BadSignature
            | Rejection::MissingToken { .. }
            | Rejection::MalformedToken { .. }
            | Rejection::BadToken
            | Rejection::WrongProvider { .. } => 401,
            Rejection::UnsupportedContentType { .. } => 415,
            Rejection::MissingEvent { .. } | Rejection::MalformedBody { .. } => 400,
        }
    }

    pub(crate) fn body(reason: impl Into<String>) -> Self {
        Rejection::MalformedBody {
            reason: reason.into(),
        }
    }
}

fn host_of(header: &str) -> &'static str {
    let header = header.to_ascii_lowercase();
    if header.contains("gitea") {
        "gitea"
    } else if header.contains("forgejo") {
        "forgejo"
    } else if header.contains("gitlab") {
        "gitlab"
    } else if header.contains("github") || header.contains("hub-signature") {
        "github"
    } else {
        "the git host"
    }
}

fn signature_format(header: &str) -> &'static str {
    if header.eq_ignore_ascii_case(crate::verify::GITHUB_SIGNATURE) {
        "`sha256=` and 64 hex digits"
    } else {
        "64 hex digits"
    }
}

fn token_hint(header: &str) -> &'static str {
    if header.eq_ignore_ascii_case("Authorization") {
        "send `Authorization: Bearer <secret>`"
    } else {
        "set the webhook's secret token on gitlab"
    }
}
