//! The worker's identity: the name sent with `GetActivityTask`.

/// The longest worker name Step Functions accepts.
pub(crate) const MAX_WORKER_NAME_CHARS: usize = 80;

/// `{name}-{hostname}-{pid}`, cut to 80 characters (the limit of `GetActivityTask`'s
/// `workerName`), on a character boundary.
pub(crate) fn worker_name(base: &str) -> String {
    let host = gethostname::gethostname();
    compose(base, &host.to_string_lossy(), std::process::id())
}

fn compose(base: &str, host: &str, pid: u32) -> String {
    let mut name = format!("{base}-{host}-{pid}");
    stefuna_core::truncate_chars(&mut name, MAX_WORKER_NAME_CHARS);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_joins_base_host_and_pid() {
        assert_eq!(
            compose("StefunaWorker", "box1", 42),
            "StefunaWorker-box1-42"
        );
        let own = worker_name("W");
        assert!(own.starts_with("W-"), "{own}");
        assert!(own.ends_with(&format!("-{}", std::process::id())) || own.chars().count() == 80);
    }

    #[test]
    fn long_names_are_cut_to_80_characters() {
        let n = compose(&"é".repeat(100), "host", 1);
        assert_eq!(n.chars().count(), 80);
        assert!(n.chars().all(|c| c == 'é'));
    }
}
