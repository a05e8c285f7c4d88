//! The AppC side of the image commands: what `pull`, `images`, `inspect`, `rmi`, `store check`, `load` and
//! `save` print or do for AppC images (`appc:NAME[:VERSION]` or `sha512-…` ids), over the runtime's
//! `Images` service.

use std::path::Path;

use anyhow::Context;
use ucr_runtime::images::Images;
use ucr_runtime::registry::appc::pull::Provided;
use ucr_runtime::registry::appc::store::AppcImage;

/// Whether `query` can only name an AppC image.
pub fn is_appc(query: &str) -> bool {
    query.starts_with("appc:") || query.starts_with("sha512-")
}

pub fn print_pulled(p: &Provided, json: bool) {
    if json {
        for i in &p.chain {
            println!(
                "{}",
                serde_json::json!({"event": "pulled", "reference": i.reference(), "digest": i.id(),
                                   "source": i.record.source, "signed_by": i.record.signed_by})
            );
        }
    } else {
        println!("{}", p.image.id());
    }
}

/// `ucr images` rows: (repository, tag, digest, size, created).
pub fn rows(images: &Images) -> anyhow::Result<Vec<[String; 5]>> {
    let puller = images.appc()?;
    let mut out = Vec::new();
    for i in puller.store().list()? {
        let tag = i.manifest.version().unwrap_or("<none>").to_string();
        let created = i
            .manifest
            .annotations
            .iter()
            .find(|a| a.name == "created")
            .map_or("-".to_string(), |a| a.value.clone());
        out.push([
            format!("appc:{}", i.manifest.name),
            tag,
            i.id().to_string(),
            i.record.size.to_string(),
            created,
        ]);
    }
    Ok(out)
}

pub fn json(i: &AppcImage) -> serde_json::Value {
    serde_json::json!({
        "reference": i.reference(), "digest": i.id(), "size": i.record.size,
        "source": i.record.source, "compression": i.record.compression,
        "signed_by": i.record.signed_by, "pulled_at": i.record.fetched_at,
    })
}

/// `ucr inspect` of an AppC image: its record and manifest.
pub fn inspect(images: &Images, query: &str) -> anyhow::Result<serde_json::Value> {
    let img = find(images, query)?;
    let mut out = json(&img);
    out["manifest"] = serde_json::to_value(&img.manifest)?;
    out["dependencies"] = serde_json::to_value(ucr_runtime::images::appc_gc::closure(
        images.appc()?.store(),
        &[img.id().to_string()],
    )?)?;
    Ok(out)
}

pub fn find(images: &Images, query: &str) -> anyhow::Result<AppcImage> {
    images
        .find_appc(query)?
        .with_context(|| format!("image {query}: not in the AppC store (pull it first)"))
}

/// `ucr load FILE.aci`.
pub fn load(images: &Images, path: &Path, quiet: bool) -> anyhow::Result<()> {
    let img = images.appc()?.load(path)?;
    match quiet {
        true => println!("{}", img.reference()),
        false => println!("Loaded image: {} ({})", img.reference(), img.id()),
    }
    Ok(())
}

/// `ucr save appc:… -o FILE.aci`: the ACI exactly as it was fetched, so its id is the same when loaded again.
pub fn save(images: &Images, query: &str, out: &Path) -> anyhow::Result<()> {
    let img = find(images, query)?;
    let from = images.appc()?.store().aci_file(img.id());
    if out == Path::new("-") {
        let mut f = std::fs::File::open(&from).with_context(|| from.display().to_string())?;
        std::io::copy(&mut f, &mut std::io::stdout().lock())?;
        return Ok(());
    }
    let tmp = out.with_extension("aci.partial");
    std::fs::copy(&from, &tmp).with_context(|| format!("save {query} to {}", out.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("save {query} to {}", out.display()))?;
    eprintln!("Saved image: {} ({})", img.reference(), img.id());
    Ok(())
}
