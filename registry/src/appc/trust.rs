//! Signature policy and OpenPGP verification of AppC images (appc `spec/aci.md`, "Signatures": an
//! ASCII-armoured detached signature `.aci.asc` over the ACI file as served), with `pgp` (rpgp, pure Rust).
//!
//! Trust is rkt's layout under `--appc_trust_dir`: keys in `root.d/` (and files directly in the directory)
//! are trusted for every image; keys in `prefix.d/<prefix>/` (the prefix spelled as directories:
//! `prefix.d/example.com/worker/`) only for names starting with that prefix. A key file holds one or more
//! public keys, armoured or binary. A signature made by a signing subkey verifies through its key.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::types::{KeyDetails, VerifyingKey};

use super::error::{AppcError, Result};
use super::transport::Location;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Require,
    IfPresent,
    Ignore,
}

impl Policy {
    pub fn parse(s: &str) -> Result<Policy> {
        match s {
            "require" => Ok(Policy::Require),
            "if-present" => Ok(Policy::IfPresent),
            "ignore" => Ok(Policy::Ignore),
            _ => Err(AppcError::Option {
                flag: "--appc_signature_policy",
                value: s.to_string(),
                why: "expected require, if-present or ignore".into(),
            }),
        }
    }

    /// The default: require over plain HTTP (anyone on the path can change the bytes), if-present over HTTPS
    /// and for local files.
    pub fn default_for(loc: &Location) -> Policy {
        match loc {
            Location::Url(u) if u.scheme() == "http" => Policy::Require,
            _ => Policy::IfPresent,
        }
    }
}

struct Key {
    key: SignedPublicKey,
    /// None: trusted for every image.
    prefix: Option<String>,
}

pub struct Trust {
    dir: PathBuf,
    keys: Vec<Key>,
}

impl Trust {
    /// Reads every key under `dir` (missing: no key is trusted).
    pub fn load(dir: &Path) -> Result<Trust> {
        let mut keys = Vec::new();
        if dir.is_dir() {
            read_keys(dir, None, false, &mut keys)?;
            read_keys(&dir.join("root.d"), None, false, &mut keys)?;
            read_keys(&dir.join("prefix.d"), Some(String::new()), true, &mut keys)?;
        }
        Ok(Trust {
            dir: dir.to_path_buf(),
            keys,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some key is trusted for images named `image`.
    pub fn trusts(&self, image: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.prefix.as_deref().is_none_or(|p| image.starts_with(p)))
    }

    /// Verifies the armoured detached signature `sig` over the file `data` for image `image` (its AppC
    /// name); returns the fingerprint of the key that verified it.
    pub fn verify(&self, image: &str, data: &Path, sig: &[u8]) -> Result<String> {
        let bad = |why: String| AppcError::Signature {
            image: image.to_string(),
            why,
        };
        let (sig, _) = DetachedSignature::from_armor_single(sig)
            .map_err(|e| bad(format!("not an armoured OpenPGP signature: {e}")))?;
        let issuers: Vec<String> = sig
            .signature
            .issuer_key_id()
            .iter()
            .map(|k| k.to_string())
            .collect();
        let trusted: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| k.prefix.as_deref().is_none_or(|p| image.starts_with(p)))
            .collect();
        if trusted.is_empty() {
            return Err(bad(format!(
                "no key in --appc_trust_dir {} is trusted for {image}",
                self.dir.display()
            )));
        }
        let mut tried = false;
        for k in trusted {
            let fingerprint = format!("{:X}", k.key.primary_key.fingerprint());
            let mut ok = verifies(
                &sig.signature,
                &k.key.primary_key,
                data,
                &issuers,
                &mut tried,
            );
            for sub in &k.key.public_subkeys {
                ok = ok.or_else(|_| verifies(&sig.signature, &sub.key, data, &issuers, &mut tried));
            }
            match ok {
                Ok(()) => return Ok(fingerprint),
                Err(Some(e)) => return Err(bad(format!("{}: {e}", data.display()))),
                Err(None) => {}
            }
        }
        Err(bad(match tried {
            true => format!("bad signature by key {}", issuers.join(", ")),
            false => format!(
                "made by key {}, which --appc_trust_dir {} does not trust for {image}",
                if issuers.is_empty() {
                    "<unnamed>".to_string()
                } else {
                    issuers.join(", ")
                },
                self.dir.display()
            ),
        }))
    }

    /// Stores an armoured public key (from `ac-discovery-pubkeys`, when the operator allows it) as
    /// `DIR/prefix.d/<prefix>/<fingerprint>.asc`, written to a temporary file and renamed; returns the
    /// fingerprint.
    pub fn add(dir: &Path, prefix: &str, armored: &[u8]) -> Result<String> {
        let bad = |why: String| AppcError::Trust {
            path: dir.to_path_buf(),
            why,
        };
        let (key, _) = SignedPublicKey::from_armor_single(armored)
            .map_err(|e| bad(format!("not an armoured public key: {e}")))?;
        let fp = format!("{:X}", key.primary_key.fingerprint());
        let sub = dir.join("prefix.d").join(prefix);
        std::fs::create_dir_all(&sub).map_err(|e| bad(format!("{}: {e}", sub.display())))?;
        let dest = sub.join(format!("{fp}.asc"));
        // Unique per call: two launches that trust the same key at once each write their own file, where one
        // shared name let the second truncate the first's after its rename, under `dest`.
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        let tmp = sub.join(format!(".{fp}.{}.{n}.tmp", std::process::id()));
        let written = std::fs::write(&tmp, armored).and_then(|()| std::fs::rename(&tmp, &dest));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(|e| bad(format!("{}: {e}", dest.display())))?;
        Ok(fp)
    }
}

/// Whether `key` made `sig` over the file `data`: Ok, or Err(None) when it did not (or is not the issuer the
/// signature names, so it was not tried), Err(Some) when the file cannot be read.
fn verifies<K: VerifyingKey + KeyDetails>(
    sig: &pgp::packet::Signature,
    key: &K,
    data: &Path,
    issuers: &[String],
    tried: &mut bool,
) -> std::result::Result<(), Option<std::io::Error>> {
    if !issuers.is_empty() && !issuers.contains(&key.legacy_key_id().to_string()) {
        return Err(None);
    }
    *tried = true;
    let file = std::fs::File::open(data).map_err(Some)?;
    sig.verify(key, BufReader::with_capacity(1 << 20, file))
        .map_err(|_| None)
}

/// The keys of the files in `dir` (and, with `recurse`, below it, the prefix being the path under `prefix.d`).
fn read_keys(dir: &Path, prefix: Option<String>, recurse: bool, out: &mut Vec<Key>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            if recurse {
                let sub = match &prefix {
                    Some(pre) if !pre.is_empty() => format!("{pre}/{name}"),
                    _ => name,
                };
                read_keys(&p, Some(sub), true, out)?;
            }
            continue;
        }
        let bad = |why: String| AppcError::Trust {
            path: p.clone(),
            why,
        };
        let file = std::fs::File::open(&p).map_err(|e| bad(e.to_string()))?;
        let (keys, _) = SignedPublicKey::from_reader_many(file)
            .map_err(|e| bad(format!("not an OpenPGP public key file: {e}")))?;
        for k in keys {
            let key = k.map_err(|e| bad(format!("unreadable key: {e}")))?;
            out.push(Key {
                key,
                prefix: prefix.clone().filter(|p| !p.is_empty()),
            });
        }
    }
    Ok(())
}
