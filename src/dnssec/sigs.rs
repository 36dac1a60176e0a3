//! The RRSIG RDATAs over one RRset, packed into one allocation ([`Sigs`]). A signed zone keeps
//! such signatures for every RRset and every NSEC record: kept as a list of boxed RDATAs behind
//! an `Arc`, one P-256 signature took malloc chunks of 64, 32 and 112 bytes (208 bytes for 97 of
//! signature); packed, one chunk of 112. Readers get each RDATA as a slice ([`SigIter`]), as the
//! response writer and the transfers push them.

/// The RRSIG RDATAs over one RRset (one per signing key): a count byte, then each RDATA after
/// its length (two bytes, big-endian).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sigs(Box<[u8]>);

impl Sigs {
    /// Packs `rdatas` (at most 255, each shorter than 64 KiB: one per key of a zone).
    pub(crate) fn new(rdatas: &[impl AsRef<[u8]>]) -> Sigs {
        let count = u8::try_from(rdatas.len()).expect("at most 255 signatures over an RRset");
        let size = 1 + rdatas.iter().map(|r| 2 + r.as_ref().len()).sum::<usize>();
        let mut packed = Vec::with_capacity(size);
        packed.push(count);
        for rdata in rdatas {
            let rdata = rdata.as_ref();
            let len = u16::try_from(rdata.len()).expect("an RRSIG RDATA is shorter than 64 KiB");
            packed.extend_from_slice(&len.to_be_bytes());
            packed.extend_from_slice(rdata);
        }
        Sigs(packed.into_boxed_slice())
    }

    /// The packed bytes, to be kept as they are (see [`Sigs::as_bytes`]).
    pub(crate) fn into_bytes(self) -> Box<[u8]> {
        self.0
    }

    /// The packed bytes, for a reader that keeps several [`Sigs`] in one allocation: they are
    /// read back with [`SigIter::over`] and [`SigIter::packed_len`].
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The RDATAs of a [`Sigs`] (or of packed bytes in its format), in order; empty by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SigIter<'a> {
    /// The entries not yet read: each a length (two bytes) and an RDATA.
    rest: &'a [u8],
    left: u8,
}

impl<'a> SigIter<'a> {
    /// The signatures packed at the start of `bytes` (in [`Sigs`]' format: a count byte, then
    /// the entries); empty for no bytes.
    pub(crate) fn over(bytes: &'a [u8]) -> SigIter<'a> {
        match bytes.split_first() {
            Some((&left, rest)) => SigIter { rest, left },
            None => SigIter::default(),
        }
    }

    /// How many bytes the packed signatures at the start of `bytes` take: where the next
    /// packed [`Sigs`] starts, when several are kept one after another.
    pub(crate) fn packed_len(bytes: &[u8]) -> usize {
        let mut sigs = SigIter::over(bytes);
        for _ in sigs.by_ref() {}
        bytes.len() - sigs.rest.len()
    }
}

impl<'a> Iterator for SigIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (len, rest) = self.rest.split_first_chunk::<2>()?;
        let (rdata, rest) = rest.split_at(usize::from(u16::from_be_bytes(*len)));
        self.rest = rest;
        Some(rdata)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for SigIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is packed reads back in order, and several packed one after another are told apart.
    #[test]
    fn packed_signatures_read_back() {
        let one = Sigs::new(&[&[1u8, 2, 3][..], &[4u8; 300][..]]);
        let read: Vec<&[u8]> = SigIter::over(one.as_bytes()).collect();
        assert_eq!(read, [&[1u8, 2, 3][..], &[4u8; 300][..]]);
        assert_eq!(SigIter::over(one.as_bytes()).len(), 2);
        let none = Sigs::new(&[] as &[&[u8]]);
        assert_eq!(SigIter::over(none.as_bytes()).count(), 0);
        let mut both = one.as_bytes().to_vec();
        both.extend_from_slice(none.as_bytes());
        assert_eq!(SigIter::packed_len(&both), one.as_bytes().len());
        assert_eq!(SigIter::over(&both[one.as_bytes().len()..]).count(), 0);
        assert_eq!(SigIter::default().count(), 0);
    }
}
