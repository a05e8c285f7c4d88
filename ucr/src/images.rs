//! Image commands: pull, images, inspect, rmi, prune, store check, unpack.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use ucr_runtime::images::{Keep, PullRequest, Pulled, Source};
use ucr_runtime::registry::manifest::ImageConfig;
use ucr_runtime::registry::store::{ImageRecord, Store};
use ucr_runtime::registry::{ImageName, ImageRef};
use ucr_runtime::rt;

use crate::appc_images;
use crate::context;
use crate::globals::{Globals, RegistryArgs};
use crate::progress::Progress;

#[derive(Args, Debug)]
pub struct PullArgs {
    pub image: String,
    /// Fetch the manifest again even if the image is present (verified layers are reused).
    #[arg(long)]
    pub force: bool,
    /// Use only the store (and a --docker_registry directory): no registry is contacted.
    #[arg(long, conflicts_with = "force")]
    pub offline: bool,
    /// Print only the manifest digest.
    #[arg(long, short)]
    pub quiet: bool,
    /// One JSON event per line.
    #[arg(long)]
    pub json: bool,
    /// Layers downloaded at once.
    #[arg(long = "max-concurrent-downloads", default_value_t = 3)]
    pub max_concurrent: usize,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn pull(g: &Globals, a: &PullArgs) -> anyhow::Result<i32> {
    let written = &a.image;
    let images =
        context::images(g, Some(&a.registry)).with_context(|| format!("pull {written}"))?;
    let name = ImageName::parse(written).with_context(|| format!("pull {written}"))?;
    // Errors name what was pulled: the normalized (maybe `--docker_registry`-re-homed) reference, or the name
    // of a file source as written.
    let shown = match images
        .locate(&name)
        .with_context(|| format!("pull {written}"))?
    {
        Source::Registry(image) => image.to_string(),
        Source::File { .. } | Source::Appc(_) => written.clone(),
    };
    let req = PullRequest {
        force: a.force,
        offline: a.offline,
        max_concurrent: a.max_concurrent,
    };
    let progress = Progress::new(a.json, a.quiet);
    let pulled =
        rt::block_on(images.pull(&name, &req, &progress))?.with_context(|| format!("pull {shown}"));
    progress.finish();
    match pulled? {
        Pulled::Image(rec) => print_pulled(a, &rec),
        Pulled::Appc(p) => appc_images::print_pulled(&p, a.json),
    }
    Ok(0)
}

fn print_pulled(a: &PullArgs, rec: &ImageRecord) {
    if a.json {
        println!(
            "{}",
            serde_json::json!({"event": "pulled", "reference": rec.reference, "digest": rec.manifest_digest})
        );
    } else {
        println!("{}", rec.manifest_digest);
    }
}

#[derive(Args, Debug)]
pub struct ImagesArgs {
    #[arg(long)]
    pub json: bool,
}

/// The store, opened for a command that only reads or tidies it.
fn store(g: &Globals) -> anyhow::Result<std::sync::Arc<Store>> {
    Ok(context::images(g, None)?.store()?)
}

/// The manifest digests of the images live containers stand on.
/// What live containers use (`Containerizer::images_in_use`), asked by `rmi` and `prune` under the store's
/// lock.
fn in_use(g: &Globals) -> Result<Keep, String> {
    let c = context::existing(g).map_err(|e| e.to_string())?;
    c.images_in_use().map_err(|e| e.to_string())
}

pub fn list(g: &Globals, a: &ImagesArgs) -> anyhow::Result<i32> {
    let service = context::images(g, None)?;
    let store = service.store()?;
    let images = store.list_images()?;
    if a.json {
        for r in &images {
            println!("{}", serde_json::to_string(&image_json(r))?);
        }
        for i in service.appc()?.store().list()? {
            println!("{}", serde_json::to_string(&appc_images::json(&i))?);
        }
        return Ok(0);
    }
    println!(
        "{:<48} {:<16} {:<20} {:>10}  CREATED",
        "REPOSITORY", "TAG", "DIGEST", "SIZE"
    );
    for r in &images {
        let parsed = ImageRef::parse(&r.reference).ok();
        let repo = parsed
            .as_ref()
            .map(|p| p.name())
            .unwrap_or_else(|| r.reference.clone());
        let tag = parsed
            .as_ref()
            .and_then(|p| p.tag().map(str::to_string))
            .unwrap_or_else(|| "<none>".into());
        let digest = r.manifest_digest.to_string();
        println!(
            "{:<48} {:<16} {:<20} {:>10}  {}",
            repo,
            tag,
            &digest[..digest.len().min(19)],
            human_size(r.size()),
            r.created.as_deref().unwrap_or("-")
        );
    }
    for [repo, tag, id, size, created] in appc_images::rows(&service)? {
        let size = human_size(size.parse().unwrap_or(0));
        println!(
            "{:<48} {:<16} {:<20} {:>10}  {created}",
            repo,
            tag,
            &id[..id.len().min(19)],
            size
        );
    }
    Ok(0)
}

fn image_json(r: &ImageRecord) -> serde_json::Value {
    serde_json::json!({
        "reference": r.reference, "digest": r.manifest_digest, "config": r.config_digest,
        "size": r.size(), "created": r.created, "platform": r.platform, "pulled_at": r.pulled_at,
    })
}

fn human_size(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b}B")
    } else {
        format!("{v:.1}{}", units[i])
    }
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A container's id, or an image's name or digest (a container of that id wins).
    #[arg(value_name = "ID|IMAGE")]
    pub image: String,
    /// One line of JSON instead of indented JSON.
    #[arg(long)]
    pub json: bool,
}

