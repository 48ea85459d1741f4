//! The decision: resolve the principal once into a [`Subject`] (role and scope bitsets), find the
//! deciding rule, check it. The allow path allocates nothing for names that are valid permission
//! segments; denials (the cold path) build their [`Denial`].

use mcp_core::{Action, AuthMethod, Decision, Denial, Permit, Principal};

use crate::bits::Mask;
use crate::grants::{grants_segments, sanitized};
use crate::index::Rule;
use crate::policy::Policy;
use crate::rule::TargetKind;

/// Permissions without a target name, precompiled into [`Policy`] grantor masks.
pub(crate) const FIXED: [&str; 7] = [
    "tools:list",
    "resources:list",
    "resources:read",
    "resources:subscribe",
    "prompts:list",
    "admin:logging",
    "admin:metrics",
];
const TOOLS_LIST: usize = 0;
const RESOURCES_LIST: usize = 1;
const RESOURCES_READ: usize = 2;
const RESOURCES_SUBSCRIBE: usize = 3;
const PROMPTS_LIST: usize = 4;
const ADMIN_LOGGING: usize = 5;
const ADMIN_METRICS: usize = 6;

/// What an action targets, borrowed from it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    /// No target; the permission is `FIXED[i]`.
    Fixed(usize),
    /// A tool name (default `tools:execute:<name>`).
    Tool(&'a str),
    /// A resource URI (default `FIXED[i]`).
    Resource(usize, &'a str),
    /// A prompt name (default `prompts:get:<name>`).
    Prompt(&'a str),
    /// An action this crate does not know: denied.
    Unknown,
}

impl<'a> Target<'a> {
    pub(crate) fn of(action: &'a Action) -> Self {
        match action {
            Action::ListTools => Self::Fixed(TOOLS_LIST),
            Action::CallTool(n) => Self::Tool(n),
            Action::ListResources => Self::Fixed(RESOURCES_LIST),
            Action::ReadResource(u) | Action::CompleteResource(u) => Self::Resource(RESOURCES_READ, u),
            Action::SubscribeResource(u) => Self::Resource(RESOURCES_SUBSCRIBE, u),
            Action::ListPrompts => Self::Fixed(PROMPTS_LIST),
            Action::GetPrompt(n) | Action::CompletePrompt(n) => Self::Prompt(n),
            Action::SetLogLevel => Self::Fixed(ADMIN_LOGGING),
            Action::ReadMetrics => Self::Fixed(ADMIN_METRICS),
            _ => Self::Unknown,
        }
    }

    pub(crate) fn rule_key(self) -> Option<(TargetKind, &'a str)> {
        match self {
            Self::Tool(n) => Some((TargetKind::Tool, n)),
            Self::Resource(_, u) => Some((TargetKind::Resource, u)),
            Self::Prompt(n) => Some((TargetKind::Prompt, n)),
            Self::Fixed(_) | Self::Unknown => None,
        }
    }
}

/// The outcome before it becomes a [`Decision`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    /// Index of the deciding rule; `None` for the default permission.
    pub(crate) rule: Option<usize>,
    pub(crate) reason: &'static str,
}

/// A principal resolved against one policy: its effective roles (assigned or default, plus every
/// inherited role) and its configured scopes, as bitsets. Cheap to build, `Copy`-sized.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    policy: &'a Policy,
    principal: &'a Principal,
    mask: Mask,
}

impl Policy {
    /// Resolve `principal` once, to check many actions (list filtering).
    pub fn subject<'a>(&'a self, principal: &'a Principal) -> Subject<'a> {
        let mut mask = Mask::default();
        for role in &principal.roles {
            if let Some(i) = self.roles.get(role) {
                mask.roles.union_with(&self.roles.roles[i].closure);
            }
        }
        if let Some(d) = self.default_role_for(principal) {
            mask.roles.union_with(&self.roles.roles[d].closure);
        }
        for scope in &principal.scopes {
            if let Some(i) = self.scopes.get(scope) {
                mask.scopes.set(i);
            }
        }
        Subject { policy: self, principal, mask }
    }

    /// The default role, when it applies: an authenticated principal with no role at all that
    /// did not come with an OAuth token (a token's scopes are its grant, so a token without the
    /// right scope is asked to step up instead of riding on the default role).
    pub(crate) fn default_role_for(&self, principal: &Principal) -> Option<usize> {
        self.default_role.filter(|_| {
            principal.roles.is_empty() && !principal.is_anonymous() && principal.method != AuthMethod::OAuth
        })
    }
}

