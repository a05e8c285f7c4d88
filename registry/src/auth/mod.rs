//! Credentials and registry authentication.
//!
//! - `Credential`: what we may present to a registry (Basic user/password, a Docker identity token used as an
//!   OAuth2 refresh token, or a ready registry token). Secrets are `Secret`s: they never print.
//! - `Credentials`: where credentials come from, in order: `--creds` for the image's registry, a Mesos
//!   per-image `config` secret, then a Docker `config.json` / legacy `.dockercfg` (with `credHelpers` and
//!   `credsStore`, run as `docker-credential-<name> get` like docker does).
//! - `challenge`: `WWW-Authenticate` parsing; `session`: the per-registry token flow and token cache.
//!
//! Files: `credential` ([`Credential`]), `sources` ([`Credentials`]), `dockercfg` (Docker config files),
//! `helper` (credential helpers), `challenge`, `session`.

pub mod challenge;
mod credential;
pub mod dockercfg;
pub mod helper;
pub mod session;
mod sources;

pub use credential::Credential;
pub use sources::Credentials;
