//! Method classes: which requests a limit with `applies_to` counts.

/// The class of a JSON-RPC method, for `applies_to` and `scope = "method_class"`.
///
/// `tools` is tool invocations only (`tools/call`); listing tools is cheap metadata like
/// `initialize` or `ping` and falls in `other`.
///
/// ```
/// use mcp_ratelimit::MethodClass;
/// assert_eq!(MethodClass::of("tools/call"), MethodClass::Tools);
/// assert_eq!(MethodClass::of("tools/list"), MethodClass::Other);
/// assert_eq!(MethodClass::of("resources/read"), MethodClass::Resources);
/// assert_eq!(MethodClass::of("prompts/get"), MethodClass::Prompts);
/// assert_eq!(MethodClass::of("ping"), MethodClass::Other);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodClass {
    /// `tools/call`.
    Tools,
    /// `resources/*` (read, list, templates, subscribe, unsubscribe).
    Resources,
    /// `prompts/*` (get, list).
    Prompts,
    /// Everything else (`initialize`, `ping`, `tools/list`, `completion/complete`, ...).
    Other,
}

impl MethodClass {
    /// Classify a method name.
    pub fn of(method: &str) -> Self {
        if method == "tools/call" {
            Self::Tools
        } else if method.starts_with("resources/") {
            Self::Resources
        } else if method.starts_with("prompts/") {
            Self::Prompts
        } else {
            Self::Other
        }
    }

    /// The config spelling (`tools`, `resources`, `prompts`, `other`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tools => "tools",
            Self::Resources => "resources",
            Self::Prompts => "prompts",
            Self::Other => "other",
        }
    }
}