impl<'a> Subject<'a> {
    /// The decision for `action`.
    pub fn decide(&self, action: Action) -> Decision {
        let v = self.verdict(Target::of(&action));
        let audit = v.rule.is_some_and(|i| self.policy.rules.rules[i].audit);
        if v.allowed {
            let permit = Permit::new(action);
            return Decision::Allow(if audit { permit.audited() } else { permit });
        }
        Decision::Deny(self.denial(&action, v, audit))
    }

    /// True when `action` is allowed.
    pub fn allows(&self, action: &Action) -> bool {
        self.verdict(Target::of(action)).allowed
    }

    /// True when calling the tool `name` is allowed.
    pub fn allows_tool(&self, name: &str) -> bool {
        self.verdict(Target::Tool(name)).allowed
    }

    /// True when reading the resource `uri` is allowed.
    pub fn allows_resource(&self, uri: &str) -> bool {
        self.verdict(Target::Resource(RESOURCES_READ, uri)).allowed
    }

    /// True when getting the prompt `name` is allowed.
    pub fn allows_prompt(&self, name: &str) -> bool {
        self.verdict(Target::Prompt(name)).allowed
    }

    pub(crate) fn verdict(&self, target: Target<'_>) -> Verdict {
        let policy = self.policy;
        let rule = target.rule_key().and_then(|(kind, key)| policy.rules.find(kind, key));
        if !policy.enabled {
            return Verdict { allowed: true, rule, reason: "authorization disabled" };
        }
        let Some(i) = rule else {
            return Verdict { allowed: self.default_granted(target, None), rule, reason: "missing permission" };
        };
        let r: &Rule = &policy.rules.rules[i];
        let (allowed, reason) = if r.public {
            (!self.principal.is_anonymous(), "public rule: caller is anonymous")
        } else if r.roles.intersects(&self.mask.roles) {
            (true, "")
        } else if let Some(p) = &r.permission {
            let reason = if r.roles.is_empty() { "missing permission" } else { "missing role or permission" };
            (self.granted(r.grantors.as_ref(), p.as_str().split(':')), reason)
        } else if r.roles.is_empty() {
            (self.default_granted(target, r.grantors.as_ref()), "missing permission")
        } else {
            (false, "missing role")
        };
        Verdict { allowed, rule, reason }
    }

    /// The action's default permission; `grantors` when the rule precomputed them.
    fn default_granted(&self, target: Target<'_>, grantors: Option<&Mask>) -> bool {
        match target {
            Target::Fixed(i) | Target::Resource(i, _) => {
                self.granted(self.policy.fixed.get(i), FIXED.get(i).copied().unwrap_or("").split(':'))
            }
            Target::Tool(name) => {
                let grantors = grantors.or_else(|| self.policy.defaults.named(target).map(|d| &d.grantors));
                self.granted(grantors, ["tools", "execute", &sanitized(name)].into_iter())
            }
            Target::Prompt(name) => {
                let grantors = grantors.or_else(|| self.policy.defaults.named(target).map(|d| &d.grantors));
                self.granted(grantors, ["prompts", "get", &sanitized(name)].into_iter())
            }
            Target::Unknown => false,
        }
    }

    /// Granted by a role or scope (`grantors` when known, else a trie walk), or by a direct
    /// permission of the principal.
    #[inline]
    fn granted<'s>(&self, grantors: Option<&Mask>, wanted: impl Iterator<Item = &'s str> + Clone) -> bool {
        let by_holders = match grantors {
            Some(g) => g.intersects(&self.mask),
            None => self.policy.trie.grants(wanted.clone(), &self.mask),
        };
        by_holders || self.principal.permissions.iter().any(|p| grants_segments(p, wanted.clone()))
    }

    #[cold]
    fn denial(&self, action: &Action, v: Verdict, audit: bool) -> Denial {
        let rule = v.rule.map(|i| &self.policy.rules.rules[i]);
        // Known targets have their default permission and rule id precompiled: no allocation.
        let (required, default_rule) = match rule.and_then(|r| r.permission.clone()) {
            Some(p) => (p, None),
            None => match self.policy.defaults.required(Target::of(action)) {
                Some((p, id)) => (p, Some(id)),
                None => (action.required_permission(), None),
            },
        };
        let permission_could_admit = rule.is_none_or(|r| r.permission.is_some() || r.uses_default_permission());
        let scopes = if self.principal.method == AuthMethod::OAuth && permission_could_admit {
            self.policy.scopes.step_up(&self.principal.scopes, &required)
        } else {
            self.policy.scopes.none.clone()
        };
        let rule_id = match rule {
            Some(r) => r.id.clone(),
            None => default_rule.unwrap_or_else(|| format!("default:{required}").into()),
        };
        let reason = if scopes.is_empty() { v.reason } else { "insufficient scope" };
        Denial { reason, required, rule: rule_id, scopes, audit }
    }
}
