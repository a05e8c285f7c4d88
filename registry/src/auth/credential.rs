//! `Credential`: what we may present to a registry. Secrets are `Secret`s: they never print.

use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: Secret,
    },
    /// Docker's `identitytoken`: an OAuth2 refresh token exchanged at the token realm.
    IdentityToken(Secret),
    /// `registrytoken`: a bearer token to send as is.
    RegistryToken(Secret),
}

impl Credential {
    /// `USER:PASS` as given to `--creds` (the password may contain `:`).
    pub fn parse_user_pass(s: &str) -> Result<Credential> {
        match s.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credential::Basic {
                username: u.to_string(),
                password: Secret::new(p),
            }),
            _ => Err(Error::Credentials {
                source_name: "--creds".into(),
                why: "expected USER:PASS".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_flag() {
        let c = Credential::parse_user_pass("bob:pa:ss").expect("ok");
        assert_eq!(
            c,
            Credential::Basic {
                username: "bob".into(),
                password: Secret::new("pa:ss")
            }
        );
        assert!(Credential::parse_user_pass("nopass").is_err());
        assert!(Credential::parse_user_pass(":x").is_err());
        assert!(!format!("{c:?}").contains("pa:ss"));
    }
}
