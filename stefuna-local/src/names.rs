//! Resource names and ARNs as Step Functions accepts them.

use crate::error::ApiError;

/// The account every ARN is made in.
pub(crate) const ACCOUNT: &str = crate::ACCOUNT_ID;

/// Checks a resource name: 1 to 80 characters, none of whitespace, brackets, wildcards,
/// `"#%\^|~`$&,;:/` or control characters.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let len = name.chars().count();
    if len == 0 || len > 80 {
        return Err(ApiError::new(
            "InvalidName",
            format!("invalid {what} name '{name}': must be 1 to 80 characters, found {len}"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c))
    {
        return Err(ApiError::new(
            "InvalidName",
            format!(
                "invalid {what} name '{name}': character {bad:?} is not allowed (no whitespace, brackets, wildcards, control characters or any of \"#%\\^|~`$&,;:/)"
            ),
        ));
    }
    Ok(())
}

/// An ARN `arn:aws:states:{region}:{account}:{kind}:{rest}`.
pub(crate) fn arn(region: &str, kind: &str, rest: &str) -> String {
    format!("arn:aws:states:{region}:{ACCOUNT}:{kind}:{rest}")
}

/// An execution ARN, `arn:aws:states:{region}:{account}:execution:{machine}:{name}`, built
/// without `format!` (one per StartExecution).
pub(crate) fn execution_arn(region: &str, machine: &str, name: &str) -> String {
    let parts = [
        "arn:aws:states:",
        region,
        ":",
        ACCOUNT,
        ":execution:",
        machine,
        ":",
        name,
    ];
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// Checks an ARN names a resource of `kind` (`activity`, `stateMachine`, `execution`) and gives
/// its resource part.
pub(crate) fn check_arn<'a>(field: &str, kind: &str, value: &'a str) -> Result<&'a str, ApiError> {
    // No allocation: this runs on every request that names a resource.
    let mut parts = value.splitn(7, ':');
    let mut next = || parts.next().unwrap_or("");
    let (arn, partition, service, region, account, k, rest) =
        (next(), next(), next(), next(), next(), next(), next());
    let ok = arn == "arn"
        && partition.starts_with("aws")
        && service == "states"
        && !region.is_empty()
        && !account.is_empty()
        && k == kind
        && !rest.is_empty();
    if !ok {
        return Err(ApiError::new(
            "InvalidArn",
            format!(
                "invalid {field} '{value}': expected an ARN like arn:aws:states:<region>:<account>:{kind}:<name>"
            ),
        ));
    }
    Ok(rest)
}

/// The region part of an ARN.
pub(crate) fn region_of(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap_or("")
}

/// The region of a SigV4 `Authorization` header's credential scope
/// (`Credential=AKID/20260101/us-west-2/states/aws4_request`).
pub(crate) fn region_from_auth(auth: Option<&str>) -> Option<&str> {
    const SIGV4: &str = "AWS4-HMAC-SHA256 Credential=";
    let auth = auth?;
    // The SDKs put the credential first; a substring search is the slow path.
    let cred = match auth.strip_prefix(SIGV4) {
        Some(rest) => rest,
        None => auth.split_once("Credential=")?.1,
    };
    let region = cred.split('/').nth(2)?;
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-');
    valid.then_some(region)
}

/// A random (version 4) UUID from the thread's fast generator rather than the operating
/// system's: no system call per execution name or task token.
pub(crate) fn uuid_v4() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("activity", "hello-world_1").is_ok());
        assert_eq!(check_name("activity", "").unwrap_err().code, "InvalidName");
        assert_eq!(
            check_name("activity", "a b").unwrap_err().code,
            "InvalidName"
        );
        assert_eq!(
            check_name("activity", "a:b").unwrap_err().code,
            "InvalidName"
        );
        assert!(check_name("activity", &"x".repeat(80)).is_ok());
        assert!(check_name("activity", &"x".repeat(81)).is_err());
    }

    #[test]
    fn arns() {
        let a = arn("us-east-1", "activity", "hello");
        assert_eq!(a, "arn:aws:states:us-east-1:123456789012:activity:hello");
        assert_eq!(check_arn("activityArn", "activity", &a).unwrap(), "hello");
        assert_eq!(
            check_arn("activityArn", "stateMachine", &a)
                .unwrap_err()
                .code,
            "InvalidArn"
        );
        assert!(check_arn("activityArn", "activity", "nope").is_err());
        assert!(
            check_arn(
                "activityArn",
                "activity",
                "arn:aws:states:us-east-1:1:activity:"
            )
            .is_err()
        );
        assert!(check_arn("activityArn", "activity", "arn:aws:states::1:activity:x").is_err());
        let e = arn("us-east-1", "execution", "sm:run1");
        assert_eq!(execution_arn("us-east-1", "sm", "run1"), e);
        assert_eq!(
            check_arn("executionArn", "execution", &e).unwrap(),
            "sm:run1"
        );
    }

    #[test]
    fn region() {
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/states/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(region_from_auth(Some(h)), Some("us-west-2"));
        assert_eq!(region_from_auth(Some("Bearer x")), None);
        assert_eq!(region_from_auth(None), None);
        let moved = "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=AKID/20260101/eu-west-1/states/aws4_request";
        assert_eq!(region_from_auth(Some(moved)), Some("eu-west-1"));
        let bad = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us east/states/aws4_request";
        assert_eq!(region_from_auth(Some(bad)), None);
    }

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let (a, b) = (uuid_v4(), uuid_v4());
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }
}
