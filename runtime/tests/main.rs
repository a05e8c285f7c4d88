//! The runtime library's integration tests, one binary (ripgrep's layout): each module is a suite.

mod containerizer;
mod fetcher;
mod health_checks;
mod provisioner;
mod requests;
