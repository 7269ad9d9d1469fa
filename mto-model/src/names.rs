//! Kubernetes name rules, as pure checks returning a reason.

/// Longest DNS-1123 label (namespace names, tenant names).
pub const DNS_LABEL_MAX: usize = 63;
/// Longest DNS-1123 subdomain (most object names).
pub const DNS_SUBDOMAIN_MAX: usize = 253;

/// Why `name` is not a DNS-1123 label, or `None` when it is one.
#[must_use]
pub fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > DNS_LABEL_MAX {
        return Some(format!(
            "is {} characters long; at most {DNS_LABEL_MAX} are allowed",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

/// Why `name` is not a DNS-1123 subdomain, or `None` when it is one.
#[must_use]
pub fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.len() > DNS_SUBDOMAIN_MAX {
        return Some(format!(
            "is {} characters long; at most {DNS_SUBDOMAIN_MAX} are allowed",
            name.len()
        ));
    }
    name.split('.')
        .find_map(|part| dns_label_problem(part).map(|p| format!("part {part:?} {p}")))
}

/// Why `key` is not a valid label or annotation key (`[prefix/]name`).
#[must_use]
pub fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && let Some(p) = dns_subdomain_problem(prefix)
    {
        return Some(format!("prefix {prefix:?} {p}"));
    }
    if name.is_empty() || name.len() > 63 {
        return Some("name part must be 1 to 63 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some("name part may hold only letters, digits, '-', '_' and '.'".into());
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Some("name part must start and end with a letter or digit".into());
    }
    None
}

/// Why `value` is not a valid label value.
#[must_use]
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > 63 {
        return Some(format!(
            "is {} characters long; at most 63 are allowed",
            value.len()
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Some("may hold only letters, digits, '-', '_' and '.'".into());
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !edge_ok(value.chars().next()) || !edge_ok(value.chars().last()) {
        return Some("must start and end with a letter or digit".into());
    }
    None
}

/// The DNS-label form of a user name, as used in sandbox namespace names:
/// lowercase, every run of other characters becomes one '-'
/// (`Dave.Smith@example.com` → `dave-smith-example-com`).
#[must_use]
pub fn sanitize_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for c in user.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// `<tenant>-<name>`: a namespace of `spec.namespaces.withTenantPrefix`.
/// Held inline when at most 24 bytes long, and joined without the
/// formatting machinery: every decision names every such namespace.
#[must_use]
pub fn tenant_prefixed(tenant: &str, name: &str) -> compact_str::CompactString {
    let mut out = compact_str::CompactString::with_capacity(tenant.len() + 1 + name.len());
    out.push_str(tenant);
    out.push('-');
    out.push_str(name);
    out
}

/// `<tenant>-<user>-<domain>-sandbox`, named as the Multi-Tenant Operator
/// names it, so that a migrating team finds its sandboxes where they were:
/// an e-mail address loses its top-level domain (`anna@aurora.org` →
/// `<tenant>-anna-aurora-sandbox`, `muhammad.mustafa@stakater.com` →
/// `<tenant>-muhammad-mustafa-stakater-sandbox`); any other user name is
/// used whole.
#[must_use]
pub fn sandbox_namespace(tenant: &str, user: &str) -> String {
    let user = match user.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = domain.rsplit_once('.').map_or(domain, |(rest, _tld)| rest);
            format!("{local}@{domain}")
        }
        None => user.to_owned(),
    };
    format!("{tenant}-{}-sandbox", sanitize_user(&user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label_problem("team-a1"), None);
        assert!(dns_label_problem("Team").is_some());
        assert!(dns_label_problem("-a").is_some());
        assert!(dns_label_problem("").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
        assert_eq!(dns_label_problem(&"a".repeat(63)), None);
    }

    #[test]
    fn qualified_names() {
        assert_eq!(qualified_name_problem("stakater.com/tenant"), None);
        assert_eq!(qualified_name_problem("app"), None);
        assert!(qualified_name_problem("Bad_Prefix/x").is_some());
        assert!(qualified_name_problem("a/").is_some());
        assert!(qualified_name_problem("-x").is_some());
    }

    #[test]
    fn sandbox_names() {
        // The shapes of MTO's published examples.
        assert_eq!(
            sandbox_namespace("bluesky", "anna@aurora.org"),
            "bluesky-anna-aurora-sandbox"
        );
        assert_eq!(
            sandbox_namespace("bluesky", "john@aurora.org"),
            "bluesky-john-aurora-sandbox"
        );
        assert_eq!(
            sandbox_namespace("alpha", "dave@stakater.com"),
            "alpha-dave-stakater-sandbox"
        );
        assert_eq!(
            sandbox_namespace("gabbar", "muhammad.mustafa@stakater.com"),
            "gabbar-muhammad-mustafa-stakater-sandbox"
        );
        // Only the top-level domain goes; a name without one is kept whole.
        assert_eq!(
            sandbox_namespace("alpha", "Dave.Smith@eu.example.co"),
            "alpha-dave-smith-eu-example-sandbox"
        );
        assert_eq!(
            sandbox_namespace("alpha", "root@localhost"),
            "alpha-root-localhost-sandbox"
        );
        assert_eq!(sandbox_namespace("alpha", "ci-bot"), "alpha-ci-bot-sandbox");
        assert_eq!(sanitize_user("--x__y--"), "x-y");
    }
}
