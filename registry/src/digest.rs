//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`): validated on parse so a digest can be used safely as a
//! file name, and a streaming verifier that checks both digest and size.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algo: Algo,
    hex: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    Sha256,
    Sha512,
}

impl Algo {
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Algo::Sha256 => 64,
            Algo::Sha512 => 128,
        }
    }
}

impl Digest {
    pub fn algo(&self) -> Algo {
        self.algo
    }
    /// The lowercase hex part; safe as a single path component (validated on construction).
    pub fn hex(&self) -> &str {
        &self.hex
    }
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest {
            algo: Algo::Sha256,
            hex: hex::encode(Sha256::digest(data)),
        }
    }
    pub fn sha512_of(data: &[u8]) -> Digest {
        Digest {
            algo: Algo::Sha512,
            hex: hex::encode(Sha512::digest(data)),
        }
    }
    pub fn of(algo: Algo, data: &[u8]) -> Digest {
        match algo {
            Algo::Sha256 => Self::sha256_of(data),
            Algo::Sha512 => Self::sha512_of(data),
        }
    }
    /// Fails with a `Verify` error naming `what` if `data` does not hash to this digest.
    pub fn verify(&self, what: &'static str, data: &[u8]) -> Result<()> {
        let got = Digest::of(self.algo, data);
        if &got != self {
            return Err(Error::Verify {
                what,
                digest: self.to_string(),
                why: format!("content hashes to {got}"),
            });
        }
        Ok(())
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest> {
        let bad = |why: &str| Error::Verify {
            what: "digest",
            digest: s.to_string(),
            why: why.to_string(),
        };
        let (algo, hex) = s.split_once(':').ok_or_else(|| bad("expected ALGO:HEX"))?;
        let algo = match algo {
            "sha256" => Algo::Sha256,
            "sha512" => Algo::Sha512,
            _ => return Err(bad("unsupported algorithm (sha256 and sha512 are)")),
        };
        if hex.len() != algo.hex_len()
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad("malformed hex"));
        }
        Ok(Digest {
            algo,
            hex: hex.to_string(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hasher for one digest algorithm.
#[derive(Clone)]
pub enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algo: Algo) -> Hasher {
        match algo {
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest {
                algo: Algo::Sha256,
                hex: hex::encode(h.finalize()),
            },
            Hasher::Sha512(h) => Digest {
                algo: Algo::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

/// A `Read` adapter that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: std::io::Read> HashingReader<R> {
    pub fn new(inner: R, algo: Algo) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(algo),
            count: 0,
        }
    }
    /// Reads the rest of the stream (so the digest covers every byte) and returns digest and size.
    pub fn finish(mut self) -> std::io::Result<(Digest, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok((self.hasher.finish(), self.count))
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .expect("ok");
        assert_eq!(d, Digest::sha256_of(b""));
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!("md5:e3b0c44298fc1c149afbf4c8996fb924"
            .parse::<Digest>()
            .is_err());
        assert!(
            "sha256:../../../../etc/passwd0000000000000000000000000000000000000000000000"
                .parse::<Digest>()
                .is_err()
        );
        assert!(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
                .parse::<Digest>()
                .is_err()
        );
    }

    #[test]
    fn verify_reports_mismatch() {
        let d = Digest::sha256_of(b"a");
        assert!(d.verify("blob", b"a").is_ok());
        let e = d.verify("blob", b"b").expect_err("mismatch");
        assert!(e.to_string().contains(&d.to_string()));
    }
}
