use std::sync::Arc;

use crate::principal::Permission;

/// What a request wants to do, as authorization sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// `tools/list`.
    ListTools,
    /// `tools/call` of the named tool.
    CallTool(Arc<str>),
    /// `resources/list` and `resources/templates/list`.
    ListResources,
    /// `resources/read` of the URI.
    ReadResource(Arc<str>),
    /// `resources/subscribe` of the URI.
    SubscribeResource(Arc<str>),
    /// `prompts/list`.
    ListPrompts,
    /// `prompts/get` of the named prompt.
    GetPrompt(Arc<str>),
    /// `completion/complete`.
    Complete,
    /// `logging/setLevel`.
    SetLogLevel,
}

impl Action {
    /// Shorthand for [`Action::CallTool`].
    pub fn call_tool(name: &str) -> Self {
        Self::CallTool(name.into())
    }

    /// The permission that grants this action when no explicit rule says otherwise.
    pub fn required_permission(&self) -> Permission {
        let text = match self {
            Self::ListTools => "tools:list".to_owned(),
            Self::CallTool(name) => format!("tools:execute:{}", sanitize(name)),
            Self::ListResources => "resources:list".to_owned(),
            Self::ReadResource(_) => "resources:read".to_owned(),
            Self::SubscribeResource(_) => "resources:subscribe".to_owned(),
            Self::ListPrompts => "prompts:list".to_owned(),
            Self::GetPrompt(name) => format!("prompts:get:{}", sanitize(name)),
            Self::Complete => "completion:complete".to_owned(),
            Self::SetLogLevel => "logging:set_level".to_owned(),
        };
        // `sanitize` keeps only characters a permission segment allows.
        Permission::from_trusted(text)
    }

    /// Stable name for logs and audit.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ListTools => "tools/list",
            Self::CallTool(_) => "tools/call",
            Self::ListResources => "resources/list",
            Self::ReadResource(_) => "resources/read",
            Self::SubscribeResource(_) => "resources/subscribe",
            Self::ListPrompts => "prompts/list",
            Self::GetPrompt(_) => "prompts/get",
            Self::Complete => "completion/complete",
            Self::SetLogLevel => "logging/setLevel",
        }
    }
}

fn sanitize(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).take(200).collect();
    if s.is_empty() { "_".to_owned() } else { s }
}

/// Proof that authorization allowed an action. Handlers that need it take it by value, so a call
/// cannot reach a handler without passing the authorizer.
#[derive(Debug)]
pub struct Permit {
    action: Action,
}

impl Permit {
    /// Issued by an [`crate::traits::Authorizer`] for `action`.
    pub fn new(action: Action) -> Self {
        Self { action }
    }

    /// The action this permit covers.
    pub fn action(&self) -> &Action {
        &self.action
    }
}

/// The outcome of an authorization check. Deny is the default.
#[derive(Debug)]
pub enum Decision {
    /// Allowed, with the permit to present.
    Allow(Permit),
    /// Denied; `reason` is static text for logs and audit (never sent to the client).
    Deny {
        /// Why.
        reason: &'static str,
        /// The permission that would have allowed it.
        required: Permission,
    },
}
