//! `ucr unpack IMAGE DIR`: the image's merged root filesystem in a plain directory, built from the verified
//! blobs with the same confined applier in merge mode (whiteouts delete, opaque directories clear), so nothing
//! of the store (overlay whiteout devices, xattrs) leaks into DIR.

use std::io::Read;
use std::path::Path;

use super::handle::Store;
use super::images::ImageRecord;
use crate::error::{Error, IoContext, Result};
use crate::unpack::{self, Limits, Mode};

impl Store {
    pub fn materialize(&self, rec: &ImageRecord, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).at(dir)?;
        for l in &rec.layers {
            let p = self.blob_path(&l.digest);
            let mut f = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&p).at(&p)?);
            let mut peek = [0u8; 4];
            let n = f.read(&mut peek).at(&p)?;
            let c = unpack::Compression::sniff(&peek[..n]);
            let r = unpack::decoder(std::io::Cursor::new(peek[..n].to_vec()).chain(f), c).at(&p)?;
            unpack::apply_layer(r, dir, Mode::Merge, &Limits::default()).map_err(|source| {
                Error::Unpack {
                    digest: l.digest.to_string(),
                    source,
                }
            })?;
        }
        Ok(())
    }
}
