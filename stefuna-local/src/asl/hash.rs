//! The digests `States.Hash` offers (MD5, SHA-1, SHA-256, SHA-384, SHA-512), from RustCrypto.

use sha2::Digest;

/// The hex digest of `data` with `algorithm` as `States.Hash` names it, or `None` for an
/// unknown algorithm.
pub(crate) fn hex_digest(algorithm: &str, data: &[u8]) -> Option<String> {
    let bytes = match algorithm {
        "MD5" => md5::Md5::digest(data).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    };
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(alg: &str, s: &str) -> String {
        hex_digest(alg, s.as_bytes()).unwrap()
    }

    #[test]
    fn standard_test_vectors() {
        assert_eq!(d("MD5", ""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(d("MD5", "abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            d("SHA-1", "abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            d("SHA-256", "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            d("SHA-256", ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            d("SHA-384", "abc"),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            d("SHA-512", "abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }

    #[test]
    fn multi_block_messages() {
        let long = "a".repeat(1000);
        assert_eq!(d("MD5", &long), "cabe45dcc9ae5b66ba86600cca6b8ba8");
        assert_eq!(
            d("SHA-1", &long),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
        assert_eq!(
            d("SHA-256", &long),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
        );
        assert_eq!(
            d("SHA-512", &long),
            "67ba5535a46e3f86dbfbed8cbbaf0125c76ed549ff8b0b9e03e0c88cf90fa634fa7b12b47d77b694de488ace8d9a65967dc96df599727d3292a8d9d447709c97"
        );
    }

    #[test]
    fn unknown_algorithms_are_refused() {
        assert_eq!(hex_digest("SHA-3", b"x"), None);
    }
}
