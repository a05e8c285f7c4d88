//! Process set-up: from a container's config, its image's run config and its root filesystem to the exact
//! process the launcher starts — argv by the Mesos or Docker command rules (`command`), the environment and
//! working directory (`env`), the uid/gids from the image's or the host's passwd and group files (`user`);
//! `resolve` puts them together. Once the container's mounts are known and its URIs fetched, `lookup` finds the
//! program where the task will see it, in the root filesystem and the mounts over it (`view`). Request parsing
//! is `spec`'s; nothing here reads a request, and nothing here that reads the rootfs follows a symlink out of
//! the container. After the start, `tree` finds and signals an exec'd session's processes from the host;
//! `stat` reads a process's `/proc/<pid>/stat` for every caller; `top` lists what a container's processes
//! are doing.

pub mod command;
pub mod env;
pub mod error;
pub mod lookup;
pub mod resolve;
pub mod stat;
pub mod top;
pub mod tree;
pub mod user;
pub mod view;

pub use command::{resolve_argv, resolve_command, ResolvedCommand};
pub use env::{build_env, working_dir, DEFAULT_PATH};
pub use error::ProcessError;
pub use lookup::{lookup, LookupError};
pub use resolve::{find_program, resolve_process, Process, ResolvedProcess};
pub use user::{resolve_user, ResolvedUser};
pub use view::View;
