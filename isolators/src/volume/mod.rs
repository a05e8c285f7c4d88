pub mod host_path;
pub mod sandbox_path;