/// The one image `query` names, or an error saying why not.
fn find_one(store: &Store, query: &str) -> anyhow::Result<ImageRecord> {
    one(store.find_images(query)?, query)
}

/// The one image of the store's matches `found` for `query`, or an error saying why not.
fn one(mut found: Vec<ImageRecord>, query: &str) -> anyhow::Result<ImageRecord> {
    match found.len() {
        0 => bail!("image {query}: not in the store (pull it first)"),
        1 => Ok(found.remove(0)),
        n => bail!("image {query}: ambiguous, {n} images match"),
    }
}

/// `ucr inspect` of what is not a container (`main.rs` looks for one first).
pub fn inspect(g: &Globals, a: &InspectArgs) -> anyhow::Result<i32> {
    let out = match appc_images::is_appc(&a.image) {
        true => appc_images::inspect(&context::images(g, None)?, &a.image)?,
        false => {
            let store = store(g)?;
            let found = store.find_images(&a.image)?;
            // Neither: the name may have been either (a container removed meanwhile, an image not pulled).
            if found.is_empty() {
                bail!("{}: no such container or image", a.image);
            }
            docker_inspect(&store, one(found, &a.image)?)?
        }
    };
    if a.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(0)
}

fn docker_inspect(store: &Store, rec: ImageRecord) -> anyhow::Result<serde_json::Value> {
    let config = ImageConfig::parse(&store.read_blob(&rec.config_digest)?, &rec.config_digest)?;
    Ok(serde_json::json!({
        "reference": rec.reference,
        "digest": rec.manifest_digest,
        "mediaType": rec.manifest_media_type,
        "index": rec.index_digest,
        "platform": rec.platform,
        "created": rec.created,
        "config": {
            "digest": rec.config_digest,
            "Entrypoint": config.config.entrypoint, "Cmd": config.config.cmd, "Env": config.config.env,
            "WorkingDir": config.config.working_dir, "User": config.config.user,
        },
        "layers": rec.layers,
        "size": rec.size(),
    }))
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn rmi(g: &Globals, a: &RmiArgs) -> anyhow::Result<i32> {
    let store = store(g)?;
    let containers = context::existing(g)?;
    let service = context::images(g, None)?;
    for q in a.images.iter().filter(|q| appc_images::is_appc(q)) {
        let img = appc_images::find(&service, q)?;
        service.remove_appc(&img, &|| in_use(g))?;
        println!("Deleted: {} ({})", img.reference(), img.id());
    }
    let _lock = store.lock_exclusive()?;
    for q in a.images.iter().filter(|q| !appc_images::is_appc(q)) {
        let rec = find_one(&store, q)?;
        // A live container's rootfs (or an image volume's) stands on this image's layers: removing the record
        // would let `prune` pull them out from under it.
        let digest = rec.manifest_digest.to_string();
        let users: Vec<String> = containers
            .all_containers()?
            .into_iter()
            .filter(|c| {
                c.is_live()
                    && (c.image_digest.as_deref() == Some(digest.as_str())
                        || c.volume_images.contains(&digest))
            })
            .map(|c| c.id)
            .collect();
        if !users.is_empty() {
            bail!(
                "image {}: in use by live container(s) {} (remove them first)",
                rec.reference,
                users.join(", ")
            );
        }
        store.remove_image(&rec.reference)?;
        println!("Untagged: {}", rec.reference);
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Also remove images not used by any live container.
    #[arg(long)]
    pub all: bool,
}

pub fn prune(g: &Globals, a: &PruneArgs) -> anyhow::Result<i32> {
    let freed = match a.all {
        true => {
            let pruned = context::images(g, None)?.prune_unused(&|| in_use(g))?;
            for gone in &pruned.images {
                println!("Deleted: {gone}");
            }
            pruned.freed
        }
        false => store(g)?.prune()?,
    };
    println!(
        "Total reclaimed space: {} ({freed} bytes)",
        human_size(freed)
    );
    Ok(0)
}

#[derive(Subcommand, Debug)]
pub enum StoreCmd {
    /// Verify every blob against its digest and every layer and image record.
    Check {
        /// Drop what fails so the next pull fetches it again.
        #[arg(long)]
        repair: bool,
    },
}

pub fn store_cmd(g: &Globals, cmd: &StoreCmd) -> anyhow::Result<i32> {
    let StoreCmd::Check { repair } = cmd;
    let service = context::images(g, None)?;
    let store = service.store()?;
    let rep = store.check(*repair)?;
    for p in &rep.problems {
        println!("{p}");
    }
    let appc = service.appc()?.store().check(*repair)?;
    for p in &appc {
        println!("{}: not a complete AppC image", p.display());
    }
    println!(
        "checked {} blobs, {} layers, {} images: {} problems{}",
        rep.blobs_checked,
        rep.layers_checked,
        rep.images_checked,
        rep.problems.len(),
        if *repair {
            format!(", {} repaired", rep.repaired)
        } else {
            String::new()
        }
    );
    let appc_images = service.appc()?.store().list()?.len();
    if appc_images > 0 || !appc.is_empty() {
        println!("checked {appc_images} AppC images: {} problems", appc.len());
    }
    Ok(if (rep.problems.is_empty() && appc.is_empty()) || *repair {
        0
    } else {
        1
    })
}

#[derive(Args, Debug)]
pub struct UnpackArgs {
    pub image: String,
    pub dir: PathBuf,
}

pub fn unpack(g: &Globals, a: &UnpackArgs) -> anyhow::Result<i32> {
    let store = store(g)?;
    let rec = find_one(&store, &a.image)?;
    store
        .materialize(&rec, &a.dir)
        .with_context(|| format!("unpack {} into {}", rec.reference, a.dir.display()))?;
    Ok(0)
}
