//! What a zone's shared data was built from: its file and `$INCLUDE`s as they stood when read.
//! The snapshot keeps it, so that a reload whose shared files are unchanged takes the built data
//! as it is — an edit beside a zone of a million records parses and builds only what changed.

use std::path::PathBuf;
use std::sync::Arc;

use super::ZoneData;
use super::signed::KeptUnsigned;
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
    data: Unsigned,
    /// The apex SOA and NS records as written, in file order: the serial policy and the
    /// zones synthesised for Autodiscover SRV read them.
    pub apex: Vec<ZoneRecord>,
    /// What the checks of the shared data found (errors refuse the zone in every view).
    pub errors: Vec<Located>,
}

/// The built data, unsigned (its `content` is set).
#[derive(Debug, Clone)]
enum Unsigned {
    Built(Arc<ZoneData>),
    /// Kept by a snapshot that serves it signed (see [`KeptUnsigned`]).
    BesideSigned(Arc<KeptUnsigned>),
    /// Made again from what a previous snapshot kept, for a load.
    Made {
        data: Arc<ZoneData>,
        from: Arc<KeptUnsigned>,
    },
}

impl SharedBuild {
    pub(crate) fn new(
        origin: Name,
        read: Vec<FileRead>,
        data: ZoneData,
        apex: Vec<ZoneRecord>,
        errors: Vec<Located>,
    ) -> SharedBuild {
        SharedBuild {
            origin,
            read,
            data: Unsigned::Built(Arc::new(data)),
            apex,
            errors,
        }
    }

    /// The unsigned data, in a load: every build a load holds was made by it or taken through
    /// [`SharedBuild::for_load`], and only the snapshot it publishes keeps one beside its signed
    /// copy ([`SharedBuild::beside_signed`]).
    pub(crate) fn data(&self) -> &Arc<ZoneData> {
        match &self.data {
            Unsigned::Built(data) | Unsigned::Made { data, .. } => data,
            Unsigned::BesideSigned(_) => {
                panic!("a build kept beside its signed copy is read through for_load")
            }
        }
    }

    /// This build (a previous snapshot's) as a load reads it: its unsigned data made again if it
    /// was kept beside its signed copy.
    pub(crate) fn for_load(self: &Arc<Self>) -> Arc<SharedBuild> {
        match &self.data {
            Unsigned::Built(_) | Unsigned::Made { .. } => self.clone(),
            Unsigned::BesideSigned(kept) => Arc::new(SharedBuild {
                data: Unsigned::Made {
                    data: Arc::new(kept.unsigned()),
                    from: kept.clone(),
                },
                ..SharedBuild::clone(self)
            }),
        }
    }

    /// The same build, its files' stamps as `read` found them.
    pub(crate) fn with_read(&self, read: Vec<FileRead>) -> SharedBuild {
        SharedBuild {
            read,
            ..self.clone()
        }
    }

    /// This build as a snapshot that serves `signed`, the signed copy of `unsigned`, keeps it:
    /// beside that copy (as the previous snapshot kept it, when its signed copy is served as it
    /// was). `None` when its data is not `unsigned` (another zone's, or kept beside its copy
    /// already), or when the copy's names differ from its own.
    pub(crate) fn beside_signed(
        &self,
        unsigned: &Arc<ZoneData>,
        signed: &Arc<ZoneData>,
        origin: &[u8],
    ) -> Option<SharedBuild> {
        let (data, from) = match &self.data {
            Unsigned::Built(data) => (data, None),
            Unsigned::Made { data, from } => (data, Some(from)),
            Unsigned::BesideSigned(_) => return None,
        };
        if !Arc::ptr_eq(data, unsigned) {
            return None;
        }
        let kept = match from.filter(|from| from.beside(signed)) {
            Some(from) => from.clone(),
            None => Arc::new(KeptUnsigned::new(data, signed, origin)?),
        };
        Some(SharedBuild {
            data: Unsigned::BesideSigned(kept),
            ..self.clone()
        })
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
