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
    /// `completion/complete` for arguments of the named prompt.
    CompletePrompt(Arc<str>),
    /// `completion/complete` for variables of the resource template URI.
    CompleteResource(Arc<str>),
    /// `logging/setLevel`.
    SetLogLevel,
    /// `GET /metrics`.
    ReadMetrics,
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
            Self::CompletePrompt(name) => format!("prompts:get:{}", sanitize(name)),
            Self::CompleteResource(_) => "resources:read".to_owned(),
            Self::SetLogLevel => "admin:logging".to_owned(),
            Self::ReadMetrics => "admin:metrics".to_owned(),
        };
        // `sanitize` keeps only characters a permission segment allows.
        Permission::from_trusted(text)
    }

    /// The tool name, resource URI or prompt name the action targets, if any.
    pub fn target(&self) -> Option<&Arc<str>> {
        match self {
            Self::CallTool(t)
            | Self::ReadResource(t)
            | Self::SubscribeResource(t)
            | Self::GetPrompt(t)
            | Self::CompletePrompt(t)
            | Self::CompleteResource(t) => Some(t),
            _ => None,
        }
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
            Self::CompletePrompt(_) | Self::CompleteResource(_) => "completion/complete",
            Self::SetLogLevel => "logging/setLevel",
            Self::ReadMetrics => "metrics",
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
    audit: bool,
}

impl Permit {
    /// Issued by an [`crate::traits::Authorizer`] for `action`.
    pub fn new(action: Action) -> Self {
        Self { action, audit: false }
    }

    /// Mark the permit as coming from a rule that audits every use (`audit_log = true`).
    #[must_use]
    pub fn audited(mut self) -> Self {
        self.audit = true;
        self
    }

    /// True when the deciding rule asks for every use to be audited.
    pub fn audit(&self) -> bool {
        self.audit
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
    /// Denied; nothing in here is sent to the client except, for a scope denial, the scopes.
    Deny(Denial),
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow(_))
    }
}

/// Why an action was denied.
#[derive(Clone, Debug)]
pub struct Denial {
    /// Static text for logs and audit.
    pub reason: &'static str,
    /// The permission that would have allowed it.
    pub required: Permission,
    /// The rule that decided (`tool:restart_server`, `default:tools:execute`, ...).
    pub rule: Arc<str>,
    /// Non-empty when the denial is about OAuth scopes: every scope the operation needs, for the
    /// `insufficient_scope` challenge. Empty for a role / permission (RBAC) denial.
    pub scopes: Arc<[Arc<str>]>,
    /// The deciding rule asks for every use to be audited.
    pub audit: bool,
}

impl Denial {
    /// True when a token with more scopes would be allowed (answer 403 `insufficient_scope`).
    pub fn is_scope_denial(&self) -> bool {
        !self.scopes.is_empty()
    }
}
