//! What is being measured: `mcp-server` with one credential kind per variant, and the bare
//! hyper ceiling.

use super::jwt::Alg;

/// A server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `mcp-server serve` with its embedded default configuration; an API key (`x-api-key`).
    Ours,
    /// The default configuration with the protection stages off (authorization, rate limits,
    /// audit log, prompt guard, monitoring): the foundation's `tools/call` path, still
    /// authenticated with an API key.
    OursPlain,
    /// [`Target::OursPlain`] without authentication either (`[danger] allow_unauthenticated`):
    /// no security layer at all, the foundation's `tools/call` path as issue 2 words its target.
    /// Host / Origin checks, security headers and limits stay: they are the foundation's own.
    OursOpen,
    /// The default configuration plus `[auth.jwt]` (HS256); `Authorization: Bearer <JWT>`.
    OursJwtHs256,
    /// The default configuration plus `[auth.jwt]` (ES256); `Authorization: Bearer <JWT>`.
    OursJwtEs256,
    /// `examples/bare_hyper`: hyper + a JSON-RPC parse, no security.
    Bare,
}

impl Target {
    /// Every target, in table order.
    pub const ALL: [Self; 6] =
        [Self::Ours, Self::OursPlain, Self::OursOpen, Self::OursJwtHs256, Self::OursJwtEs256, Self::Bare];

    /// The name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::OursPlain => "ours-plain",
            Self::OursOpen => "ours-open",
            Self::OursJwtHs256 => "ours-jwt-hs256",
            Self::OursJwtEs256 => "ours-jwt-es256",
            Self::Bare => "bare",
        }
    }

    /// The target called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// `mcp-server` (any variant), as opposed to the bare ceiling.
    pub fn is_ours(self) -> bool {
        self != Self::Bare
    }

    /// The JWT algorithm of a JWT variant.
    pub fn jwt(self) -> Option<Alg> {
        match self {
            Self::OursJwtHs256 => Some(Alg::Hs256),
            Self::OursJwtEs256 => Some(Alg::Es256),
            Self::Ours | Self::OursPlain | Self::OursOpen | Self::Bare => None,
        }
    }
}

/// Parse `--variants`: comma-separated names, each once; returned in table order.
pub fn parse_list(list: &str) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim) {
        let t = Target::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
            format!("--variants: unknown variant {name:?} (known: {})", known.join(", "))
        })?;
        if out.contains(&t) {
            return Err(format!("--variants: {name} is listed twice"));
        }
        out.push(t);
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Target::ALL {
            assert_eq!(Target::parse(t.name()), Some(t));
        }
        assert_eq!(Target::parse("ours-jwt"), None);
        assert_eq!(Target::OursJwtEs256.jwt(), Some(Alg::Es256));
        assert!(!Target::Bare.is_ours() && Target::OursJwtHs256.is_ours());
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("bare, ours-jwt-es256,ours"), Ok(vec![Target::Ours, Target::OursJwtEs256, Target::Bare]));
        assert_eq!(parse_list("ours-open,ours-plain"), Ok(vec![Target::OursPlain, Target::OursOpen]));
        assert!(parse_list("ours,ours").is_err_and(|e| e.contains("twice")));
        assert!(parse_list("ours,jwt").is_err_and(|e| e.contains("unknown variant \"jwt\"")));
        assert!(parse_list("").is_err());
    }
}
