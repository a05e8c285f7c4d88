//! Two pulls of the same image in one process share one download of each blob (asserted on the second origin
//! that serves the registry's blobs), and both get the same verified record.

use std::sync::Arc;

use ucr_fixtures::image::{busybox_image, ManifestFormat};
use ucr_fixtures::registry::{Registry, REDIRECT_PASS, REDIRECT_USER};
use ucr_registry::auth::{Credential, Credentials};
use ucr_registry::client::{ClientOptions, Registries};
use ucr_registry::pull::{PullOptions, Puller};
use ucr_registry::store::Store;
use ucr_registry::tls::TlsOptions;
use ucr_registry::ImageRef;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_share_one_download() {
    let reg = Registry::tls_with_redirect();
    let img = busybox_image(ManifestFormat::Oci);
    reg.push("share", "1", &img);
    let origin = reg.origin.as_ref().expect("origin");
    origin.clear_requests();
    let dir = tempfile::tempdir_in("/dev/shm").expect("tmp");
    let store = Arc::new(Store::open(dir.path().join("store")).expect("store"));
    let image = ImageRef::parse(&format!("{}/share:1", reg.host)).expect("ref");
    let creds = Credentials {
        explicit: Some((
            reg.host.clone(),
            Credential::parse_user_pass(&format!("{REDIRECT_USER}:{REDIRECT_PASS}"))
                .expect("creds"),
        )),
        ..Credentials::default()
    };
    let tls = TlsOptions {
        ca_files: vec![reg.ca_pem_path.clone().expect("ca")],
        ..TlsOptions::default()
    };
    let puller = Puller::new(
        store.clone(),
        Arc::new(Registries::new(ClientOptions {
            tls,
            credentials: creds,
            ..ClientOptions::default()
        })),
    );
    let opts = PullOptions::default();
    let (a, b) = tokio::join!(
        puller.pull(&image, &opts, &()),
        puller.pull(&image, &opts, &())
    );
    let (a, b) = (a.expect("first pull"), b.expect("second pull"));
    assert_eq!(a.manifest_digest, b.manifest_digest);
    for l in &img.layers {
        let hex = l.digest.trim_start_matches("sha256:");
        let n = origin
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains(hex))
            .count();
        assert_eq!(n, 1, "layer {} downloaded once", l.digest);
    }
    assert!(store.check(false).expect("check").problems.is_empty());
}
