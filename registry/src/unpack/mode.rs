//! The two forms a layer is applied in; they differ in what whiteouts and opaque markers become.

/// Where a layer is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Into an empty store layer dir used as an overlayfs lower: whiteouts become 0/0 character devices
    /// and opaque directories get `trusted.overlay.opaque=y`.
    Overlay,
    /// Onto a merged rootfs dir holding the lower layers: a whiteout deletes the path, an opaque marker
    /// deletes the dir's children that came from lower layers (entries of this same layer stay).
    Merge,
}
