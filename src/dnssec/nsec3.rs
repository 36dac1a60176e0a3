//! NSEC3 hashing (RFC 5155 §5) with RFC 9276's parameters: SHA-1, no extra iterations, no salt,
//! no opt-out. The hashed owner names and the NSEC3 and NSEC3PARAM RDATA the signer writes, and
//! the hash the answer path computes for each name it must prove absent.

use crate::dns::bitmap;

/// SHA-1, the one hash algorithm NSEC3 defines.
const HASH_SHA1: u8 = 1;
/// The length of a hash, and of the hashed owner's label once in base32hex.
pub(crate) const HASH_LEN: usize = 20;
pub(crate) const LABEL_LEN: usize = 32;

/// The hash of a wire name: SHA-1 over the name in canonical form (lowercased) and the (empty)
/// salt, iterated no further (RFC 9276 §3.1).
pub(crate) fn hash(name: &[u8]) -> [u8; HASH_LEN] {
    let mut lowered = [0u8; 255];
    let lowered = &mut lowered[..name.len()];
    lowered.copy_from_slice(name);
    lowered.make_ascii_lowercase();
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, lowered);
    digest.as_ref().try_into().expect("SHA-1 is 20 octets")
}

/// The hashed owner name of `hash` in the zone `origin` (wire): its base32hex label, lowercased
/// (the order of the labels is the order of the hashes), then the origin.
pub(crate) fn owner(hash: &[u8; HASH_LEN], origin: &[u8]) -> Box<[u8]> {
    let mut owner = Vec::with_capacity(1 + LABEL_LEN + origin.len());
    owner.push(LABEL_LEN as u8);
    owner.extend(
        data_encoding::BASE32HEX_NOPAD
            .encode(hash)
            .bytes()
            .map(|b| b.to_ascii_lowercase()),
    );
    owner.extend_from_slice(origin);
    owner.into_boxed_slice()
}

/// The NSEC3 RDATA of a name whose successor in hash order is `next`, with `types` (sorted or
/// not) in its bitmap.
pub(crate) fn rdata(next: &[u8; HASH_LEN], types: &mut Vec<u16>) -> Vec<u8> {
    let mut rdata = vec![HASH_SHA1, 0, 0, 0, 0, HASH_LEN as u8];
    rdata.extend_from_slice(next);
    bitmap::encode(types, &mut rdata);
    rdata
}

/// The NSEC3PARAM RDATA: SHA-1, flags 0, no iterations, no salt.
pub(crate) const PARAM_RDATA: [u8; 5] = [HASH_SHA1, 0, 0, 0, 0];

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5155 Appendix A uses a salt and 12 iterations; with neither, the values below are
    /// what `knsec3hash - 1 0 example` (Knot) and `nsec3hash - 1 0 example` (BIND) print.
    #[test]
    fn hashes_as_knot_and_bind_do() {
        let origin = b"\x07example\x00";
        let label = |name: &[u8]| {
            let owner = owner(&hash(name), origin);
            String::from_utf8(owner[1..1 + LABEL_LEN].to_vec()).unwrap()
        };
        assert_eq!(
            label(b"\x07example\x00"),
            "3msev9usmd4br9s97v51r2tdvmr9iqo1"
        );
        assert_eq!(
            label(b"\x01a\x07example\x00"),
            "6cd522290vma0nr8lqu1ivtcofj94rga"
        );
    }

    #[test]
    fn rdata_carries_the_parameters_and_the_bitmap() {
        let rdata = rdata(&[0xab; HASH_LEN], &mut vec![1, 46]);
        assert_eq!(&rdata[..6], &[1, 0, 0, 0, 0, 20]);
        assert_eq!(&rdata[6..26], &[0xab; 20]);
        assert_eq!(&rdata[26..], &[0, 6, 0x40, 0, 0, 0, 0, 0x02]);
    }
}
