//! Reading the containers' checkpoints from any process: one container's state and config, whether an id is
//! taken, and every container.

use super::checkpoint::read_json;
use super::error::{ContainerError, Result};
use super::paths::Paths;
use super::state::ContainerState;
use crate::spec::ContainerConfig;

pub fn load(paths: &Paths, id: &str) -> Result<ContainerState> {
    if !well_formed(id) {
        return Err(ContainerError::NotFound(id.to_string()));
    }
    read_json(&paths.state_file(id))?.ok_or_else(|| ContainerError::NotFound(id.to_string()))
}

/// The config a container was launched with (as `update` last changed it); None if it has none recorded.
pub fn config(paths: &Paths, id: &str) -> Result<Option<ContainerConfig>> {
    read_json(&paths.config_file(id))
}

pub fn exists(paths: &Paths, id: &str) -> bool {
    well_formed(id) && paths.runtime(id).is_dir()
}

/// An id that names a place under the containers dir: a top-level id or a nested one (`pod/web`), no segment
/// empty, `.` or `..`, so a name from a request can never reach outside.
pub fn well_formed(id: &str) -> bool {
    id.split('/')
        .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\0'))
}

/// Every top-level container with a readable checkpoint, oldest first.
pub fn list(paths: &Paths) -> Result<Vec<ContainerState>> {
    list_in(&paths.containers(), paths, "")
}

/// The nested containers of `id` (one level), oldest first.
pub fn children(paths: &Paths, id: &str) -> Result<Vec<ContainerState>> {
    list_in(&paths.children(id), paths, &format!("{id}/"))
}

/// Every container, each nested one right after its parent (depth first), with its depth.
pub fn tree(paths: &Paths) -> Result<Vec<(usize, ContainerState)>> {
    fn walk(
        paths: &Paths,
        st: ContainerState,
        depth: usize,
        out: &mut Vec<(usize, ContainerState)>,
    ) {
        let kids = children(paths, &st.id).unwrap_or_default();
        out.push((depth, st));
        for k in kids {
            walk(paths, k, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    for st in list(paths)? {
        walk(paths, st, 0, &mut out);
    }
    Ok(out)
}

fn list_in(dir: &std::path::Path, paths: &Paths, prefix: &str) -> Result<Vec<ContainerState>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ContainerError::io(dir, e)),
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let id = format!("{prefix}{}", e.file_name().to_string_lossy());
        if let Ok(Some(st)) = read_json::<ContainerState>(&paths.state_file(&id)) {
            out.push(st);
        }
    }
    out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(out)
}

/// The id a user means by `name`: itself when a container has it; else Mesos's string form of a nested id,
/// `<root>.<child>[.<grandchild>]` (child ids hold no `.`, a root's may), read as `root/child/...`.
pub fn resolve(paths: &Paths, name: &str) -> String {
    if exists(paths, name) {
        return name.to_string();
    }
    let dots: Vec<usize> = name.match_indices('.').map(|(i, _)| i).collect();
    for &at in &dots {
        let (root, rest) = (&name[..at], &name[at + 1..]);
        let id = format!("{root}/{}", rest.replace('.', "/"));
        if exists(paths, &id) {
            return id;
        }
    }
    name.to_string()
}
