//! What a fetch reports as it goes, for a progress bar on a terminal or one JSON event per line (`ucr fetch
//! --json`), and for the lines a launch prints: a download's start (with its size when the server gives one),
//! its progress, each URI's end (from the network, the cache or a local file) and an extraction.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FetchEvent {
    Started {
        uri: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
    },
    Progress {
        uri: String,
        bytes: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        total: Option<u64>,
    },
    Done {
        uri: String,
        bytes: u64,
        from: Origin,
    },
    Extracted {
        uri: String,
        file: String,
    },
}

/// Where a fetched file's bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Network,
    Cache,
    Local,
}

/// Receives the events of a fetch, from the fetching thread.
pub trait FetchObserver: Send + Sync {
    fn on(&self, event: FetchEvent);
}
