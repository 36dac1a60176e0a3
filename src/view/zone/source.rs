//! What a zone's shared data was built from: its file and `$INCLUDE`s as they stood when read.
//! The snapshot keeps it, so that a reload whose shared files are unchanged takes the built data
//! as it is — an edit beside a zone of a million records parses and builds only what changed.

use std::path::PathBuf;
use std::sync::Arc;

use super::ZoneData;
use crate::dns::name::Name;
use crate::located::Located;
use crate::zonefile::ZoneRecord;

/// A zone's shared data, built once from its file, with what a later load needs of the records
/// without reading them again.
#[derive(Debug, Clone)]
pub(crate) struct SharedBuild {
    /// Lowercased origin.
    pub origin: Name,
    /// The file, then its includes, as read (empty when not built from files: never reused).
    pub read: Vec<FileRead>,
    /// The built data, unsigned (its `content` is set).
    pub data: Arc<ZoneData>,
    /// The apex SOA and NS records as written, in file order: the serial policy and the
    /// zones synthesised for Autodiscover SRV read them.
    pub apex: Vec<ZoneRecord>,
    /// What the checks of the shared data found (errors refuse the zone in every view).
    pub errors: Vec<Located>,
}

impl SharedBuild {
    /// The same build with `data` (the same records) in place of its own.
    pub(crate) fn with_data(&self, data: ZoneData) -> SharedBuild {
        SharedBuild {
            data: Arc::new(data),
            ..self.clone()
        }
    }
}

/// One file a build read.
#[derive(Debug, Clone)]
pub(crate) struct FileRead {
    pub path: PathBuf,
    /// The digest of its bytes as read (`crate::zonefile::digest`).
    pub digest: u64,
    /// Its stamp, when it had not changed for a while before it was read: then an equal stamp
    /// later means the same bytes. `None`: the bytes must be read again and compared.
    pub stamp: Option<FileStamp>,
}

/// A file's identity and state as `stat` gives them: equal stamps mean the same bytes, as for
/// `make` and git's index, unless the file was written within the clock's resolution of being
/// read — so a stamp is only kept for a file last changed well before it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub device: u64,
    pub inode: u64,
    pub len: u64,
    pub modified_ns: i128,
    pub changed_ns: i128,
}
