//! Network isolation (being written): `network/cni`.

pub mod cni;
