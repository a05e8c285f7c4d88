//! Mesos's `--image_providers`: the kinds of image a container may have, `docker` (registries, tarballs, OCI
//! archives) and `appc`. Mesos enables none that the flag does not name, so an agent without it refuses every
//! image; ucr enables both unless the flag names fewer, and refuses a container whose image is of a kind left
//! out, before anything of it is fetched.

use super::error::{ImageError, Result};

/// The image providers enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Providers {
    pub docker: bool,
    pub appc: bool,
}

impl Default for Providers {
    fn default() -> Providers {
        Providers {
            docker: true,
            appc: true,
        }
    }
}

impl Providers {
    /// A comma-separated list, as Mesos takes it (`docker,appc`, any case: Mesos's docs write `APPC,DOCKER`).
    pub fn parse(list: &str) -> std::result::Result<Providers, String> {
        let mut p = Providers {
            docker: false,
            appc: false,
        };
        for name in list.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "docker" => p.docker = true,
                "appc" => p.appc = true,
                _ => return Err(format!("unknown image provider {name:?} (docker, appc)")),
            }
        }
        Ok(p)
    }

    /// Whether an image of this kind (`appc`: an AppC image, else a Docker/OCI one) may be provided.
    pub fn check(&self, appc: bool, image: &dyn std::fmt::Display) -> Result<()> {
        let (on, kind) = match appc {
            true => (self.appc, "appc"),
            false => (self.docker, "docker"),
        };
        match on {
            true => Ok(()),
            false => Err(ImageError::ProviderOff {
                image: image.to_string(),
                kind,
                enabled: self.names(),
            }),
        }
    }

    fn names(&self) -> String {
        let on = [(self.docker, "docker"), (self.appc, "appc")];
        let names: Vec<&str> = on.iter().filter(|(o, _)| *o).map(|(_, n)| *n).collect();
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_in_any_case_enables_only_what_it_names() {
        let p = Providers::parse("APPC").expect("valid");
        assert_eq!((p.docker, p.appc), (false, true));
        assert!(p.check(true, &"example.com/app:1").is_ok());
        let e = p.check(false, &"busybox").expect_err("docker is off");
        assert_eq!(
            e.to_string(),
            "busybox: the docker image provider is not enabled (--image_providers=appc)"
        );
        assert_eq!(Providers::parse("docker, appc"), Ok(Providers::default()));
        let e = Providers::parse("docker,rkt").expect_err("unknown");
        assert_eq!(e, "unknown image provider \"rkt\" (docker, appc)");
        assert!(Providers::parse("").is_err());
    }
}
