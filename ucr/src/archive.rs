//! `ucr load` and `ucr save`: images from and to files, through the runtime's `Images` service.

use std::path::{Path, PathBuf};

use clap::Args;

use ucr_runtime::registry::archive::{LoadOptions, Selector};
use ucr_runtime::registry::ImageRef;

use crate::appc_images;
use crate::context;
use crate::globals::{Globals, RegistryArgs};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// A `docker save` archive (legacy or manifest.json), an OCI layout tar (gzip/zstd compressed too), a
    /// directory holding either, or an AppC image `FILE.aci` (its `FILE.aci.asc`, if any, is verified).
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

pub fn load(g: &Globals, a: &LoadArgs) -> anyhow::Result<i32> {
    // An ACI (`*.aci`, whatever its compression: appc spec/aci.md names them so) goes to the AppC store.
    if a.path.extension().is_some_and(|e| e == "aci") {
        appc_images::load(&context::images(g, None)?, &a.path, a.quiet)?;
        return Ok(0);
    }
    let images = context::images(
        g,
        Some(&RegistryArgs {
            platform: a.platform.clone(),
            ..RegistryArgs::default()
        }),
    )?;
    let name = a.name.as_deref().map(ImageRef::parse).transpose()?;
    let opts = LoadOptions {
        platform: images.platform().clone(),
        select: a.name.clone().map(Selector::NameOrOnly),
        name,
        ..LoadOptions::default()
    };
    let records = images.load(&a.path, &opts)?;
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

pub fn save(g: &Globals, a: &SaveArgs) -> anyhow::Result<i32> {
    let images = context::images(g, None)?;
    if let [one] = a.images.as_slice() {
        if appc_images::is_appc(one) {
            appc_images::save(&images, one, &a.output)?;
            return Ok(0);
        }
    }
    if a.images.iter().any(|i| appc_images::is_appc(i)) {
        anyhow::bail!(
            "save: an AppC image is saved alone, as its .aci file (one image per `ucr save`)"
        );
    }
    let records = images.save(&a.images, &a.output)?;
    if a.output != Path::new("-") {
        for r in &records {
            eprintln!("Saved image: {} ({})", r.reference, r.manifest_digest);
        }
    }
    Ok(0)
}
