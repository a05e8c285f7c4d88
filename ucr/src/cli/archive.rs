//! `ucr load` and `ucr save`, and where an image argument comes from when it is not a plain registry pull:
//! a file reference (`docker-archive:PATH`, `oci-archive:PATH[:REF]`, `oci:DIR[:REF]`) or Mesos's
//! `--docker_registry` (a directory of tarballs, or a registry that replaces Docker Hub). `pull`, `run` and
//! `launch` all resolve their image through [`source`], so the three behave the same.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use ucr_registry::archive::{
    self, find_in_registry_dir, remote_registry, with_default_registry, ArchiveError, ArchiveRef,
    LoadOptions, Selector,
};
use ucr_registry::platform::Platform;
use ucr_registry::store::{ImageRecord, Store};
use ucr_registry::ImageRef;

use super::Cli;

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// A `docker save` archive (legacy or manifest.json), an OCI layout tar (gzip/zstd compressed too), or a
    /// directory holding either.
    pub path: PathBuf,
    /// Load the image the archive names REF (or its only image) and record it as REF.
    #[arg(long)]
    pub name: Option<String>,
    /// OS/ARCH[/VARIANT] to pick from multi-platform images (default: this host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the loaded references.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn load(cli: &Cli, a: &LoadArgs) -> anyhow::Result<i32> {
    let store = Store::open(cli.store_dir())?;
    let name = a.name.as_deref().map(ImageRef::parse).transpose()?;
    let opts = LoadOptions {
        platform: platform(a.platform.as_deref())?,
        select: a.name.clone().map(Selector::NameOrOnly),
        name,
        ..LoadOptions::default()
    };
    let records = archive::load(&store, &a.path, &opts)?;
    for r in &records {
        if a.quiet {
            println!("{}", r.reference);
        } else {
            println!("Loaded image: {} ({})", r.reference, r.manifest_digest);
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Images (references or manifest digests, as `ucr images` lists them).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// The tar to write (`-`: standard output).
    #[arg(long, short = 'o', required = true)]
    pub output: PathBuf,
}

pub fn save(cli: &Cli, a: &SaveArgs) -> anyhow::Result<i32> {
    let store = Store::open(cli.store_dir())?;
    let records = archive::save(&store, &a.images, &a.output)?;
    if a.output != Path::new("-") {
        for r in &records {
            eprintln!("Saved image: {} ({})", r.reference, r.manifest_digest);
        }
    }
    Ok(0)
}

pub fn platform(p: Option<&str>) -> ucr_registry::Result<Platform> {
    match p {
        Some(p) => Platform::parse(p),
        None => Ok(Platform::host()),
    }
}

/// Where an image argument comes from.
pub enum Source {
    /// A file to load: a file reference (`image` None: recorded under the names the archive gives), or the
    /// `--docker_registry` file for `image` (recorded under that name).
    File {
        path: PathBuf,
        opts: Box<LoadOptions>,
        image: Option<ImageRef>,
    },
    /// A registry pull of this (normalized, maybe re-homed by a remote `--docker_registry`) reference.
    Registry(ImageRef),
}

/// Resolves the image argument `written`. With a `--docker_registry` directory the image is only looked up
/// there (Mesos), unless `--docker_registry_fallback` allows its registry when the directory has no file.
pub fn source(cli: &Cli, written: &str, platform: &Platform) -> ucr_registry::Result<Source> {
    let base = LoadOptions {
        platform: platform.clone(),
        ..LoadOptions::default()
    };
    if let Some(r) = ArchiveRef::parse(written) {
        let r = r?;
        return Ok(Source::File {
            opts: Box::new(r.load_options(&base)),
            path: r.path,
            image: None,
        });
    }
    let Some(reg) = cli.docker_registry.as_deref() else {
        return Ok(Source::Registry(ImageRef::parse(written)?));
    };
    if let Some(host) = remote_registry(reg) {
        return Ok(Source::Registry(with_default_registry(written, &host)?));
    }
    let dir = Path::new(reg);
    let image = ImageRef::parse(written)?;
    match find_in_registry_dir(dir, written)? {
        (Some(path), _) => Ok(Source::File {
            path,
            opts: Box::new(LoadOptions {
                select: Some(Selector::NameOrOnly(written.to_string())),
                name: Some(image.clone()),
                single: true,
                ..base
            }),
            image: Some(image),
        }),
        (None, _) if cli.docker_registry_fallback => Ok(Source::Registry(image)),
        (None, tried) => Err(ArchiveError::NotInDir {
            image: written.to_string(),
            dir: dir.to_path_buf(),
            tried,
            hint: "; --docker_registry_fallback allows its registry",
        }
        .into()),
    }
}

/// The record of `image` if the store holds all of it.
pub fn complete_record(
    store: &Store,
    image: &ImageRef,
) -> ucr_registry::Result<Option<ImageRecord>> {
    Ok(store.get_image(&image.to_string())?.filter(|r| {
        store.has_blob(&r.config_digest)
            && r.layers
                .iter()
                .all(|l| store.has_layer(&l.diff_id) && store.has_blob(&l.digest))
    }))
}

/// Loads a [`Source::File`] and returns the record of its one image.
pub fn load_file(
    store: &Store,
    path: &Path,
    opts: &LoadOptions,
) -> ucr_registry::Result<ImageRecord> {
    // A single-image load returns one record per name; they are all the same image.
    archive::load(store, path, opts)?
        .into_iter()
        .next()
        .ok_or_else(|| ucr_registry::Error::ImageUnknown(path.display().to_string()))
}

/// `ucr pull` of a file reference or with `--docker_registry`: `Ok(None)` means "pull from this registry".
pub fn pull_local(
    cli: &Cli,
    store: &Store,
    written: &str,
    platform: &Platform,
    offline: bool,
) -> anyhow::Result<Result<ImageRecord, ImageRef>> {
    match source(cli, written, platform).with_context(|| format!("pull {written}"))? {
        Source::Registry(r) => Ok(Err(r)),
        Source::File { path, opts, image } => {
            // Offline: the store first, the file only when the store lacks the image.
            if let (true, Some(image)) = (offline, &image) {
                if let Some(rec) = complete_record(store, image)? {
                    return Ok(Ok(rec));
                }
            }
            Ok(Ok(load_file(store, &path, &opts)?))
        }
    }
}
